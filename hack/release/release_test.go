package release_test

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
)

// Versions of the tools hack/releasebin/*/go.mod pin; the cached binaries are named after them.
// TestToolVersions keeps them in step with those files.
const (
	goreleaserVersion = "v2.17.0"
	krewVersion       = "v0.4.3"
)

const (
	buildCommand = "hack/releasebin/build.sh"
	pluginName   = "asmfed"
	binary       = "kubectl-asmfed"
	// downloads is where the release's archives are published, as the manifest names them.
	downloads = "https://github.com/asmfed/kubectl-asmfed/releases/download/"
)

// platforms are the os/arch pairs .goreleaser.yaml builds, each of which the manifest must
// select exactly once.
var platforms = []string{"darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64", "windows/amd64", "windows/arm64"}

type tools struct{ goreleaser, krew, validator string }

// findTools returns the cached tools, or skips (fails with ASMFED_REQUIRE_TESTENV=1) saying how to
// build them.
func findTools(t *testing.T) tools {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no release tools")
	}
	dir := filepath.Join(testenv.CacheDir(), "bin")
	tl := tools{
		goreleaser: filepath.Join(dir, "goreleaser-"+goreleaserVersion),
		krew:       filepath.Join(dir, "krew-"+krewVersion),
		validator:  filepath.Join(dir, "validate-krew-manifest-"+krewVersion),
	}
	var missing []string
	for _, p := range []string{tl.goreleaser, tl.krew, tl.validator} {
		if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("release tools not found: %s; build them from the repository root with `%s` "+
			"(about 10 min cold on 2 cores, instant when cached; %s moves the cache)",
			strings.Join(missing, ", "), buildCommand, testenv.EnvCache)
		if os.Getenv(testenv.EnvRequire) == "1" {
			t.Fatalf("%s (%s=1 makes this a failure)", msg, testenv.EnvRequire)
		}
		t.Skip(msg)
	}
	return tl
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func run(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestToolVersions keeps the versions above in step with the modules build.sh builds from.
func TestToolVersions(t *testing.T) {
	for _, tc := range []struct{ gomod, module, want string }{
		{"../releasebin/goreleaser/go.mod", "github.com/goreleaser/goreleaser/v2", goreleaserVersion},
		{"../releasebin/krew/go.mod", "sigs.k8s.io/krew", krewVersion},
	} {
		data, err := os.ReadFile(tc.gomod)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(tc.module) + `\s+(\S+)`)
		m := re.FindSubmatch(data)
		if m == nil || string(m[1]) != tc.want {
			t.Errorf("%s pins %s %q, the test expects %s: update the constant", tc.gomod, tc.module, m, tc.want)
		}
	}
}

// TestGoreleaserCheck is `goreleaser check`: the configuration parses, uses no deprecated or
// unknown field, and its templates are well formed.
func TestGoreleaserCheck(t *testing.T) {
	tl := findTools(t)
	out, err := run(t, repoRoot(t), nil, tl.goreleaser, "check", "--config", ".goreleaser.yaml")
	if err != nil {
		t.Fatalf("goreleaser check: %v\n%s", err, out)
	}
	t.Logf("goreleaser check:\n%s", out)
}

// TestKrewManifest makes a snapshot release with GoReleaser from .goreleaser.yaml (the stand-in
// binary of ./hack/release/stub in place of the plugin's main package, no before hooks, dist in a
// temporary directory: nothing else changed), checks every archive's layout, and has krew's own
// validator check the krew manifest GoReleaser wrote and install every platform it lists from the
// archives, served on loopback where the release would publish them. Broken variants of the
// manifest must be refused.
func TestKrewManifest(t *testing.T) {
	tl := findTools(t)
	root := repoRoot(t)
	work := t.TempDir()
	dist := filepath.Join(work, "dist")

	config := snapshotConfig(t, filepath.Join(root, ".goreleaser.yaml"), dist)
	cfgFile := filepath.Join(work, "goreleaser.yaml")
	if err := os.WriteFile(cfgFile, config, 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := run(t, root, []string{"GOTOOLCHAIN=local", "GOWORK=off", "CGO_ENABLED=0"},
		tl.goreleaser, "release", "--snapshot", "--skip=publish,before", "--config", cfgFile)
	if err != nil {
		t.Fatalf("goreleaser release --snapshot: %v\n%s", err, out)
	}
	t.Logf("snapshot release in %v", time.Since(start).Round(time.Millisecond))

	manifestData, err := os.ReadFile(filepath.Join(dist, "krew", pluginName+".yaml"))
	if err != nil {
		t.Fatalf("GoReleaser wrote no krew manifest: %v\n%s", err, out)
	}
	t.Logf("krew manifest:\n%s", manifestData)
	var manifest map[string]any
	if err := yaml.Unmarshal(manifestData, &manifest); err != nil {
		t.Fatal(err)
	}

	t.Run("archives", func(t *testing.T) {
		plats := platformList(t, manifest)
		if len(plats) != len(platforms) {
			t.Errorf("the manifest lists %d platforms, want %d (%v)", len(plats), len(platforms), platforms)
		}
		selected := map[string]int{}
		for _, p := range plats {
			sel, _ := p["selector"].(map[string]any)
			labels, _ := sel["matchLabels"].(map[string]any)
			selected[fmt.Sprintf("%v/%v", labels["os"], labels["arch"])]++
		}
		for _, pl := range platforms {
			if selected[pl] != 1 {
				t.Errorf("%s is selected by %d platforms of the manifest, want 1", pl, selected[pl])
			}
		}
		sums := checksums(t, filepath.Join(dist, "checksums.txt"))
		for _, p := range plats {
			uri, _ := p["uri"].(string)
			name, ok := strings.CutPrefix(uri, downloads)
			if !ok || strings.Count(name, "/") != 1 {
				t.Errorf("uri %q is not a release download (%s<tag>/<archive>)", uri, downloads)
				continue
			}
			archive := name[strings.Index(name, "/")+1:]
			if p["sha256"] != sums[archive] {
				t.Errorf("%s: manifest sha256 %v, checksums.txt %s", archive, p["sha256"], sums[archive])
			}
			bin, _ := p["bin"].(string)
			if err := checkArchive(filepath.Join(dist, archive), bin); err != nil {
				t.Error(err)
			}
		}
	})

	srv := httptest.NewServer(http.FileServer(http.Dir(dist)))
	t.Cleanup(srv.Close)

	t.Run("krew validates and installs every platform", func(t *testing.T) {
		out, err := validate(t, tl, manifest, srv.URL)
		if err != nil {
			t.Fatalf("validate-krew-manifest refused the manifest: %v\n%s", err, out)
		}
		if want := fmt.Sprintf("all %d spec.platforms installed fine", len(platforms)); !strings.Contains(out, want) {
			t.Fatalf("validate-krew-manifest did not say %q:\n%s", want, out)
		}
		t.Logf("validate-krew-manifest:\n%s", out)
	})

	broken := []struct {
		name   string
		change func(m map[string]any)
		want   string // in validate-krew-manifest's output
	}{
		{
			name:   "bin path not in the archive",
			change: func(m map[string]any) { platformList(t, m)[0]["bin"] = "bin/" + binary },
			want:   "cannot be found in extracted archive",
		},
		{
			name:   "platform without a selector",
			change: func(m map[string]any) { delete(platformList(t, m)[1], "selector") },
			want:   "nil selector is not supported",
		},
		{
			name: "two platforms selecting the same os/arch",
			change: func(m map[string]any) {
				ps := platformList(t, m)
				ps[0]["selector"] = ps[1]["selector"]
			},
			want: "overlapping platform selectors",
		},
		{
			name:   "sha256 of another archive",
			change: func(m map[string]any) { ps := platformList(t, m); ps[0]["sha256"] = ps[1]["sha256"] },
			want:   "checksum does not match",
		},
		{
			name:   "wrong plugin name",
			change: func(m map[string]any) { m["metadata"].(map[string]any)["name"] = "asm-fed" },
			want:   `plugin should be named "asmfed"`,
		},
	}
	for _, tc := range broken {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			m := deepCopy(t, manifest)
			tc.change(m)
			out, err := validate(t, tl, m, srv.URL)
			if err == nil {
				t.Fatalf("validate-krew-manifest accepted a broken manifest:\n%s", out)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("validate-krew-manifest failed without %q:\n%s", tc.want, out)
			}
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, tc.want) {
					t.Logf("refused: %s", strings.TrimSpace(line))
					break
				}
			}
		})
	}
}

// snapshotConfig is .goreleaser.yaml with the stand-in main package, without before hooks, and
// with its dist directory set.
func snapshotConfig(t *testing.T, path, dist string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	builds, _ := cfg["builds"].([]any)
	if len(builds) != 1 {
		t.Fatalf(".goreleaser.yaml has %d builds; the test replaces the main package of exactly one", len(builds))
	}
	build := builds[0].(map[string]any)
	if build["main"] != "./cmd/kubectl-asmfed" {
		t.Fatalf("builds[0].main is %v, want ./cmd/kubectl-asmfed", build["main"])
	}
	build["main"] = "./hack/release/stub"
	delete(cfg, "before")
	cfg["dist"] = dist
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// validate runs krew's validate-krew-manifest on m, its archive URIs pointed at base, with a
// kubectl on PATH that is only `kubectl krew`. It returns the validator's output.
func validate(t *testing.T, tl tools, m map[string]any, base string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	m = deepCopy(t, m)
	for _, p := range platformList(t, m) {
		if uri, ok := p["uri"].(string); ok {
			if name, ok := strings.CutPrefix(uri, downloads); ok {
				p["uri"] = base + "/" + name[strings.Index(name, "/")+1:]
			}
		}
	}
	data, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, pluginName+".yaml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	shim := "#!/bin/sh\n[ \"$1\" = krew ] && shift\nexec '" + tl.krew + "' \"$@\"\n"
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "kubectl"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tl.validator, "-manifest", file)
	cmd.Env = []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// checkArchive checks the layout krew installs from: the binary (with .exe on Windows) at the
// archive's root, executable, beside LICENSE; no directories.
func checkArchive(path, bin string) error {
	name := filepath.Base(path)
	entries, err := listArchive(path)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var names []string
	found := map[string]bool{}
	for _, e := range entries {
		names = append(names, e.name)
		if strings.Contains(strings.TrimSuffix(e.name, "/"), "/") || strings.HasSuffix(e.name, "/") {
			return fmt.Errorf("%s: %s is not at the archive's root; the binary and LICENSE must be", name, e.name)
		}
		found[e.name] = true
		if e.name == bin && !strings.HasSuffix(name, ".zip") && e.mode&0o111 == 0 {
			return fmt.Errorf("%s: %s is not executable (mode %o)", name, e.name, e.mode)
		}
	}
	want := binary
	if strings.Contains(name, "_windows_") {
		want += ".exe"
	}
	if bin != want {
		return fmt.Errorf("%s: the manifest's bin is %q, want %q", name, bin, want)
	}
	for _, f := range []string{want, "LICENSE"} {
		if !found[f] {
			return fmt.Errorf("%s: no %s at its root (it holds %s)", name, f, strings.Join(names, ", "))
		}
	}
	return nil
}

type entry struct {
	name string
	mode os.FileMode
}

func listArchive(path string) ([]entry, error) {
	if strings.HasSuffix(path, ".zip") {
		r, err := zip.OpenReader(path)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		var out []entry
		for _, f := range r.File {
			out = append(out, entry{f.Name, f.Mode()})
		}
		return out, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	var out []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, entry{h.Name, os.FileMode(h.Mode)})
	}
}

// TestCheckArchiveRefuses shows the layout check failing on archives krew would not install from.
func TestCheckArchiveRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]int64 // name → mode
		want  string
	}{
		{"binary in a directory", map[string]int64{"kubectl-asmfed_v1_linux_amd64/kubectl-asmfed": 0o755, "LICENSE": 0o644}, "not at the archive's root"},
		{"no LICENSE", map[string]int64{binary: 0o755, "README.md": 0o644}, "no LICENSE"},
		{"binary not executable", map[string]int64{binary: 0o644, "LICENSE": 0o644}, "not executable"},
		{"no binary", map[string]int64{"LICENSE": 0o644}, "no kubectl-asmfed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kubectl-asmfed_v1_linux_amd64.tar.gz")
			writeTarGz(t, path, tc.files)
			err := checkArchive(path, binary)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("checkArchive = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func writeTarGz(t *testing.T, path string, files map[string]int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: files[n], Size: 1, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte{'x'}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
}

func platformList(t *testing.T, m map[string]any) []map[string]any {
	t.Helper()
	spec, _ := m["spec"].(map[string]any)
	raw, _ := spec["platforms"].([]any)
	var out []map[string]any
	for _, p := range raw {
		pm, ok := p.(map[string]any)
		if !ok {
			t.Fatalf("spec.platforms holds %T", p)
		}
		out = append(out, pm)
	}
	return out
}

func checksums(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("checksums.txt line %q", line)
		}
		out[name] = sum
		// The sum is that of the file GoReleaser published beside it.
		if got := fileSHA256(t, filepath.Join(filepath.Dir(path), name)); got != sum {
			t.Errorf("checksums.txt says %s for %s, the file's is %s", sum, name, got)
		}
	}
	return out
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func deepCopy(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	data, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := yaml.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

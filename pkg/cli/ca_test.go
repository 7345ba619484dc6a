package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asmfed/kubectl-asmfed/pkg/istio"
)

func TestCAInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	res := run(t, "ca", "init", "--out", dir, "-o", "json")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	var got caInitResult
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, res.stdout)
	}
	for _, p := range []string{got.CertFile, got.KeyFile} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	root, err := istio.LoadRootFiles(got.CertFile, got.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if root.Fingerprint() != got.Fingerprint || !strings.HasPrefix(got.Fingerprint, "SHA256:") {
		t.Errorf("fingerprint %s, root has %s", got.Fingerprint, root.Fingerprint())
	}
	key, _ := os.ReadFile(got.KeyFile)
	if strings.Contains(res.stdout+res.stderr, strings.Split(string(key), "\n")[1]) {
		t.Error("the key appears in the output")
	}

	again := run(t, "ca", "init", "--out", dir)
	if again.code != exitFailure || !strings.Contains(again.stderr, "already exists") || !strings.Contains(again.stderr, "--force") {
		t.Errorf("second init: exit %d, stderr %q; want a refusal naming --force", again.code, again.stderr)
	}
	forced := run(t, "ca", "init", "--out", dir, "--force")
	if forced.code != 0 || !strings.Contains(forced.stdout, "fingerprint SHA256:") || strings.Contains(forced.stdout, got.Fingerprint) {
		t.Errorf("forced init: exit %d\n%s%s", forced.code, forced.stdout, forced.stderr)
	}
}

func TestCAInitValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"empty out", []string{"ca", "init", "--out", ""}, "error: --out is empty: pass the directory to write the root into\n"},
		{"short validity", []string{"ca", "init", "--out", "x", "--validity", "1h"}, "error: --validity 1h0m0s is too short for a root: use at least 24h\n"},
		{"bad output", []string{"ca", "init", "--out", "x", "-o", "yaml"}, "error: unknown output format \"yaml\": use text or json\n"},
		{"empty organization", []string{"ca", "init", "--out", "x", "--organization", ""}, "error: --organization is empty\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, tc.args...)
			if res.code != exitFailure || res.stderr != tc.want {
				t.Errorf("exit %d, stderr %q; want %q", res.code, res.stderr, tc.want)
			}
		})
	}
}

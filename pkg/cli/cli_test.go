package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/asmfed/kubectl-asmfed/internal/testutil"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

type result struct {
	stdout, stderr string
	code           int
}

// run drives the real command tree the way main does.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return runWithInput(t, "", args...)
}

func runWithInput(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runWithEnv(t, stdin, map[string]string{}, args...)
}

// runWithEnv runs the command tree with env as its whole environment.
func runWithEnv(t *testing.T, stdin string, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}
	root := newRootCommand(streams, func(k string) string { return env[k] })
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	code := ExitCode(&errOut, err)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	testutil.Golden(t, filepath.Join("testdata", name), got)
}

func TestValidateSamples(t *testing.T) {
	samples, err := filepath.Glob(filepath.Join(samplesDir, "*", "federation.yaml"))
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, s := range samples {
		t.Run(s, func(t *testing.T) {
			r := run(t, "validate", "-f", s)
			if r.code != exitOK || r.stdout != "" || !strings.Contains(r.stderr, "is valid") {
				t.Fatalf("validate %s: code %d\nstdout:\n%s\nstderr:\n%s", s, r.code, r.stdout, r.stderr)
			}
		})
	}
}

func TestValidateInvalid(t *testing.T) {
	file := "../api/v1alpha1/testdata/invalid/many-problems.yaml"
	r := run(t, "validate", "-f", file)
	if r.code != exitFailure {
		t.Fatalf("exit code %d, want %d", r.code, exitFailure)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) < 5 {
		t.Fatalf("want every problem at once, got:\n%s", r.stdout)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, file+":") {
			t.Errorf("problem without FILE:LINE:COL: %q", l)
		}
	}
	if !strings.Contains(r.stderr, "errors") || strings.Contains(r.stderr, "error: exit status") {
		t.Errorf("stderr should summarise, not repeat: %q", r.stderr)
	}

	r = run(t, "validate", "-f", file, "-o", "json")
	var rep validateReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("-o json is not JSON: %v\n%s", err, r.stdout)
	}
	if rep.Valid || len(rep.Errors) != len(lines) || r.code != exitFailure {
		t.Errorf("json report: valid=%t, %d errors (text had %d), code %d", rep.Valid, len(rep.Errors), len(lines), r.code)
	}
	for _, e := range rep.Errors {
		if e.Pos.Line < 1 || e.Field == "" {
			t.Errorf("json problem without position or field: %+v", e)
		}
	}
}

// The defaulted file is itself a valid federation file, and defaulting it again changes nothing.
func TestShowDefaultsRoundTrip(t *testing.T) {
	for _, s := range []string{twoCluster, multiProject} {
		r := run(t, "validate", "-f", s, "--show-defaults")
		if r.code != 0 {
			t.Fatalf("code %d: %s", r.code, r.stderr)
		}
		c := v1alpha1.Check(filepath.Join(filepath.Dir(s), "defaulted.yaml"), []byte(r.stdout), v1alpha1.ValidateOptions{})
		if len(c.Errors) > 0 {
			t.Fatalf("defaulted %s does not validate:\n%v", s, c.Errors)
		}
		orig, err := v1alpha1.CheckFile(s, v1alpha1.ValidateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(orig.Federation, c.Federation); diff != "" {
			t.Errorf("defaults are not idempotent for %s (-file +defaulted):\n%s", s, diff)
		}
	}
}

func TestRenderDerived(t *testing.T) {
	r := run(t, "render", "-f", twoCluster, "--derived")
	if r.code != 0 {
		t.Fatalf("code %d: %s", r.code, r.stderr)
	}
	golden(t, "render-two-cluster.golden", r.stdout)

	r = run(t, "render", "-f", multiProject, "--derived", "-o", "json", "--cluster", "storefront-east")
	if r.code != 0 {
		t.Fatalf("code %d: %s", r.code, r.stderr)
	}
	var d federation.Desired
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Clusters) != 1 || d.Clusters[0].Name != "storefront-east" {
		t.Fatalf("--cluster kept %d clusters", len(d.Clusters))
	}
	for _, s := range d.RemoteSecrets {
		if s.Holder != "storefront-east" && s.Target != "storefront-east" {
			t.Errorf("secret %s does not concern storefront-east", s.Address)
		}
	}
	if len(d.RemoteSecrets) != 4 {
		t.Errorf("want 4 secrets to or from storefront-east (2 peers, both directions), got %d", len(d.RemoteSecrets))
	}
	if strings.Contains(r.stdout, `\u003c`) {
		t.Error("placeholders are HTML-escaped in JSON")
	}

	r = run(t, "render", "-f", multiProject, "--derived")
	if want := "\n    ssh:            gcloud compute ssh mesh-bastion --zone us-central1-a --project retail-net-host --tunnel-through-iap\n"; r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("render --derived of the bastion sample: code %d, no %q in:\n%s", r.code, want, r.stdout)
	}

	r = run(t, "render", "-f", "../api/v1alpha1/testdata/invalid/subnet-missing.yaml", "--derived")
	if r.code != exitFailure || !strings.Contains(r.stderr, "subnet-missing.yaml:35:15") {
		t.Errorf("render of an invalid file: code %d, stderr %q", r.code, r.stderr)
	}
}

func TestVersion(t *testing.T) {
	r := run(t, "version", "-o", "json")
	var v versionInfo
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if v.GoVersion == "" || v.IstioTag != v1alpha1.DefaultIstioTag || v.Version == "" {
		t.Errorf("incomplete version info: %+v", v)
	}
}

func TestFlagValidation(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"validate without file", []string{"validate"}, "no federation file: pass -f FILE"},
		{"validate bad output", []string{"validate", "-f", twoCluster, "-o", "xml"}, `unknown output format "xml": use text or json`},
		{"show-defaults with json", []string{"validate", "-f", twoCluster, "--show-defaults", "-o", "json"}, "--show-defaults prints YAML: drop -o json"},
		{"render derived and manifests", []string{"render", "-f", twoCluster, "--derived", "--manifests"}, "--derived, --manifests, --graph and --addon print different things: pass one of them"},
		{"render unknown cluster", []string{"render", "-f", twoCluster, "--derived", "--cluster", "nope"}, `no cluster "nope" in the federation (clusters: cluster3, cluster4)`},
		{"version bad output", []string{"version", "-o", "xml"}, `unknown output format "xml": use text, json or yaml`},
		{"missing file", []string{"validate", "-f", "does-not-exist.yaml"}, "read federation file: open does-not-exist.yaml: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.args...)
			if r.code != exitFailure {
				t.Errorf("code %d, want %d", r.code, exitFailure)
			}
			if got := strings.TrimSpace(r.stderr); got != "error: "+tt.want {
				t.Errorf("stderr %q, want %q", got, "error: "+tt.want)
			}
		})
	}
}

// Every command documents itself with examples that work when pasted: they run here against the
// simulator, in order, with files written to a scratch directory. Confirmation prompts are answered
// with --auto-approve, as no terminal is attached.
func TestHelpHasExamples(t *testing.T) {
	sb := startSandbox(t)
	dir := t.TempDir()
	root := newRootCommand(genericiooptions.NewTestIOStreamsDiscard(), os.Getenv)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Parent() != nil && c.Parent().Name() == "completion" || c.Name() == "completion" {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("command %q has no Example", c.CommandPath())
		}
		for _, line := range strings.Split(c.Example, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			line = strings.ReplaceAll(line, "samples/", samplesDir+"/")
			line = strings.ReplaceAll(line, "plan.json", filepath.Join(dir, "plan.json"))
			line = strings.ReplaceAll(line, "verify.xml", filepath.Join(dir, "verify.xml"))
			wd := ""
			if cd, rest, ok := strings.Cut(line, " && "); ok && strings.HasPrefix(cd, "cd ") {
				wd, line = strings.TrimPrefix(cd, "cd "), rest
			}
			stdin := ""
			if cat, rest, piped := strings.Cut(line, " | "); piped {
				data, err := os.ReadFile(filepath.Join(wd, strings.TrimPrefix(cat, "cat ")))
				if err != nil {
					t.Fatalf("example %q: %v", line, err)
				}
				stdin, line = string(data), rest
			}
			args := strings.Fields(strings.TrimPrefix(line, "kubectl asmfed "))
			if (args[0] == "apply" || args[0] == "destroy") && strings.Contains(line, " -f ") && !strings.Contains(line, "--auto-approve") {
				args = append(args, "--auto-approve")
			}
			if args[0] == "apply" {
				args = append(args, "--wait=false") // the sandbox's clusters run no pods
			}
			var r result
			if wd != "" {
				t.Run(c.Name()+" in "+filepath.Base(wd), func(t *testing.T) {
					t.Chdir(wd)
					r = runWithEnv(t, stdin, sb.env, args...)
				})
			} else {
				r = runWithEnv(t, stdin, sb.env, args...)
			}
			// Examples run in command order, so verify's meets a federation destroy's example
			// removed: failed checks are its answer, not a broken example.
			ok := r.code == 0 || (r.code == exitChanges && strings.Contains(line, "--detailed-exitcode")) ||
				(r.code == exitChecksFailed && args[0] == "verify")
			if !ok {
				t.Errorf("example %q of %q exits %d: %s", line, c.CommandPath(), r.code, r.stderr)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func TestCompletion(t *testing.T) {
	r := run(t, "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "__start_kubectl-asmfed") {
		t.Errorf("bash completion: code %d, %d bytes", r.code, len(r.stdout))
	}
}

func TestExitCode(t *testing.T) {
	var buf bytes.Buffer
	if got := ExitCode(&buf, &exitError{Code: exitChanges}); got != exitChanges || buf.Len() != 0 {
		t.Errorf("exitError without cause: code %d, printed %q", got, buf.String())
	}
	buf.Reset()
	if got := ExitCode(&buf, errors.New("boom")); got != exitFailure || buf.String() != "error: boom\n" {
		t.Errorf("plain error: code %d, printed %q", got, buf.String())
	}
}

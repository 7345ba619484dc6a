package cli

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// format returns an output format set to value, as -o value would.
func format(value string, allowed ...string) outputFormat {
	f := newOutputFormat(allowed...)
	_ = f.Set(value)
	return f
}

// Every error of every Validate, with its exact words. Validate does no I/O, so the options are
// built here as Complete would leave them.
func TestValidate(t *testing.T) {
	checked, err := v1alpha1.CheckFile(twoCluster, v1alpha1.ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	text := func(v string) outputFormat { return format(v, "text", "json") }
	renderFmt := func(v string) outputFormat { return format(v, "text", "yaml", "json") }
	tests := []struct {
		name string
		o    options
		want string
	}{
		{"validate ok", &validateOptions{filename: "f.yaml", output: text("json")}, ""},
		{"validate without file", &validateOptions{output: text("text")}, "no federation file: pass -f FILE"},
		{"validate bad output", &validateOptions{filename: "f.yaml", output: text("xml")}, `unknown output format "xml": use text or json`},
		{"validate show-defaults as json", &validateOptions{filename: "f.yaml", showDefaults: true, output: text("json")}, "--show-defaults prints YAML: drop -o json"},

		{"render ok", &renderOptions{filename: "f.yaml", derived: true, output: renderFmt("json"), cluster: "cluster4", checked: checked}, ""},
		{"render overlays as yaml", &renderOptions{filename: "f.yaml", output: renderFmt("yaml"), checked: checked}, ""},
		{"render without file", &renderOptions{output: renderFmt("text")}, "no federation file: pass -f FILE"},
		{"render derived and manifests", &renderOptions{filename: "f.yaml", derived: true, manifests: true, output: renderFmt("text"), checked: checked}, "--derived, --manifests, --graph and --addon print different things: pass one of them"},
		{"render graph and derived", &renderOptions{filename: "f.yaml", derived: true, graph: true, output: renderFmt("text"), format: format("mermaid", "mermaid", "dot"), checked: checked}, "--derived, --manifests, --graph and --addon print different things: pass one of them"},
		{"render graph of one cluster", &renderOptions{filename: "f.yaml", graph: true, output: renderFmt("text"), format: format("dot", "mermaid", "dot"), cluster: "cluster4", checked: checked}, "--graph draws the whole federation: drop --cluster"},
		{"render graph as png", &renderOptions{filename: "f.yaml", graph: true, output: renderFmt("text"), format: format("png", "mermaid", "dot"), checked: checked}, `--format: unknown output format "png": use mermaid or dot`},
		{"render negative project number", &renderOptions{filename: "f.yaml", fleetProjectNumber: -1, output: renderFmt("text"), checked: checked}, "--fleet-project-number must be positive, got -1"},
		{"render bad output", &renderOptions{filename: "f.yaml", derived: true, output: renderFmt("xml"), checked: checked}, `unknown output format "xml": use text, yaml or json`},
		{"render overlays as json", &renderOptions{filename: "f.yaml", output: renderFmt("json"), checked: checked}, "overlays and manifests print as YAML: drop -o json"},
		{"render unknown cluster", &renderOptions{filename: "f.yaml", output: renderFmt("text"), cluster: "nope", checked: checked}, `no cluster "nope" in the federation (clusters: cluster3, cluster4)`},

		{"plan ok", &planOptions{filename: "f.yaml", out: "plan.json", output: text("text")}, ""},
		{"plan without file", &planOptions{output: text("text")}, "no federation file: pass -f FILE"},
		{"plan bad output", &planOptions{filename: "f.yaml", output: text("yaml")}, `unknown output format "yaml": use text or json`},
		{"plan saved from stdin", &planOptions{filename: "-", out: "plan.json", output: text("text")}, "--out needs a federation file on disk, so that apply can check it has not changed: use -f FILE"},

		{"apply ok", &applyOptions{filename: "f.yaml", parallelism: 10, timeout: time.Minute}, ""},
		{"apply saved plan", &applyOptions{planFile: "plan.json", parallelism: 1, timeout: time.Minute}, ""},
		{"apply nothing", &applyOptions{parallelism: 10, timeout: time.Minute}, "nothing to apply: pass -f FILE or a saved plan"},
		{"apply both", &applyOptions{filename: "f.yaml", planFile: "plan.json", parallelism: 10, timeout: time.Minute}, "pass either -f FILE or a saved plan, not both"},
		{"apply from stdin", &applyOptions{filename: "-", parallelism: 10, timeout: time.Minute}, "apply reads the federation file from disk: use -f FILE"},
		{"apply no timeout", &applyOptions{filename: "f.yaml", parallelism: 10}, "--timeout must be positive, got 0s"},
		{"apply negative resume timeout", &applyOptions{filename: "f.yaml", parallelism: 10, timeout: time.Minute, resumeWait: -time.Second}, "--resume-timeout must not be negative, got -1s"},
		{"apply no parallelism", &applyOptions{filename: "f.yaml", timeout: time.Minute}, "--parallelism must be at least 1, got 0"},
		{"apply negative lock timeout", &applyOptions{filename: "f.yaml", parallelism: 10, timeout: time.Minute, lock: lockFlags{timeout: -time.Second}}, "--lock-timeout must not be negative, got -1s"},
		{"apply adopt", &applyOptions{filename: "f.yaml", adopt: true, parallelism: 10, timeout: time.Minute}, ""},
		{"apply adopt with a plan saved with it", &applyOptions{planFile: "plan.json", adopt: true, saved: &plan.Saved{Plan: &plan.Plan{Adopt: true}}, parallelism: 10, timeout: time.Minute}, ""},
		{"apply adopt with a plan saved without it", &applyOptions{planFile: "plan.json", adopt: true, saved: &plan.Saved{Plan: &plan.Plan{}}, parallelism: 10, timeout: time.Minute},
			"--adopt with a saved plan made without it: the plan would not be the one shown; make it again with plan --adopt --out"},
		{"apply force unlock without waiting", &applyOptions{filename: "f.yaml", parallelism: 10, timeout: time.Minute, lock: lockFlags{force: true}}, ""},

		{"destroy ok", &destroyOptions{filename: "f.yaml", parallelism: 10}, ""},
		{"destroy without file", &destroyOptions{parallelism: 10}, "no federation file: pass -f FILE"},
		{"destroy no parallelism", &destroyOptions{filename: "f.yaml"}, "--parallelism must be at least 1, got 0"},
		{"destroy negative lock timeout", &destroyOptions{filename: "f.yaml", parallelism: 10, lock: lockFlags{timeout: -time.Minute}}, "--lock-timeout must not be negative, got -1m0s"},
		{"destroy negative operation timeout", &destroyOptions{filename: "f.yaml", parallelism: 10, cloud: cloudFlags{operationTimeout: -time.Second}}, "--operation-timeout must not be negative, got -1s"},
		{"apply negative operation timeout", &applyOptions{filename: "f.yaml", parallelism: 10, timeout: time.Minute, cloud: cloudFlags{operationTimeout: -time.Second}}, "--operation-timeout must not be negative, got -1s"},

		{"verify ok", &verifyOptions{filename: "f.yaml", output: text("json")}, ""},
		{"verify probe image and keep", &verifyOptions{filename: "f.yaml", output: text("text"), probeImage: "mirror.example/app:1", keep: true}, ""},
		{"verify probe image without traffic", &verifyOptions{filename: "f.yaml", output: text("text"), skipTraffic: true, probeImage: "mirror.example/app:1"},
			"--probe-image is for the traffic probes: drop --skip-traffic"},
		{"verify keep without traffic", &verifyOptions{filename: "f.yaml", output: text("text"), skipTraffic: true, keep: true},
			"--keep keeps the traffic probes: drop --skip-traffic"},
		{"verify without file", &verifyOptions{output: text("text")}, "no federation file: pass -f FILE"},
		{"verify bad output", &verifyOptions{filename: "f.yaml", output: text("junit")}, `unknown output format "junit": use text or json`},
		{"verify only a group", &verifyOptions{filename: "f.yaml", output: text("text"), only: []string{"asmfed-net-*"}}, ""},
		{"verify only no match", &verifyOptions{filename: "f.yaml", output: text("text"), only: []string{"ASMFED-NET-1"}},
			`--only "ASMFED-NET-1" matches no check: the IDs are listed in kubectl asmfed verify --help and docs/verify.md`},
		{"verify skip bad glob", &verifyOptions{filename: "f.yaml", output: text("text"), skip: []string{"ASMFED-["}}, `--skip "ASMFED-[": syntax error in pattern`},
		{"verify nothing left", &verifyOptions{filename: "f.yaml", output: text("text"), only: []string{"ASMFED-PRE-*"}, skip: []string{"*"}},
			"--only and --skip leave no check to run"},

		{"version ok", &versionOptions{output: format("yaml", "text", "json", "yaml")}, ""},
		{"version bad output", &versionOptions{output: format("xml", "text", "json", "yaml")}, `unknown output format "xml": use text, json or yaml`},

		{"ca init ok", &caInitOptions{out: "dir", organization: "o", validity: 24 * time.Hour, output: text("text")}, ""},
		{"ca init without out", &caInitOptions{organization: "o", validity: 24 * time.Hour, output: text("text")}, "--out is empty: pass the directory to write the root into"},
		{"ca init short validity", &caInitOptions{out: "dir", organization: "o", validity: time.Hour, output: text("text")}, "--validity 1h0m0s is too short for a root: use at least 24h"},
		{"ca init no organization", &caInitOptions{out: "dir", validity: 24 * time.Hour, output: text("text")}, "--organization is empty"},
		{"ca init bad output", &caInitOptions{out: "dir", organization: "o", validity: 24 * time.Hour, output: text("yaml")}, `unknown output format "yaml": use text or json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if err := tt.o.Validate(); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

// recorder notes the order its methods are called in.
type recorder struct{ calls []string }

func (r *recorder) Complete() error           { r.calls = append(r.calls, "Complete"); return nil }
func (r *recorder) Validate() error           { r.calls = append(r.calls, "Validate"); return nil }
func (r *recorder) Run(context.Context) error { r.calls = append(r.calls, "Run"); return nil }

func TestRunOrder(t *testing.T) {
	r := &recorder{}
	if err := runE(r)(&cobra.Command{}, nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Complete", "Validate", "Run"}, r.calls); diff != "" {
		t.Errorf("call order (-want +got):\n%s", diff)
	}
}

// Complete turns the raw flags into what Validate checks: render's --cluster is checked against
// the file, so a flag error about the file comes after the file was read.
func TestCompleteFeedsValidate(t *testing.T) {
	r := run(t, "render", "-f", "-", "--derived", "--cluster", "nope")
	if want := "error: <stdin> is not valid"; !strings.HasPrefix(r.stderr, want) {
		t.Errorf("stderr %q, want it to start with %q", r.stderr, want)
	}
}

func TestBaseDir(t *testing.T) {
	for _, tt := range []struct{ name, want string }{
		{"samples/two-cluster-private/federation.yaml", "samples/two-cluster-private"},
		{"federation.yaml", "."},
		{"/etc/asmfed/federation.yaml", "/etc/asmfed"},
		{stdinName, "."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := (&fileSource{name: tt.name}).baseDir(); got != tt.want {
				t.Errorf("baseDir() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOutputFormat(t *testing.T) {
	for _, tt := range []struct {
		allowed []string
		list    string
	}{
		{[]string{"text"}, "text"},
		{[]string{"text", "json"}, "text or json"},
		{[]string{"text", "yaml", "json"}, "text, yaml or json"},
	} {
		f := newOutputFormat(tt.allowed...)
		if f.String() != tt.allowed[0] || f.validate() != nil {
			t.Errorf("%v: default %q, %v; want the first, valid", tt.allowed, f.String(), f.validate())
		}
		if got := f.list(); got != tt.list {
			t.Errorf("%v: list() = %q, want %q", tt.allowed, got, tt.list)
		}
		_ = f.Set("x")
		if got, want := f.validate(), `unknown output format "x": use `+tt.list; got == nil || got.Error() != want {
			t.Errorf("%v: validate() = %v, want %q", tt.allowed, got, want)
		}
	}
}

// Every -o completes to the formats its command prints, in the order its help lists them.
func TestOutputCompletion(t *testing.T) {
	for _, tt := range []struct {
		command []string
		want    []string
	}{
		{[]string{"validate"}, []string{"text", "json"}},
		{[]string{"render"}, []string{"text", "yaml", "json"}},
		{[]string{"plan"}, []string{"text", "json"}},
		{[]string{"verify"}, []string{"text", "json"}},
		{[]string{"version"}, []string{"text", "json", "yaml"}},
		{[]string{"ca", "init"}, []string{"text", "json"}},
	} {
		t.Run(strings.Join(tt.command, " "), func(t *testing.T) {
			r := run(t, append(append([]string{"__complete"}, tt.command...), "-o", "")...)
			got := strings.Split(strings.TrimSpace(r.stdout), "\n")
			want := append(tt.want, ":4") // ShellCompDirectiveNoFileComp
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("completion of -o (-want +got):\n%s", diff)
			}
		})
	}
}

// commandFlags lists the flags a command's help shows (its own and inherited), sorted.
func commandFlags(c *cobra.Command) []string {
	var names []string
	add := func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	}
	c.LocalFlags().VisitAll(add)
	c.InheritedFlags().VisitAll(add)
	sort.Strings(names)
	return names
}

// honouredFlags is every flag each command reads. A flag added to a command must be added here,
// once its value is read; a flag in a help text whose value is never read is a bug.
var honouredFlags = map[string][]string{
	"kubectl asmfed":          {"help"},
	"kubectl asmfed validate": {"filename", "help", "output", "show-defaults"},
	"kubectl asmfed render":   {"addon", "client", "cluster", "deployment", "derived", "filename", "fleet-project-number", "format", "graph", "help", "instance", "manifests", "output"},
	"kubectl asmfed plan": {"adopt", "detailed-exitcode", "filename", "help", "impersonate-service-account", "kubeconfig", "no-color", "out",
		"output", "rotate-remote-secrets"},
	"kubectl asmfed apply": {"adopt", "allow-destroy", "auto-approve", "filename", "force-unlock", "help", "impersonate-service-account", "kubeconfig",
		"lock-timeout", "no-color", "operation-timeout", "parallelism", "resume-timeout", "rotate-remote-secrets", "skip-preflight", "timeout", "wait"},
	"kubectl asmfed destroy": {"auto-approve", "filename", "force-unlock", "help", "impersonate-service-account", "kubeconfig", "lock-timeout",
		"no-color", "operation-timeout", "parallelism"},
	"kubectl asmfed verify": {"filename", "format", "graph", "help", "impersonate-service-account", "junit", "keep", "kubeconfig", "max-token-age", "no-color", "only",
		"output", "probe-image", "skip", "skip-traffic"},
	"kubectl asmfed version": {"help", "output"},
	"kubectl asmfed ca":      {"help"},
	"kubectl asmfed ca init": {"force", "help", "organization", "out", "output", "validity"},
}

// Every command shows exactly the flags it reads, and of kubectl's kubeconfig flags only
// --kubeconfig: the file names a context per cluster, so --context, --as, --token and the rest
// would be silently ignored.
func TestFlagsHonoured(t *testing.T) {
	kubectlFlags := pflag.NewFlagSet("kubectl", pflag.ContinueOnError)
	genericclioptions.NewConfigFlags(true).AddFlags(kubectlFlags)
	root := newRootCommand(genericiooptions.NewTestIOStreamsDiscard(), os.Getenv)
	root.InitDefaultHelpFlag()
	seen := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" || c.Name() == "completion" {
			return
		}
		c.InitDefaultHelpFlag()
		path := c.CommandPath()
		seen[path] = true
		got := commandFlags(c)
		want, ok := honouredFlags[path]
		if !ok {
			t.Errorf("%s is not in honouredFlags: add it with the flags it reads (%v)", path, got)
		} else if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("flags of %s (-honoured +registered):\n%s", path, diff)
		}
		for _, name := range got {
			// render's own --cluster shares a name with kubectl's, not its meaning.
			if k := kubectlFlags.Lookup(name); k != nil && name != "kubeconfig" && c.Flag(name).Usage == k.Usage {
				t.Errorf("%s offers kubectl's --%s, which the tool does not honour", path, name)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for path := range honouredFlags {
		if !seen[path] {
			t.Errorf("honouredFlags names %s, which is not a command", path)
		}
	}
}

// plan --help lists exactly the flags plan honours.
func TestPlanHelpFlags(t *testing.T) {
	r := run(t, "plan", "--help")
	if r.code != 0 {
		t.Fatalf("code %d: %s", r.code, r.stderr)
	}
	_, flags, ok := strings.Cut(r.stdout, "\nFlags:\n")
	if !ok {
		t.Fatalf("no Flags section in:\n%s", r.stdout)
	}
	var got []string
	for _, line := range strings.Split(flags, "\n") {
		for _, field := range strings.Fields(line) {
			if strings.HasPrefix(field, "--") {
				got = append(got, strings.TrimPrefix(field, "--"))
				break
			}
		}
	}
	want := []string{"adopt", "detailed-exitcode", "filename", "help", "impersonate-service-account", "kubeconfig", "no-color", "out", "output",
		"rotate-remote-secrets"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan --help flags (-want +got):\n%s", diff)
	}
}

// --kubeconfig is read: a context the file names is looked up in the file it points at.
func TestKubeconfigFlagIsRead(t *testing.T) {
	dir := t.TempDir()
	caInit(t, dir)
	sample, err := os.ReadFile(twoCluster)
	if err != nil {
		t.Fatal(err)
	}
	data := strings.Replace(string(sample), "  clusters:\n    - name: cluster3\n", "  clusters:\n    - name: cluster3\n      kubeconfigContext: ctx-cluster3\n", 1)
	if data == string(sample) {
		t.Fatal("the sample changed: cannot add a kubeconfigContext to cluster3")
	}
	file := writeTemp(t, dir, "federation.yaml", data)
	kubeconfig := writeTemp(t, dir, "kubeconfig", "apiVersion: v1\nkind: Config\ncontexts:\n- name: other\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: https://127.0.0.1:1}\nusers:\n- name: u\n  user: {token: t}\n")
	r := runWithEnv(t, "", map[string]string{endpointEnv: "http://127.0.0.1:1", accessTokenFileEnv: writeTemp(t, dir, "token", "t")},
		"plan", "-f", file, "--kubeconfig", kubeconfig)
	if r.code != exitFailure || !strings.Contains(r.stderr, `"ctx-cluster3"`) || !strings.Contains(r.stderr, "contexts: other") {
		t.Errorf("plan with a kubeconfig that lacks the context: code %d, stderr %q", r.code, r.stderr)
	}
}

func writeTemp(t *testing.T, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A token file cannot be impersonated with: the combination is refused before any call.
func TestImpersonationWithATokenFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	token := writeTemp(t, dir, "token", "t")
	for _, cmd := range []string{"plan", "apply", "destroy"} {
		r := runWithEnv(t, "", map[string]string{endpointEnv: "http://127.0.0.1:1", accessTokenFileEnv: token},
			cmd, "-f", twoCluster, "--impersonate-service-account", "deployer@p.iam.gserviceaccount.com")
		want := "error: --impersonate-service-account cannot be used with ASMFED_GCP_ACCESS_TOKEN_FILE set: the token in that file is sent as it is, to Google Cloud and to the clusters, and cannot impersonate deployer@p.iam.gserviceaccount.com (unset ASMFED_GCP_ACCESS_TOKEN_FILE, or mint the token for deployer@p.iam.gserviceaccount.com)\n"
		if r.code != exitFailure || r.stderr != want {
			t.Errorf("%s: code %d, stderr %q, want %q", cmd, r.code, r.stderr, want)
		}
	}
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/graph"
	"github.com/asmfed/kubectl-asmfed/pkg/verify"
)

type verifyOptions struct {
	*globalOptions
	cloud    cloudFlags
	filename string
	output   outputFormat
	graph    bool
	format   outputFormat

	source *fileSource
	fed    *v1alpha1.Federation
}

func newVerifyCommand(g *globalOptions) *cobra.Command {
	o := &verifyOptions{globalOptions: g, output: newOutputFormat("text", "json"), format: newOutputFormat("mermaid", "dot")}
	cmd := &cobra.Command{
		Use:   "verify -f FILE",
		Short: "Prove the federation works: clusters, live state, remote access, shared trust, managed control plane",
		Long: `Verify runs checks against the live federation and prints one line per finding:
√ passed, ‼ warning, × failed (with a hint), - skipped because its requirements are not met.

Checks (their IDs are stable):
  ASMFED-PRE-001     every cluster exists, runs and can be reached
  ASMFED-PRE-002     apply has nothing left to do
  ASMFED-ACCESS-001  every remote secret is labelled, keyed by its peer's name, carries a token (not an
                     exec credential) and, used as istiod uses it, lists the peer's services, endpoint
                     slices and mesh ConfigMaps
  ASMFED-NET-001     every flow the mesh needs (control plane → nodes on the webhook ports, pods → peer
                     pods, admin networks → nodes) is allowed by the network's live firewall rules
  ASMFED-TRUST-001   plug-in CA: every cluster's cacerts carry the file's root and an intermediate it signed
  ASMFED-MESH-001    managed control plane: every cluster's control and data plane are ACTIVE

It exits 0 when nothing failed, 3 when a check failed, 1 when verify itself could not run.`,
		Example: `  # Verify the two-cluster sample on the sandbox
  kubectl asmfed verify -f samples/two-cluster-private/federation.yaml

  # The federation drawn with each flow through the firewall coloured: green allowed, red blocked
  kubectl asmfed verify -f samples/two-cluster-private/federation.yaml --graph

  # As JSON, for CI
  kubectl asmfed verify -f samples/two-cluster-private/federation.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	cmd.Flags().StringVarP(&o.filename, "filename", "f", "", "Federation file")
	o.output.addFlag(cmd, "Output format", "")
	cmd.Flags().BoolVar(&o.graph, "graph", false, "Draw the federation with each flow coloured by what the live firewall does to it (the report goes to stderr)")
	cmd.Flags().Var(&o.format, "format", "Format of --graph: mermaid or dot")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"mermaid", "dot"}, cobra.ShellCompDirectiveNoFileComp))
	o.cloud.add(cmd.Flags())
	o.addClusterFlags(cmd.Flags())
	o.addColorFlag(cmd.Flags())
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	return cmd
}

// Complete reads the federation file and checks it.
func (o *verifyOptions) Complete() (err error) {
	if o.filename == "" {
		return nil
	}
	o.source, o.fed, err = completeValid(o.filename, o.streams.In)
	return err
}

// Validate checks the flags.
func (o *verifyOptions) Validate() error {
	if o.filename == "" {
		return errors.New("no federation file: pass -f FILE")
	}
	if o.graph {
		if err := o.format.validate(); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		if o.output.is("json") {
			return errors.New("--graph prints a drawing on stdout: drop -o json")
		}
	}
	return o.output.validate()
}

// Run plans both layers to see the live state, runs the checks and prints the findings.
func (o *verifyOptions) Run(ctx context.Context) error {
	s, err := o.open(ctx, o.fed, o.source, o.cloud, false)
	if err != nil {
		return err
	}
	defer s.close()
	f, copts, eng := s.f, s.copts, s.eng
	fp, err := o.planBoth(ctx, eng, f, copts)
	if err != nil {
		return err
	}
	reach := fp.Reach
	notReady := append([]string(nil), reach.NotReady...)
	notReachable := map[string]verify.NotReachable{}
	for _, u := range reach.Unreachable {
		notReady = append(notReady, u.Cluster)
		notReachable[u.Cluster] = verify.NotReachable{Message: fmt.Sprintf("exists but did not answer via %s at %s: %s", u.Via, u.Address, u.Cause), Hint: u.Fix}
	}
	env := &verify.Env{Federation: f, Derived: fp.Model, BaseDir: o.source.baseDir(), Clusters: reach.Configs,
		NotReady: notReady, NotReachable: notReachable, Pending: fp.Plan, MeshStates: map[string]verify.MeshState{}, Firewall: fp.Cloud.Firewall}
	for name, st := range fp.Cloud.MeshStates {
		env.MeshStates[name] = verify.MeshState{ControlPlane: st.ControlPlane, DataPlane: st.DataPlane, Conditions: st.Conditions}
	}
	report := verify.Run(ctx, env, verify.Checks())
	if o.graph {
		if err := o.printGraph(env); err != nil {
			return err
		}
		o.printReportTo(o.streams.ErrOut, report)
	} else if o.output.is("json") {
		enc := json.NewEncoder(o.streams.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(report); err != nil {
			return err
		}
	} else {
		o.printReportTo(o.streams.Out, report)
	}
	if report.Failed() {
		return &exitError{Code: exitChecksFailed}
	}
	return nil
}

var marks = map[verify.Status]string{verify.OK: "√", verify.Warn: "‼", verify.Fail: "×", verify.Skipped: "-"}

// printGraph draws the federation with each flow through the firewall coloured by its verdict.
func (o *verifyOptions) printGraph(env *verify.Env) error {
	g := graph.Of(env.Derived)
	for _, v := range verify.FirewallVerdicts(env) {
		status, note := graph.Allowed, ""
		if !v.Allowed {
			status, note = graph.Blocked, "BLOCKED: "+v.Reason
		}
		g.Mark(graph.NodeID(v.FromKind, v.From), graph.NodeID(v.ToKind, v.To), "firewall", status, note)
	}
	out := g.Mermaid()
	if o.format.is("dot") {
		out = g.DOT()
	}
	_, err := io.WriteString(o.streams.Out, out)
	return err
}

func (o *verifyOptions) printReportTo(w io.Writer, r *verify.Report) {
	color := o.color(w)
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + "\x1b[0m"
	}
	codes := map[verify.Status]string{verify.OK: "\x1b[32m", verify.Warn: "\x1b[33m", verify.Fail: "\x1b[31m", verify.Skipped: "\x1b[2m"}
	last := ""
	for _, res := range r.Results {
		if res.Check != last {
			fmt.Fprintf(w, "%s %s\n", res.Check, res.Name)
			last = res.Check
		}
		subject := ""
		if res.Subject != "" {
			subject = res.Subject + ": "
		}
		fmt.Fprintf(w, "  %s %s%s\n", paint(codes[res.Status], marks[res.Status]), subject, res.Message)
		if res.Hint != "" && (res.Status == verify.Fail || res.Status == verify.Warn) {
			fmt.Fprintf(w, "      hint: %s\n", res.Hint)
		}
	}
	c := r.Counts
	fmt.Fprintf(w, "\n%d/%d findings failed, %d warnings, %d skipped\n", c.Fail, c.OK+c.Warn+c.Fail, c.Warn, c.Skipped)
}

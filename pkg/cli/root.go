package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Exit codes of kubectl-asmfed, documented in docs/exit-codes.md.
const (
	// exitOK means the command did what was asked (plan: no changes with --detailed-exitcode).
	exitOK = 0
	// exitFailure means the command failed: invalid input, an API error, a refused plan.
	exitFailure = 1
	// exitChanges means plan --detailed-exitcode found changes.
	exitChanges = 2
	// exitChecksFailed means verify ran and at least one check failed.
	exitChecksFailed = 3
	// exitUnreachable means clusters that exist did not answer the way the file says to reach
	// them: plan covered the rest, apply applied the rest, and their side is left to a run that
	// reaches them.
	exitUnreachable = 4
	// exitPreflight means apply refused to start: preflight found permissions the caller lacks.
	exitPreflight = 5
)

// Run builds the root command and executes it with args.
func Run(ctx context.Context, streams genericiooptions.IOStreams, args []string) error {
	root := newRootCommand(streams, os.Getenv)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// newRootCommand builds the tree with getenv as its view of the environment.
func newRootCommand(streams genericiooptions.IOStreams, getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubectl-asmfed",
		Short: "Federate private GKE clusters into one service mesh",
		Long: `kubectl asmfed federates private GKE clusters that share one VPC (or one Shared VPC across
projects) into a single Istio / Cloud Service Mesh.

One file, federation.yaml, says what the federation is. The tool derives everything that follows
from it (firewall rules, master authorized networks, remote secrets, IstioOperator overlays), shows
it as a plan against live state, applies it through the Google Cloud and Kubernetes APIs, and
verifies that the mesh works.`,
		Example: `  # Check a federation file offline and show what it implies
  kubectl asmfed validate -f samples/two-cluster-private/federation.yaml
  kubectl asmfed render -f samples/two-cluster-private/federation.yaml --derived`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Help and completion name the command as users type it through kubectl.
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl asmfed"},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)

	g := &globalOptions{streams: streams, kube: newKubeconfigFlags(), getenv: getenv}

	root.AddCommand(
		newValidateCommand(g),
		newRenderCommand(g),
		newPlanCommand(g),
		newApplyCommand(g),
		newDestroyCommand(g),
		newVerifyCommand(g),
		newVersionCommand(g),
		newCACommand(g),
	)
	return root
}

// globalOptions are shared by every command.
type globalOptions struct {
	streams genericiooptions.IOStreams
	// kube holds the kubeconfig flags the tool honours: only --kubeconfig (see newKubeconfigFlags).
	kube    *genericclioptions.ConfigFlags
	noColor bool
	// getenv reads the environment; tests replace it.
	getenv func(string) string
}

// newKubeconfigFlags returns ConfigFlags with only KubeConfig set, as AddFlags registers a flag
// only for the fields that are set. The federation file names a kubeconfig context per cluster
// (spec.clusters[].kubeconfigContext), so kubectl's --context, --cluster, --user, --as, --token,
// --server and the rest would have nothing to apply to: they are not offered.
func newKubeconfigFlags() *genericclioptions.ConfigFlags {
	kubeconfig := ""
	return &genericclioptions.ConfigFlags{KubeConfig: &kubeconfig}
}

// addClusterFlags registers --kubeconfig on a command that reaches clusters.
func (g *globalOptions) addClusterFlags(fs *pflag.FlagSet) {
	g.kube.AddFlags(fs)
	fs.Lookup("kubeconfig").Usage = "Kubeconfig file holding the contexts named by spec.clusters[].kubeconfigContext (default: $KUBECONFIG, then ~/.kube/config)"
}

// addColorFlag registers --no-color on a command that colours its output.
func (g *globalOptions) addColorFlag(fs *pflag.FlagSet) {
	fs.BoolVar(&g.noColor, "no-color", false, "Never colour output (colour is used only when stdout is a terminal)")
}

// color reports whether output to w may use ANSI colours.
func (g *globalOptions) color(w any) bool {
	return !g.noColor && isTerminal(w) && g.getenv("NO_COLOR") == ""
}

// ExitCode prints err to w and returns the process exit code for it.
func ExitCode(w io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(w, "error:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(w, "error:", err)
	return exitFailure
}

// exitError carries a specific exit code. A nil Err means the command has already reported
// the problem.
type exitError struct {
	Code int
	Err  error
}

func (e *exitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *exitError) Unwrap() error { return e.Err }

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Run builds the root command and executes it with args.
func Run(ctx context.Context, streams genericiooptions.IOStreams, args []string) error {
	root := NewRootCommand(streams)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// NewRootCommand returns the kubectl-asmfed command tree.
func NewRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:           "kubectl-asmfed",
		Short:         "Federate private GKE clusters into one service mesh",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	return root
}

// ExitCode prints err to w and returns the process exit code for it.
func ExitCode(w io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(w, "error:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(w, "error:", err)
	return 1
}

// ExitError carries a specific exit code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

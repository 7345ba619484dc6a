package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// options is what every command's options struct implements: Validate checks the flags (pure),
// Complete turns them into typed configuration (reads files), Run does the work.
type options interface {
	Validate() error
	Complete() error
	Run(ctx context.Context) error
}

// runE runs a command's options in that order.
func runE(o options) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if err := o.Validate(); err != nil {
			return err
		}
		if err := o.Complete(); err != nil {
			return err
		}
		return o.Run(cmd.Context())
	}
}

// valid returns the defaulted federation of a file, or every problem in it.
func valid(src *fileSource, filename string) (*v1alpha1.Federation, error) {
	checked := src.check()
	if err := checked.Err(); err != nil {
		return nil, fmt.Errorf("%s is not valid (run kubectl asmfed validate -f %s):\n%w", src.name, filename, err)
	}
	return checked.Federation, nil
}

// progressOptions show an apply's progress on stderr, each phase's summary when it ends, and
// the cluster side's plan when it was made anew during the apply. Call the returned function
// when the apply returns.
func (g *globalOptions) progressOptions(opts engine.ApplyOptions) (engine.ApplyOptions, func()) {
	ui := newProgress(g.streams.ErrOut, isTerminal(g.streams.ErrOut))
	opts.OnEvent = func(_ engine.Phase, e plan.Event) { ui.Event(e) }
	opts.OnPhase = func(p engine.Phase, replanned *plan.Plan) {
		if replanned != nil {
			fmt.Fprintln(g.streams.Out, "\nCluster side, planned now that the clusters exist:")
			_ = g.render(g.streams.Out, replanned)
		}
	}
	opts.OnPhaseDone = func(p engine.Phase, r *plan.Report, elapsed time.Duration) {
		g.summarise(string(p), r, elapsed)
	}
	return opts, ui.Close
}

// phaseFailed wraps the failure of an apply phase with what to do.
func phaseFailed(err error) error {
	return fmt.Errorf("apply did not finish; fix the cause and run the command again (every step is safe to repeat):\n%w", err)
}

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

// options is what every command's options struct implements, called in this order: Complete
// turns the raw flags into typed configuration (reads the federation file or the saved plan,
// resolves paths), Validate checks flags and completed values together without any I/O, Run
// does the work.
type options interface {
	Complete() error
	Validate() error
	Run(ctx context.Context) error
}

// runE runs a command's options in that order.
func runE(o options) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if err := o.Complete(); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run(cmd.Context())
	}
}

// valid checks a federation file for a command that needs a valid one: the checked file, or
// every problem in it. filename is the file as passed with -f.
func valid(src *fileSource, filename string) (*v1alpha1.Checked, error) {
	checked := src.check()
	if err := checked.Err(); err != nil {
		return nil, fmt.Errorf("%s is not valid (run kubectl asmfed validate -f %s):\n%w", src.name, filename, err)
	}
	return checked, nil
}

// progressOptions show an apply's progress on stderr, each phase's summary when it ends, and
// the cluster side's plan when it was made anew during the apply. Call the returned function
// when the apply returns.
func (g *globalOptions) progressOptions(opts engine.ApplyOptions) (engine.ApplyOptions, func()) {
	ui := newProgress(g.streams.ErrOut, isTerminal(g.streams.ErrOut))
	opts.OnEvent = func(_ engine.Phase, e plan.Event) { ui.Event(e) }
	opts.OnPhase = func(p engine.Phase, replanned *plan.Plan) {
		switch {
		case p == engine.PhaseResume:
			fmt.Fprintln(g.streams.ErrOut, "\nResuming what an earlier apply left running:")
		case replanned != nil && p == engine.PhaseCloud:
			fmt.Fprintln(g.streams.Out, "\nGoogle Cloud, planned again now that the resumed work is done:")
			_ = g.render(g.streams.Out, replanned)
		case replanned != nil:
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

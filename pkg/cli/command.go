package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine"
	"github.com/asmfed/kubectl-asmfed/pkg/kube"
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

// carryOutClusters applies a cluster-side plan with progress on stderr and a summary.
func (g *globalOptions) carryOutClusters(ctx context.Context, eng *engine.Engine, res *kube.Result, opts engine.ApplyOptions) error {
	return g.withProgress("Cluster side", opts, func(opts engine.ApplyOptions) (*plan.Report, error) {
		return eng.ApplyClusters(ctx, res, opts)
	})
}

// carryOut applies a plan with progress on stderr and a summary at the end.
func (g *globalOptions) carryOut(ctx context.Context, eng *engine.Engine, res *engine.Result, what string, opts engine.ApplyOptions) error {
	return g.withProgress(what, opts, func(opts engine.ApplyOptions) (*plan.Report, error) {
		return eng.Apply(ctx, res, opts)
	})
}

// withProgress runs one layer's apply with a progress display on stderr, then summarises it.
func (g *globalOptions) withProgress(what string, opts engine.ApplyOptions, apply func(engine.ApplyOptions) (*plan.Report, error)) error {
	ui := newProgress(g.streams.ErrOut, isTerminal(g.streams.ErrOut))
	opts.OnEvent = ui.Event
	start := time.Now()
	report, err := apply(opts)
	ui.Close()
	if err != nil {
		return err
	}
	g.summarise(what, report, time.Since(start))
	if err := report.Err(); err != nil {
		return fmt.Errorf("%s did not finish; fix the cause and run the command again (every step is safe to repeat):\n%w", strings.ToLower(what[:1])+what[1:], err)
	}
	return nil
}

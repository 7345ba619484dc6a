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

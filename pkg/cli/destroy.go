package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/asmfed/kubectl-asmfed/pkg/engine"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

type destroyOptions struct {
	*globalOptions
	cloud       cloudFlags
	filename    string
	autoApprove bool

	source *fileSource
}

func newDestroyCommand(g *globalOptions) *cobra.Command {
	o := &destroyOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "destroy -f FILE",
		Short: "Delete everything the federation owns, in reverse dependency order",
		Long: `Destroy deletes every resource that carries the federation's ownership mark: fleet memberships,
node pools and clusters, Cloud Routers and NATs, firewall rules, subnets and the VPC, each after
everything that depends on it. Resources without the mark are never touched, and enabled APIs,
Shared VPC wiring and IAM bindings (which cannot carry a mark) stay.

It shows the plan and asks for confirmation unless --auto-approve.`,
		Example: `  # Tear down the two-cluster sample on the sandbox
  kubectl asmfed destroy -f samples/two-cluster-private/federation.yaml --auto-approve`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.Complete(); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	cmd.Flags().StringVarP(&o.filename, "filename", "f", "", "Federation file")
	cmd.Flags().BoolVar(&o.autoApprove, "auto-approve", false, "Destroy without asking for confirmation")
	o.cloud.add(cmd.Flags())
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	return cmd
}

// Validate checks the flags.
func (o *destroyOptions) Validate() error {
	switch {
	case o.filename == "":
		return errors.New("no federation file: pass -f FILE")
	case o.cloud.parallelism < 1:
		return fmt.Errorf("--parallelism must be at least 1, got %d", o.cloud.parallelism)
	}
	return nil
}

// Complete reads the federation file.
func (o *destroyOptions) Complete() (err error) {
	o.source, err = completeFile(o.filename, o.streams.In)
	return err
}

// Run plans the destruction, confirms and carries it out.
func (o *destroyOptions) Run(cmd *cobra.Command) error {
	ctx := cmd.Context()
	checked := o.source.check()
	if err := checked.Err(); err != nil {
		return fmt.Errorf("%s is not valid (run kubectl asmfed validate -f %s):\n%w", o.source.name, o.filename, err)
	}
	eng, closeFn, err := o.newEngine(ctx, o.cloud)
	if err != nil {
		return err
	}
	defer closeFn()
	fmt.Fprintf(o.streams.ErrOut, "Reading live state of %s...\n", checked.Federation.Metadata.Name)
	res, err := eng.PlanDestroy(ctx, checked.Federation)
	if err != nil {
		return err
	}
	if err := (plan.TextRenderer{Color: o.color(o.streams.Out)}).Render(o.streams.Out, res.Plan); err != nil {
		return err
	}
	if !res.Plan.HasChanges() {
		return nil
	}
	if !o.autoApprove {
		a := &applyOptions{globalOptions: o.globalOptions}
		if err := a.confirm(); err != nil {
			return err
		}
	}
	ui := newProgress(o.streams.ErrOut, isTerminal(o.streams.ErrOut))
	start := time.Now()
	report, err := eng.Apply(ctx, res, engine.ApplyOptions{Parallelism: o.cloud.parallelism, AllowDestroy: true, OnEvent: ui.Event})
	ui.Close()
	if err != nil {
		return err
	}
	(&applyOptions{globalOptions: o.globalOptions}).summarise("Destroy", report, time.Since(start))
	if err := report.Err(); err != nil {
		return fmt.Errorf("destroy did not finish; fix the cause and run destroy again:\n%w", err)
	}
	return nil
}

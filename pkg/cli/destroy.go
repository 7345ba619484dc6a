package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

type destroyOptions struct {
	*globalOptions
	cloud       cloudFlags
	lock        lockFlags
	parallelism int
	filename    string
	autoApprove bool

	source *fileSource
	fed    *v1alpha1.Federation
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

It shows the plan and asks for confirmation unless --auto-approve. Like apply, it holds the
federation's lock while it works, waits up to --lock-timeout for another apply or destroy, and
refuses when the live state changed since its plan.`,
		Example: `  # Tear down the two-cluster sample on the sandbox
  kubectl asmfed destroy -f samples/two-cluster-private/federation.yaml --auto-approve

  # Refuse at once if an apply of the federation is running
  kubectl asmfed destroy -f samples/two-cluster-private/federation.yaml --auto-approve --lock-timeout 0s`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	cmd.Flags().StringVarP(&o.filename, "filename", "f", "", "Federation file")
	cmd.Flags().BoolVar(&o.autoApprove, "auto-approve", false, "Destroy without asking for confirmation")
	addParallelismFlag(cmd.Flags(), &o.parallelism)
	o.lock.add(cmd.Flags())
	o.cloud.add(cmd.Flags())
	o.cloud.addOperationTimeout(cmd.Flags())
	o.addClusterFlags(cmd.Flags())
	o.addColorFlag(cmd.Flags())
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	return cmd
}

// Complete reads the federation file and checks it.
func (o *destroyOptions) Complete() (err error) {
	if o.filename == "" {
		return nil
	}
	o.source, o.fed, err = completeValid(o.filename, o.streams.In)
	return err
}

// Validate checks the flags.
func (o *destroyOptions) Validate() error {
	if o.filename == "" {
		return errors.New("no federation file: pass -f FILE")
	}
	if o.cloud.operationTimeout < 0 {
		return fmt.Errorf("--operation-timeout must not be negative, got %s", o.cloud.operationTimeout)
	}
	if err := o.lock.validate(); err != nil {
		return err
	}
	return validateParallelism(o.parallelism)
}

// Run plans the destruction, confirms and carries it out.
func (o *destroyOptions) Run(ctx context.Context) error {
	s, err := o.open(ctx, o.fed, o.source, o.cloud, false)
	if err != nil {
		return err
	}
	defer s.close()
	f, eng := s.f, s.eng
	fmt.Fprintf(o.streams.ErrOut, "Reading live state of %s...\n", f.Metadata.Name)
	res, err := eng.PlanDestroy(ctx, f)
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
		if err := o.confirm("Destroy everything listed above?"); err != nil {
			return err
		}
	}
	opts, done := o.progressOptions(engine.ApplyOptions{Parallelism: o.parallelism, AllowDestroy: true, Lock: o.lock.options(o.globalOptions, o.cloud)})
	start := time.Now()
	report, err := eng.Destroy(ctx, f, res, opts)
	done()
	if err != nil {
		return err
	}
	o.summarise("Destroy", report, time.Since(start))
	if err := report.Err(); err != nil {
		return fmt.Errorf("destroy did not finish; fix the cause and run the command again (every step is safe to repeat):\n%w", err)
	}
	return nil
}

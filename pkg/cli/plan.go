package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

type planOptions struct {
	*globalOptions
	cloud            cloudFlags
	filename         string
	out              string
	output           outputFormat
	detailedExitcode bool
	rotate           bool
	adopt            bool

	source *fileSource
	fed    *v1alpha1.Federation
}

func newPlanCommand(g *globalOptions) *cobra.Command {
	o := &planOptions{globalOptions: g, output: newOutputFormat("text", "json")}
	cmd := &cobra.Command{
		Use:   "plan -f FILE",
		Short: "Show what apply would change, against live Google Cloud state",
		Long: `Plan reads the live state the federation concerns (in a few wide calls per project, in
parallel), works out everything the file implies, and prints the difference the way terraform plan
does: + create, ~ update in place, -/+ replace, - destroy, with the reason each derived resource
exists. Nothing is changed.

Resources that exist without the federation's ownership mark are never changed; when the file wants
one of them, it is listed as a conflict. With --adopt, each of them that matches the file in every
field that cannot change in place is adopted instead (@): the plan shows the mark it adds and the
fields that change in place. Nothing the file does not describe is ever adopted (docs/migrate.md). Point every Google API at the local sandbox with
` + endpointEnv + `=http://127.0.0.1:PORT (see docs/sandbox.md).`,
		Example: `  # Plan against the local sandbox (started with asmfed-sandbox serve)
  kubectl asmfed plan -f samples/two-cluster-private/federation.yaml

  # Save the plan for apply; exit 2 when there are changes (4 when a cluster that exists did not
  # answer: the plan says which address was tried, why it failed and what would fix it)
  kubectl asmfed plan -f samples/two-cluster-private/federation.yaml --out plan.json --detailed-exitcode

  # As JSON (docs/plan-json.md)
  kubectl asmfed plan -f samples/two-cluster-private/federation.yaml -o json

  # Take over a mesh built another way (Terraform, install scripts): adopt what exists
  kubectl asmfed plan -f samples/two-cluster-private/federation.yaml --adopt --out plan.json`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	cmd.Flags().StringVarP(&o.filename, "filename", "f", "", "Federation file, or - for standard input")
	cmd.Flags().StringVar(&o.out, "out", "", "Save the plan to `FILE`, for kubectl asmfed apply FILE")
	o.output.addFlag(cmd, "Output format", "")
	cmd.Flags().BoolVar(&o.detailedExitcode, "detailed-exitcode", false, "Exit 0 when there are no changes, 2 when there are, 1 on error")
	cmd.Flags().BoolVar(&o.rotate, "rotate-remote-secrets", false, "Plan new reader tokens for every remote secret (the old ones stop working)")
	cmd.Flags().BoolVar(&o.adopt, "adopt", false, adoptUsage)
	o.cloud.add(cmd.Flags())
	o.addClusterFlags(cmd.Flags())
	o.addColorFlag(cmd.Flags())
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	return cmd
}

// Complete reads the federation file and checks it.
func (o *planOptions) Complete() (err error) {
	if o.filename == "" {
		return nil
	}
	o.source, o.fed, err = completeValid(o.filename, o.streams.In)
	return err
}

// Validate checks the flags.
func (o *planOptions) Validate() error {
	if o.filename == "" {
		return errors.New("no federation file: pass -f FILE")
	}
	if err := o.output.validate(); err != nil {
		return err
	}
	if o.out != "" && o.filename == "-" {
		return errors.New("--out needs a federation file on disk, so that apply can check it has not changed: use -f FILE")
	}
	return nil
}

// Run makes the plan and prints it.
func (o *planOptions) Run(ctx context.Context) error {
	s, err := o.open(ctx, o.fed, o.source, o.cloud, o.rotate)
	if err != nil {
		return err
	}
	defer s.close()
	f, copts, eng := s.f, s.copts, s.eng
	copts.Adopt = o.adopt
	fp, err := o.planBoth(ctx, eng, f, copts)
	if err != nil {
		return err
	}
	if err := o.print(fp.Plan); err != nil {
		return err
	}
	if o.out != "" {
		if err := writeSaved(o.out, &plan.Saved{Plan: fp.Plan, Source: plan.SourceOf(o.source.name, o.source.data)}); err != nil {
			return err
		}
		fmt.Fprintf(o.streams.ErrOut, "Saved the plan to %s. Apply exactly this plan with: kubectl asmfed apply %s\n", o.out, o.out)
	}
	var unreachable *engine.ClustersUnreachableError
	if errors.As(fp.Deferred, &unreachable) {
		return &exitError{Code: exitUnreachable, Err: unreachable}
	}
	if o.detailedExitcode && fp.Plan.HasChanges() {
		return &exitError{Code: exitChanges}
	}
	return nil
}

func (o *planOptions) print(p *plan.Plan) error {
	if o.output.is("json") {
		return plan.JSONRenderer{}.Render(o.streams.Out, p)
	}
	return o.render(o.streams.Out, p)
}

// writeSaved writes a saved plan atomically, readable only by its owner: plans name
// infrastructure, which is nobody else's business.
func writeSaved(path string, s *plan.Saved) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".plan-*.json")
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save plan: %w", err)
	}
	if err := s.Write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("save plan: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	return nil
}

// adoptUsage explains --adopt, the same on plan and apply.
const adoptUsage = "Adopt what the file wants and exists without the federation's mark, when it matches the file in every field that cannot change in place (docs/migrate.md)"

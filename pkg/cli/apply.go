package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

type applyOptions struct {
	*globalOptions
	cloud         cloudFlags
	lock          lockFlags
	parallelism   int
	filename      string
	planFile      string
	autoApprove   bool
	allowDestroy  bool
	rotate        bool
	wait          bool
	timeout       time.Duration
	resumeWait    time.Duration
	skipPreflight bool
	adopt         bool

	source *fileSource
	fed    *v1alpha1.Federation
	saved  *plan.Saved
}

func newApplyCommand(g *globalOptions) *cobra.Command {
	o := &applyOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "apply (-f FILE | PLANFILE)",
		Short: "Carry out the plan: create, update and delete through the Google Cloud APIs",
		Long: `Apply makes the plan (or reads one saved with plan --out), asks for confirmation, and carries it
out: every change is a step that starts as soon as what it depends on is done, independent steps run
in parallel, and a failure skips only what depends on it. Every step can run twice, so after a
failure or an interruption, run apply again.

What the plan could not cover is planned during the apply, shown and asked about again before it
changes anything: the cluster side when the clusters did not exist yet, and Google Cloud again
after resuming an interrupted apply. --auto-approve confirms both.

Before anything changes, preflight tests the permissions the plan's Google Cloud changes need
(testIamPermissions on each project), and apply refuses to start (exit 5) while one is missing,
naming the roles that grant it; --skip-preflight goes ahead anyway. A saved plan is checked again.

A saved plan is refused when the federation file or the live state it was made from changed since,
naming what changed. Replacing or deleting a cluster or a network needs --allow-destroy.

With --adopt, what the file wants and exists without the federation's mark is adopted when it
matches the file in every field that cannot change in place (plan --adopt shows it); a plan saved
with plan --adopt carries the flag, and apply of it adopts without being told again.

One apply or destroy of a federation runs at a time: apply holds the federation's lock (an item of
the fleet project's metadata, and a Lease in each cluster's istio-system), waits up to
--lock-timeout while another one holds it, then refuses, naming who holds it, where, and since when.
A plan the other writer made stale by changing the live state is refused: plan again. A lock whose
holder died lapses 2 minutes after its last renewal; --force-unlock takes it at once.`,
		Example: `  # Plan, confirm, apply
  kubectl asmfed apply -f samples/two-cluster-private/federation.yaml

  # Non-interactive (CI)
  kubectl asmfed apply -f samples/two-cluster-private/federation.yaml --auto-approve

  # Apply exactly a saved plan
  kubectl asmfed plan -f samples/two-cluster-private/federation.yaml --out plan.json
  kubectl asmfed apply plan.json

  # Take over what the file describes and exists without the mark (docs/migrate.md)
  kubectl asmfed apply -f samples/two-cluster-private/federation.yaml --adopt

  # In CI: wait up to 15 minutes for another apply of the same federation to finish
  kubectl asmfed apply -f samples/two-cluster-private/federation.yaml --auto-approve --lock-timeout 15m

  # After a crashed apply, without waiting for its lock to lapse
  kubectl asmfed apply -f samples/two-cluster-private/federation.yaml --auto-approve --force-unlock`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.planFile = args[0]
			}
			return runE(o)(cmd, args)
		},
	}
	cmd.Flags().StringVarP(&o.filename, "filename", "f", "", "Federation file")
	cmd.Flags().BoolVar(&o.autoApprove, "auto-approve", false, "Apply without asking for confirmation")
	cmd.Flags().BoolVar(&o.allowDestroy, "allow-destroy", false, "Allow replacing or deleting clusters and networks")
	cmd.Flags().BoolVar(&o.wait, "wait", true, "Wait for the installed control plane (istiod, gateways) to be available, and say why not")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 5*time.Minute, "How long each readiness wait may take")
	cmd.Flags().DurationVar(&o.resumeWait, "resume-timeout", 30*time.Minute, "How long to wait for each operation an earlier, interrupted apply left running (a cluster being created takes minutes; 0: no limit)")
	cmd.Flags().BoolVar(&o.rotate, "rotate-remote-secrets", false, "Issue new reader tokens and rewrite every remote secret (the old tokens stop working)")
	cmd.Flags().BoolVar(&o.skipPreflight, "skip-preflight", false, "Apply even though preflight found permissions missing (docs/preflight.md)")
	cmd.Flags().BoolVar(&o.adopt, "adopt", false, adoptUsage+" (a plan saved with --adopt carries it)")
	addParallelismFlag(cmd.Flags(), &o.parallelism)
	o.lock.add(cmd.Flags())
	o.cloud.add(cmd.Flags())
	o.cloud.addOperationTimeout(cmd.Flags())
	o.addClusterFlags(cmd.Flags())
	o.addColorFlag(cmd.Flags())
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	return cmd
}

// Complete reads the federation file, or the saved plan and the file it names, and checks the
// file. It reads nothing when the flags name no single source: Validate says why.
func (o *applyOptions) Complete() error {
	name := o.filename
	switch {
	case o.planFile != "" && o.filename == "":
		f, err := os.Open(o.planFile)
		if err != nil {
			return fmt.Errorf("read saved plan: %w", err)
		}
		defer f.Close()
		if o.saved, err = plan.ReadSaved(f); err != nil {
			return err
		}
		name = o.saved.Source.File
	case o.planFile != "" || o.filename == "" || o.filename == "-":
		return nil
	}
	var err error
	o.source, o.fed, err = completeValid(name, o.streams.In)
	return err
}

// Validate checks the flags.
func (o *applyOptions) Validate() error {
	switch {
	case o.filename == "" && o.planFile == "":
		return errors.New("nothing to apply: pass -f FILE or a saved plan")
	case o.filename != "" && o.planFile != "":
		return errors.New("pass either -f FILE or a saved plan, not both")
	case o.adopt && o.saved != nil && !o.saved.Adopt:
		return errors.New("--adopt with a saved plan made without it: the plan would not be the one shown; make it again with plan --adopt --out")
	case o.filename == "-":
		return errors.New("apply reads the federation file from disk: use -f FILE")
	case o.timeout <= 0:
		return fmt.Errorf("--timeout must be positive, got %s", o.timeout)
	case o.resumeWait < 0:
		return fmt.Errorf("--resume-timeout must not be negative, got %s", o.resumeWait)
	case o.cloud.operationTimeout < 0:
		return fmt.Errorf("--operation-timeout must not be negative, got %s", o.cloud.operationTimeout)
	}
	if err := o.lock.validate(); err != nil {
		return err
	}
	return validateParallelism(o.parallelism)
}

// Run plans, confirms and applies.
func (o *applyOptions) Run(ctx context.Context) error {
	s, err := o.open(ctx, o.fed, o.source, o.cloud, o.rotate)
	if err != nil {
		return err
	}
	defer s.close()
	s.copts.Adopt = o.adopt || (o.saved != nil && o.saved.Adopt)
	fp, err := o.planBoth(ctx, s.eng, s.f, s.copts)
	if err != nil {
		return err
	}
	if o.saved != nil {
		if err := o.saved.CheckFresh(plan.SourceOf(o.source.name, o.source.data), fp.Plan.Live); err != nil {
			return err
		}
	}
	// A saved plan was shown when it was made; it is fresh, so it is exactly this one.
	if o.saved == nil || !fp.Plan.HasChanges() {
		if err := o.render(o.streams.Out, fp.Plan); err != nil {
			return err
		}
	}
	if !fp.Plan.HasChanges() && fp.Deferred == nil && !fp.Pending() {
		o.bastionLine(fp)
		return nil
	}
	var unreachable *engine.ClustersUnreachableError
	if errors.As(fp.Deferred, &unreachable) && !fp.Plan.HasChanges() && !fp.Pending() {
		return &exitError{Code: exitUnreachable, Err: fmt.Errorf("Google Cloud has nothing to apply, and %w", unreachable)}
	}
	if err := o.checkPreflight(fp); err != nil {
		return err
	}
	if o.saved == nil && !o.autoApprove {
		if err := o.confirm("Apply these changes?"); err != nil {
			return err
		}
	}
	aopts, done := o.progressOptions(engine.ApplyOptions{Parallelism: o.parallelism, AllowDestroy: o.allowDestroy, WaitWorkloads: o.wait, ReadyTimeout: o.timeout,
		ResumeTimeout: o.resumeWait, Lock: o.lock.options(o.globalOptions, o.cloud), SkipPreflight: o.skipPreflight})
	if !o.autoApprove {
		// What apply planned on its own (the cluster side once the clusters exist, Google Cloud
		// again after resumed work) was shown, not confirmed: ask, or refuse without a terminal.
		aopts.Confirm = func(p engine.Phase, replanned *plan.Plan) error {
			if err := o.confirm(fmt.Sprintf("%s, planned during the apply, is shown above. Apply it?", p)); err != nil {
				return fmt.Errorf("not applied, and nothing of it changed (run apply again, or pass --auto-approve): %w", err)
			}
			return nil
		}
	}
	report, err := s.eng.ApplyAll(ctx, fp, aopts)
	done()
	if errors.As(err, &unreachable) {
		return &exitError{Code: exitUnreachable, Err: err}
	}
	if err != nil {
		return err
	}
	if err := report.Err(); err != nil {
		return phaseFailed(err)
	}
	o.bastionLine(fp)
	return nil
}

// bastionLine closes a successful apply of a federation with a bastion: the command that reaches
// it, from which administrators run kubectl against the private endpoints.
func (o *applyOptions) bastionLine(fp *engine.FullPlan) {
	if fp.Model == nil || fp.Model.Bastion == nil {
		return
	}
	fmt.Fprintf(o.streams.ErrOut, "\nReach the clusters from the bastion: %s\n", fp.Model.Bastion.SSHCommand)
}

// confirm asks on the terminal; without one it refuses rather than guessing.
func (g *globalOptions) confirm(question string) error {
	in, ok := g.streams.In.(*os.File)
	if !ok || !isTerminal(in) {
		return errors.New("confirmation needed and standard input is not a terminal: pass --auto-approve to go ahead without asking")
	}
	fmt.Fprintf(g.streams.ErrOut, "\n%s Only 'yes' is accepted: ", question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("read confirmation: %w", err)
	}
	if strings.TrimSpace(line) != "yes" {
		return errors.New("cancelled: nothing was changed")
	}
	return nil
}

func (g *globalOptions) summarise(what string, r *plan.Report, elapsed time.Duration) {
	w := g.streams.ErrOut
	fmt.Fprintf(w, "\n%s finished in %s: %d done, %d failed, %d skipped, %d not started.\n", what, elapsed.Round(100*time.Millisecond),
		r.Count(plan.StatusDone), r.Count(plan.StatusFailed), r.Count(plan.StatusSkipped), r.Count(plan.StatusCancelled))
	for _, res := range r.Results {
		switch res.Status {
		case plan.StatusFailed:
			fmt.Fprintf(w, "  failed   %s: %s\n", res.Address, res.Error)
		case plan.StatusSkipped:
			fmt.Fprintf(w, "  skipped  %s (depends on %s)\n", res.Address, res.Cause)
		}
	}
}

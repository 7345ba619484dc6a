package cli

import (
	"github.com/asmfed/kubectl-asmfed/pkg/engine"
)

// checkPreflight refuses to start an apply for which the caller lacks permissions, before asking
// for confirmation, unless --skip-preflight. A saved plan's findings are those of the plan made
// again now: permissions may have changed since it was saved.
func (o *applyOptions) checkPreflight(fp *engine.FullPlan) error {
	if o.skipPreflight {
		return nil
	}
	if err := fp.Plan.CheckPreflight(); err != nil {
		return &exitError{Code: exitPreflight, Err: err}
	}
	return nil
}

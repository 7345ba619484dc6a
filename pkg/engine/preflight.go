package engine

import (
	"context"
)

// preflight checks what stands in the way of the plan's Google Cloud changes (permissions,
// quotas, organisation policies) and carries the findings in the plan. The cluster side needs
// no Google Cloud permission of its own beyond those reaching the clusters, which Reachable
// already proves.
func (e *Engine) preflight(ctx context.Context, fp *FullPlan) error {
	pf, err := e.cloud.Preflight(ctx, fp.Cloud)
	if err != nil {
		return err
	}
	fp.Plan.Preflight = pf
	return nil
}

// checkPreflight refuses, before the lock is taken or anything changes, a plan whose preflight
// found permissions missing, unless the caller skips it.
func checkPreflight(fp *FullPlan, opts ApplyOptions) error {
	if opts.SkipPreflight {
		return nil
	}
	return fp.Plan.CheckPreflight()
}

// Package waitctx holds the one context-aware sleep of the tool: retries, operation polls and
// lock waits all stop waiting the moment their context ends.
package waitctx

import (
	"context"
	"time"
)

// Sleep waits d, or returns ctx's error when ctx ends first. A d of zero or less returns at once
// with ctx's error, if any.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

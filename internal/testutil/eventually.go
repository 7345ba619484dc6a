package testutil

import (
	"fmt"
	"testing"
	"time"
)

// Poll intervals: start short so fast conditions cost little, then back off so a slow one
// does not hammer a server.
const (
	firstInterval = 10 * time.Millisecond
	maxInterval   = 250 * time.Millisecond
)

// Eventually calls f until it returns nil, and fails t when timeout passes first, naming what
// was awaited and the last error f returned. f returns an error that says why the condition
// does not hold yet.
func Eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	if err := Poll(timeout, what, f); err != nil {
		t.Fatal(err)
	}
}

// Poll is Eventually for code without a testing.TB at hand, such as a helper that returns an
// error: it calls f until f returns nil and returns an error naming what and f's last error
// when timeout passes first. f is called at least once.
func Poll(timeout time.Duration, what string, f func() error) error {
	start := time.Now()
	deadline := start.Add(timeout)
	interval := firstInterval
	for {
		err := f()
		if err == nil {
			return nil
		}
		now := time.Now()
		if !now.Before(deadline) {
			return fmt.Errorf("%s: not done after %s: last error: %w", what, now.Sub(start).Round(time.Millisecond), err)
		}
		time.Sleep(min(interval, deadline.Sub(now)))
		interval = min(2*interval, maxInterval)
	}
}

// Package retry is the retry budget both clients share: calls to Google Cloud (pkg/gcp) and to
// the clusters' API servers (pkg/kube) retry 429 and 5xx responses by the same rules.
//
// A quota on Google Cloud is counted per minute: once it is spent, every call fails until the
// minute ends, however often it is retried. The budget is therefore time, not a count of
// attempts: a call is retried, with exponential backoff and full jitter and honouring
// Retry-After, until Budget has passed since its first attempt, which is longer than a quota
// window.
package retry

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/asmfed/kubectl-asmfed/internal/waitctx"
)

// DefaultBudget outlasts a per-minute quota window with room for the backoff's jitter.
const DefaultBudget = 90 * time.Second

// Policy tunes retries.
type Policy struct {
	// Budget is how long after the first attempt a call may still be retried. Default
	// DefaultBudget.
	Budget time.Duration
	// Attempts caps the attempts in all, including the first; 0: only Budget limits them.
	Attempts int
	// Initial and Max bound the backoff between attempts. Defaults 500 ms and 30 s.
	Initial, Max time.Duration
	// Now and Sleep are the clock; tests replace them. Sleep returns early with ctx's error.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter picks a wait in (0, d]; tests replace it. Default: uniformly at random.
	Jitter func(d time.Duration) time.Duration
}

// WithDefaults fills in what p leaves unset.
func (p Policy) WithDefaults() Policy {
	if p.Budget <= 0 {
		p.Budget = DefaultBudget
	}
	if p.Initial <= 0 {
		p.Initial = 500 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 30 * time.Second
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Sleep == nil {
		p.Sleep = waitctx.Sleep
	}
	if p.Jitter == nil {
		p.Jitter = func(d time.Duration) time.Duration { return time.Duration(rand.Int64N(int64(d)) + 1) }
	}
	return p
}

// Status reports whether an HTTP status is worth retrying: 429 and the 5xx a server or proxy
// returns when overloaded or restarting.
func Status(code int) bool {
	switch code {
	case 429, 500, 502, 503, 504:
		return true
	}
	return false
}

// RetryAfter parses a Retry-After header (seconds or an HTTP date); 0 when absent or invalid.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	s := h.Get("Retry-After")
	if s == "" {
		return 0
	}
	if secs, err := strconv.Atoi(s); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(s); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Budget tracks one call's retries.
type Budget struct {
	p       Policy
	start   time.Time
	attempt int
}

// Start begins a call's budget at p.Now().
func (p Policy) Start() *Budget {
	p = p.WithDefaults()
	return &Budget{p: p, start: p.Now()}
}

// Next is called after a failed attempt. It returns how long to wait before the next one, or
// false when the budget is spent: the attempts' cap is reached, or the wait would end after
// Budget has passed since the first attempt. after is the server's Retry-After, if any.
func (b *Budget) Next(after time.Duration) (time.Duration, bool) {
	b.attempt++
	if b.p.Attempts > 0 && b.attempt >= b.p.Attempts {
		return 0, false
	}
	backoff := b.p.Max
	if shift := b.attempt - 1; shift < 32 {
		if d := b.p.Initial << shift; d > 0 && d < b.p.Max {
			backoff = d
		}
	}
	wait := b.p.Jitter(backoff)
	if after > wait {
		wait = min(after, b.p.Max)
	}
	elapsed := b.p.Now().Sub(b.start)
	if elapsed+wait > b.p.Budget {
		// The last wait is cut to the budget's end rather than given up: a quota window that
		// ends within the budget is waited out.
		if rest := b.p.Budget - elapsed; rest > 0 && after <= rest {
			return rest, true
		}
		return 0, false
	}
	return wait, true
}

// Attempts is how many attempts have failed so far.
func (b *Budget) Attempts() int { return b.attempt }

// Do runs fn until it succeeds, fails with an error classify does not call retryable, ctx ends, or
// the budget is spent; it returns fn's last error (or ctx's, when ctx ended while waiting).
func Do(ctx context.Context, p Policy, fn func(ctx context.Context) error, classify func(err error) (retryable bool, after time.Duration)) error {
	b := p.Start()
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		ok, after := classify(err)
		if !ok || ctx.Err() != nil {
			return err
		}
		wait, more := b.Next(after)
		if !more {
			return err
		}
		if serr := b.p.Sleep(ctx, wait); serr != nil {
			return serr
		}
	}
}

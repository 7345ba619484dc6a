package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when slept on.
type fakeClock struct {
	now   time.Time
	slept []time.Duration
}

func (c *fakeClock) policy(p Policy) Policy {
	p.Now = func() time.Time { return c.now }
	p.Sleep = func(_ context.Context, d time.Duration) error {
		c.slept = append(c.slept, d)
		c.now = c.now.Add(d)
		return nil
	}
	p.Jitter = func(d time.Duration) time.Duration { return d } // the longest wait: the budget's worst case
	return p
}

var errBusy = errors.New("busy")

func TestBudget(t *testing.T) {
	s := time.Second
	cases := []struct {
		name string
		p    Policy
		// failures is how many attempts fail before one succeeds (-1: all fail).
		failures int
		after    time.Duration
		// callTime is how long each attempt takes on the clock.
		callTime time.Duration
		want     []time.Duration
		wantErr  bool
	}{
		{name: "success at once", failures: 0, want: nil},
		{name: "two failures", failures: 2, want: []time.Duration{500 * time.Millisecond, s}},
		{name: "the default budget outlasts a quota minute", failures: -1, wantErr: true,
			// 0.5+1+2+4+8+16 = 31.5, +30 = 61.5: past the minute; +28.5 ends at the 90 s budget.
			want: []time.Duration{500 * time.Millisecond, s, 2 * s, 4 * s, 8 * s, 16 * s, 30 * s, 28500 * time.Millisecond}},
		{name: "quota minute then success", failures: 8, want: []time.Duration{500 * time.Millisecond, s, 2 * s, 4 * s, 8 * s, 16 * s, 30 * s, 28500 * time.Millisecond}},
		{name: "Retry-After is honoured up to Max", failures: 2, after: 45 * s, want: []time.Duration{30 * s, 30 * s}},
		{name: "Retry-After beyond the budget ends it", p: Policy{Budget: 40 * s}, failures: -1, after: 25 * s, wantErr: true,
			want: []time.Duration{25 * s}},
		{name: "a short budget", p: Policy{Budget: 3 * s}, failures: -1, wantErr: true,
			want: []time.Duration{500 * time.Millisecond, s, 1500 * time.Millisecond}},
		{name: "slow calls count against the budget", p: Policy{Budget: 10 * s}, failures: -1, callTime: 4 * s, wantErr: true,
			// 4 + 0.5 + 4 + 1 + 4 = 13.5 s when the third attempt fails: nothing is left.
			want: []time.Duration{500 * time.Millisecond, s}},
		{name: "an attempts cap", p: Policy{Attempts: 3}, failures: -1, wantErr: true, want: []time.Duration{500 * time.Millisecond, s}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			calls := 0
			err := Do(context.Background(), clock.policy(tc.p), func(context.Context) error {
				calls++
				clock.now = clock.now.Add(tc.callTime)
				if tc.failures < 0 || calls <= tc.failures {
					return errBusy
				}
				return nil
			}, func(error) (bool, time.Duration) { return true, tc.after })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if len(clock.slept) != len(tc.want) {
				t.Fatalf("slept %v, want %v", clock.slept, tc.want)
			}
			for i := range tc.want {
				if clock.slept[i] != tc.want[i] {
					t.Fatalf("slept %v, want %v", clock.slept, tc.want)
				}
			}
			if calls != len(tc.want)+1 {
				t.Errorf("%d calls after %d waits", calls, len(tc.want))
			}
		})
	}
}

func TestNotRetryable(t *testing.T) {
	clock := &fakeClock{}
	calls := 0
	err := Do(context.Background(), clock.policy(Policy{}), func(context.Context) error { calls++; return errBusy },
		func(error) (bool, time.Duration) { return false, 0 })
	if !errors.Is(err, errBusy) || calls != 1 || len(clock.slept) != 0 {
		t.Errorf("a final error was retried: %d calls, %v", calls, err)
	}
}

func TestJitterIsWithinBackoff(t *testing.T) {
	p := Policy{}.WithDefaults()
	for range 1000 {
		if d := p.Jitter(time.Second); d <= 0 || d > time.Second {
			t.Fatalf("jitter %v outside (0, 1s]", d)
		}
	}
}

package plan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recorder runs steps that record their order and concurrency.
type recorder struct {
	mu       sync.Mutex
	order    []Address
	running  atomic.Int32
	maxSeen  atomic.Int32
	failures map[Address]error
	delay    time.Duration
}

func (r *recorder) step(addr string, deps ...string) Step {
	s := Step{Address: Address(addr), Action: Create}
	for _, d := range deps {
		s.DependsOn = append(s.DependsOn, Address(d))
	}
	s.Run = func(ctx context.Context, progress func(string)) error {
		n := r.running.Add(1)
		defer r.running.Add(-1)
		for {
			m := r.maxSeen.Load()
			if n <= m || r.maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		progress("working")
		select {
		case <-time.After(r.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
		r.mu.Lock()
		r.order = append(r.order, s.Address)
		r.mu.Unlock()
		return r.failures[s.Address]
	}
	return s
}

func statuses(rep *Report) map[Address]Status {
	out := map[Address]Status{}
	for _, r := range rep.Results {
		out[r.Address] = r.Status
	}
	return out
}

func TestExecuteOrderAndParallelism(t *testing.T) {
	r := &recorder{delay: 20 * time.Millisecond}
	steps := []Step{r.step("net"), r.step("sub", "net"), r.step("fw", "net")}
	for i := 0; i < 8; i++ {
		steps = append(steps, r.step(fmt.Sprintf("cluster%d", i), "sub"))
	}
	var events int
	rep, err := Execute(context.Background(), steps, ExecOptions{Parallelism: 3, OnEvent: func(Event) { events++ }})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	pos := map[Address]int{}
	for i, a := range r.order {
		pos[a] = i
	}
	for _, s := range steps {
		for _, d := range s.DependsOn {
			if pos[d] > pos[s.Address] {
				t.Errorf("%s ran before its dependency %s", s.Address, d)
			}
		}
	}
	if got := r.maxSeen.Load(); got != 3 {
		t.Errorf("max concurrency %d, want exactly the bound 3", got)
	}
	if events != 3*len(steps) {
		t.Errorf("%d events for %d steps, want started, progress and finished for each", events, len(steps))
	}
}

func TestExecuteFailureSkipsDownstreamOnce(t *testing.T) {
	boom := errors.New("operation failed: QUOTA_EXCEEDED")
	r := &recorder{failures: map[Address]error{"c1": boom}}
	steps := []Step{r.step("net"), r.step("c1", "net"), r.step("c2", "net"), r.step("pool1", "c1"), r.step("secret", "pool1", "c2"), r.step("fw", "net")}
	rep, err := Execute(context.Background(), steps, ExecOptions{Parallelism: 4})
	if err != nil {
		t.Fatal(err)
	}
	want := map[Address]Status{"net": StatusDone, "c1": StatusFailed, "c2": StatusDone, "pool1": StatusSkipped, "secret": StatusSkipped, "fw": StatusDone}
	if diff := cmp.Diff(want, statuses(rep)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	for _, res := range rep.Results {
		if res.Status == StatusSkipped && res.Cause != "c1" {
			t.Errorf("%s skipped because of %q, want c1", res.Address, res.Cause)
		}
	}
	msg := rep.Err().Error()
	if strings.Count(msg, "QUOTA_EXCEEDED") != 1 || !strings.Contains(msg, "create c1") {
		t.Errorf("the failure must be reported once, with its step: %q", msg)
	}
}

func TestExecuteCancel(t *testing.T) {
	r := &recorder{delay: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	steps := []Step{r.step("a"), r.step("b", "a"), r.step("c")}
	started := make(chan struct{}, 2)
	rep, err := Execute(ctx, steps, ExecOptions{Parallelism: 1, OnEvent: func(e Event) {
		if e.Kind == EventStarted {
			started <- struct{}{}
			cancel()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[Address]Status{"a": StatusFailed, "b": StatusSkipped, "c": StatusCancelled}
	if diff := cmp.Diff(want, statuses(rep)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if len(started) != 1 {
		t.Errorf("%d steps started after cancel, want 1", len(started))
	}
}

func TestExecutePanicIsAFailure(t *testing.T) {
	steps := []Step{{Address: "a", Action: Create, Run: func(context.Context, func(string)) error { panic("nil map") }}}
	rep, err := Execute(context.Background(), steps, ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Results[0].Status != StatusFailed || !strings.Contains(rep.Results[0].Error, "panic: nil map") {
		t.Errorf("got %+v", rep.Results[0])
	}
}

func TestExecuteRejectsBadGraphs(t *testing.T) {
	r := &recorder{}
	if _, err := Execute(context.Background(), []Step{r.step("a", "b"), r.step("b", "c"), r.step("c", "a")}, ExecOptions{}); err == nil || !strings.Contains(err.Error(), "a -> b -> c -> a") {
		t.Errorf("cycle: %v", err)
	}
	if _, err := Execute(context.Background(), []Step{r.step("a"), r.step("a")}, ExecOptions{}); err == nil {
		t.Error("duplicate step accepted")
	}
}

func TestStepsForOrdersDeletesInReverse(t *testing.T) {
	p := &Plan{Changes: []Change{
		{Address: "net", Action: Delete},
		{Address: "sub", Action: Delete, DependsOn: []Address{"net"}},
		{Address: "fw", Action: Create, DependsOn: []Address{"vpc2"}},
		{Address: "vpc2", Action: Create},
		{Address: "keep", Action: NoOp},
		{Address: "c1", Action: Update, DependsOn: []Address{"keep", "vpc2"}},
	}}
	steps := StepsFor(p, func(Change) func(context.Context, func(string)) error { return nil })
	got := map[Address][]Address{}
	for _, s := range steps {
		got[s.Address] = s.DependsOn
	}
	want := map[Address][]Address{"net": {"sub"}, "sub": nil, "fw": {"vpc2"}, "vpc2": nil, "c1": {"vpc2"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dependencies (-want +got):\n%s", diff)
	}
}

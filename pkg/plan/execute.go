package plan

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Step is one unit of apply work: carrying out one change.
type Step struct {
	Address Address
	Action  Action
	// DependsOn are steps that must succeed first. Addresses without a step of their own (no-op
	// resources) count as done.
	DependsOn []Address
	// Run does the work. It may call progress with short status lines ("waiting for operation
	// operation-123: RUNNING"); it must honour ctx.
	Run func(ctx context.Context, progress func(msg string)) error
}

// Status is how a step ended.
type Status string

// Step outcomes.
const (
	StatusDone      Status = "done"
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped"
	StatusCancelled Status = "cancelled"
)

// EventKind says what happened to a step.
type EventKind string

// Event kinds, in the order a step goes through them.
const (
	EventStarted  EventKind = "started"
	EventProgress EventKind = "progress"
	EventFinished EventKind = "finished"
)

// Event reports progress of a step; front ends turn events into spinners or log lines.
type Event struct {
	Kind    EventKind
	Address Address
	Action  Action
	// Message is the progress line (EventProgress).
	Message string
	// Elapsed since the step started.
	Elapsed time.Duration
	// Status and Err are set on EventFinished.
	Status Status
	Err    error
	// Cause names the failed step that made this one skip.
	Cause Address
}

// ExecOptions tune Execute.
type ExecOptions struct {
	// Parallelism bounds how many steps run at once. Default 10.
	Parallelism int
	// OnEvent receives events, one at a time (never concurrently).
	OnEvent func(Event)
	// Now is the clock; tests may replace it.
	Now func() time.Time
}

// StepResult is how one step ended.
type StepResult struct {
	Address Address       `json:"address"`
	Action  Action        `json:"action"`
	Status  Status        `json:"status"`
	Error   string        `json:"error,omitempty"`
	Cause   Address       `json:"cause,omitempty"`
	Elapsed time.Duration `json:"elapsed"`
	err     error
}

// Report is the outcome of an apply: every step's result, in address order.
type Report struct {
	Results []StepResult `json:"results"`
	Elapsed time.Duration
}

// Count returns how many steps ended with status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == s {
			n++
		}
	}
	return n
}

// Err is nil when every step succeeded; otherwise it names each failure with its cause, once.
// Skipped steps are not repeated as errors: the failure that skipped them is reported.
func (r *Report) Err() error {
	var errs []error
	for _, res := range r.Results {
		if res.Status == StatusFailed {
			errs = append(errs, fmt.Errorf("%s %s: %w", res.Action, res.Address, res.err))
		}
	}
	if n := r.Count(StatusCancelled); n > 0 {
		errs = append(errs, fmt.Errorf("cancelled before %d steps started", n))
	}
	return errors.Join(errs...)
}

// Execute walks the dependency graph of steps: a step starts as soon as everything it depends on
// has succeeded, independent steps run in parallel up to the parallelism bound, a failure skips
// everything downstream of it (reported once, as skipped with the failure as its cause), and
// cancelling ctx lets running steps finish and starts nothing new. The error is for a malformed
// graph (duplicate step, cycle); step failures are in the report.
func Execute(ctx context.Context, steps []Step, opts ExecOptions) (*Report, error) {
	if opts.Parallelism <= 0 {
		opts.Parallelism = 10
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	byAddr := make(map[Address]*Step, len(steps))
	for i := range steps {
		s := &steps[i]
		if _, dup := byAddr[s.Address]; dup {
			return nil, fmt.Errorf("two steps for %s", s.Address)
		}
		byAddr[s.Address] = s
	}
	// waiting counts unfinished dependencies; dependents is the reverse edge.
	waiting := map[Address]int{}
	dependents := map[Address][]Address{}
	for _, s := range steps {
		for _, d := range s.DependsOn {
			if _, ok := byAddr[d]; ok && d != s.Address {
				waiting[s.Address]++
				dependents[d] = append(dependents[d], s.Address)
			}
		}
	}
	if cycle := findCycle(steps, byAddr); cycle != "" {
		return nil, fmt.Errorf("dependency cycle: %s", cycle)
	}

	var mu sync.Mutex
	emit := func(e Event) {
		if opts.OnEvent == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		opts.OnEvent(e)
	}

	start := opts.Now()
	results := map[Address]StepResult{}
	type done struct {
		addr    Address
		err     error
		elapsed time.Duration
	}
	finished := make(chan done)
	var ready []Address
	for _, s := range steps {
		if waiting[s.Address] == 0 {
			ready = append(ready, s.Address)
		}
	}
	sortAddrs(ready)

	var skip func(addr, cause Address)
	skip = func(addr, cause Address) {
		if _, ok := results[addr]; ok {
			return
		}
		s := byAddr[addr]
		results[addr] = StepResult{Address: addr, Action: s.Action, Status: StatusSkipped, Cause: cause}
		emit(Event{Kind: EventFinished, Address: addr, Action: s.Action, Status: StatusSkipped, Cause: cause})
		for _, dep := range dependents[addr] {
			skip(dep, cause)
		}
	}

	running := 0
	for len(ready) > 0 || running > 0 {
		for len(ready) > 0 && running < opts.Parallelism && ctx.Err() == nil {
			addr := ready[0]
			ready = ready[1:]
			s := byAddr[addr]
			running++
			emit(Event{Kind: EventStarted, Address: addr, Action: s.Action})
			go func() {
				t0 := opts.Now()
				progress := func(msg string) {
					emit(Event{Kind: EventProgress, Address: addr, Action: s.Action, Message: msg, Elapsed: opts.Now().Sub(t0)})
				}
				err := runStep(ctx, s, progress)
				finished <- done{addr: addr, err: err, elapsed: opts.Now().Sub(t0)}
			}()
		}
		if running == 0 {
			break // cancelled with steps still ready
		}
		d := <-finished
		running--
		s := byAddr[d.addr]
		res := StepResult{Address: d.addr, Action: s.Action, Status: StatusDone, Elapsed: d.elapsed}
		if d.err != nil {
			res.Status, res.Error, res.err = StatusFailed, d.err.Error(), d.err
		}
		results[d.addr] = res
		emit(Event{Kind: EventFinished, Address: d.addr, Action: s.Action, Status: res.Status, Err: d.err, Elapsed: d.elapsed})
		for _, dep := range dependents[d.addr] {
			if d.err != nil {
				skip(dep, d.addr)
				continue
			}
			waiting[dep]--
			if waiting[dep] == 0 {
				if _, decided := results[dep]; !decided {
					ready = append(ready, dep)
				}
			}
		}
		sortAddrs(ready)
	}
	for _, s := range steps {
		if _, ok := results[s.Address]; !ok {
			results[s.Address] = StepResult{Address: s.Address, Action: s.Action, Status: StatusCancelled}
			emit(Event{Kind: EventFinished, Address: s.Address, Action: s.Action, Status: StatusCancelled})
		}
	}
	r := &Report{Elapsed: opts.Now().Sub(start)}
	for _, res := range results {
		r.Results = append(r.Results, res)
	}
	sort.Slice(r.Results, func(i, j int) bool { return r.Results[i].Address < r.Results[j].Address })
	return r, nil
}

// runStep runs one step and turns a panic into its failure, so one broken adapter cannot take the
// whole apply down with half the graph in flight.
func runStep(ctx context.Context, s *Step, progress func(string)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	if s.Run == nil {
		return errors.New("step has nothing to run")
	}
	return s.Run(ctx, progress)
}

func sortAddrs(a []Address) { sort.Slice(a, func(i, j int) bool { return a[i] < a[j] }) }

// findCycle returns a cycle as "a -> b -> a", or "".
func findCycle(steps []Step, byAddr map[Address]*Step) string {
	const (
		unseen = iota
		onPath
		finished
	)
	state := map[Address]int{}
	var path []Address
	var visit func(a Address) string
	visit = func(a Address) string {
		state[a] = onPath
		path = append(path, a)
		for _, d := range byAddr[a].DependsOn {
			if _, ok := byAddr[d]; !ok {
				continue
			}
			switch state[d] {
			case onPath:
				var names []string
				for i := len(path) - 1; i >= 0; i-- {
					names = append([]string{string(path[i])}, names...)
					if path[i] == d {
						break
					}
				}
				return strings.Join(append(names, string(d)), " -> ")
			case unseen:
				if c := visit(d); c != "" {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[a] = finished
		return ""
	}
	for _, s := range steps {
		if state[s.Address] == unseen {
			if c := visit(s.Address); c != "" {
				return c
			}
		}
	}
	return ""
}

// StepsFor turns a plan's changes into steps, wiring dependencies: creates, updates and
// replacements wait for what they depend on; deletions wait for the deletion of what depends on
// them. run builds the work of each change.
func StepsFor(p *Plan, run func(c Change) func(ctx context.Context, progress func(string)) error) []Step {
	acting := map[Address]Change{}
	for _, c := range p.Changes {
		if c.Action != NoOp {
			acting[c.Address] = c
		}
	}
	deleteAfter := map[Address][]Address{}
	for _, c := range p.Changes {
		if c.Action != Delete {
			continue
		}
		for _, d := range c.DependsOn {
			if dc, ok := acting[d]; ok && dc.Action == Delete {
				deleteAfter[d] = append(deleteAfter[d], c.Address)
			}
		}
	}
	var steps []Step
	for _, c := range p.Changes {
		if c.Action == NoOp {
			continue
		}
		s := Step{Address: c.Address, Action: c.Action, Run: run(c)}
		if c.Action == Delete {
			s.DependsOn = deleteAfter[c.Address]
		} else {
			for _, d := range c.DependsOn {
				if dc, ok := acting[d]; ok && dc.Action != Delete {
					s.DependsOn = append(s.DependsOn, d)
				}
			}
		}
		steps = append(steps, s)
	}
	return steps
}

package gcpfake

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// Clock is the simulator's notion of now. Operations complete when it
// passes their deadline, lazily on the next read; the only work in the
// background is a cluster backend's (a control plane starting), and an
// operation waiting for it completes when both are done.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// FakeClock is a Clock that moves only when told to, so tests can step an
// operation through PENDING, RUNNING and DONE deterministically.
type FakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewFakeClock starts a FakeClock at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{t: t} }

// Now returns the current fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Latency says how long calls take and how long the operations they start
// run. Keys are method names as "Service/Method" (for example
// "Firewalls/Insert" or "ClusterManager/CreateCluster"); "*" is the default.
// Scale multiplies every duration, so a sandbox can run real-shaped
// timings faster than real time.
type Latency struct {
	Call  map[string]time.Duration
	Op    map[string]time.Duration
	Scale float64
}

func (l *Latency) lookup(m map[string]time.Duration, method string) time.Duration {
	if l == nil {
		return 0
	}
	d, ok := m[method]
	if !ok {
		d = m["*"]
	}
	if l.Scale > 0 {
		d = time.Duration(float64(d) * l.Scale)
	}
	return d
}

// RealisticLatency approximates production timings: compute calls take a
// few hundred milliseconds and their operations seconds, a GKE cluster
// takes minutes. scale 1 is real time; 0.01 makes a cluster take seconds.
func RealisticLatency(scale float64) *Latency {
	return &Latency{
		Scale: scale,
		Call: map[string]time.Duration{
			"*": 120 * time.Millisecond,
		},
		Op: map[string]time.Duration{
			"*":                                        10 * time.Second,
			"Firewalls/Insert":                         8 * time.Second,
			"Firewalls/Patch":                          8 * time.Second,
			"Firewalls/Update":                         8 * time.Second,
			"Firewalls/Delete":                         8 * time.Second,
			"Networks/Insert":                          20 * time.Second,
			"Subnetworks/Insert":                       15 * time.Second,
			"Routers/Insert":                           10 * time.Second,
			"ClusterManager/CreateCluster":             6 * time.Minute,
			"ClusterManager/DeleteCluster":             4 * time.Minute,
			"ClusterManager/UpdateCluster":             90 * time.Second,
			"ClusterManager/SetLabels":                 5 * time.Second,
			"ClusterManager/CreateNodePool":            2 * time.Minute,
			"ClusterManager/DeleteNodePool":            2 * time.Minute,
			"ClusterManager/UpdateNodePool":            time.Minute,
			"ServiceUsage/EnableService":               15 * time.Second,
			"ServiceUsage/BatchEnableServices":         20 * time.Second,
			"GkeHubMembershipService/CreateMembership": 30 * time.Second,
			"GkeHub/CreateFeature":                     20 * time.Second,
			"GkeHub/UpdateFeature":                     10 * time.Second,
			"GkeHub/DeleteFeature":                     20 * time.Second,
			hubMeshProvisioning:                        8 * time.Minute,
		},
	}
}

// Fault makes calls to Method fail. Method is "Service/Method" or "*".
// Times is how many calls fail (0 means every call until cleared). With
// AtCompletion the call succeeds and the operation it starts fails when it
// completes, the way quota or stockout errors surface.
type Fault struct {
	Method       string        `json:"method"`
	HTTP         int           `json:"http,omitempty"`
	Code         codes.Code    `json:"code,omitempty"`
	Message      string        `json:"message,omitempty"`
	Times        int           `json:"times,omitempty"`
	Delay        time.Duration `json:"delay,omitempty"`
	AtCompletion bool          `json:"atCompletion,omitempty"`
}

func (f *Fault) err() *Error {
	e := &Error{Code: f.Code, HTTP: f.HTTP, Message: f.Message}
	if e.HTTP == 0 && e.Code == codes.OK {
		e.HTTP = 503
	}
	if e.Message == "" {
		e.Message = "Injected fault."
	}
	return toError(e)
}

// LogEntry is one request seen by the simulator.
type LogEntry struct {
	Time      time.Time `json:"time"`
	Transport string    `json:"transport"`
	Method    string    `json:"method"`
	HTTP      string    `json:"http,omitempty"`
	Path      string    `json:"path,omitempty"`
	Code      string    `json:"code"`
	Duration  string    `json:"duration"`
}

type controls struct {
	mu       sync.Mutex
	faults   []*Fault
	counters map[string]int
	log      []LogEntry
	latency  *Latency
}

const maxLog = 10000

type ctxKey int

const (
	ctxMethod ctxKey = iota
	ctxHTTP
)

func withHTTP(ctx context.Context, r *http.Request) context.Context {
	return context.WithValue(ctx, ctxHTTP, r)
}

// shortMethod turns "/google.cloud.compute.v1.Firewalls/Insert" into
// "Firewalls/Insert", the key used by counters, faults and latency.
func shortMethod(full string) string {
	full = strings.TrimPrefix(full, "/")
	svc, m, _ := strings.Cut(full, "/")
	if i := strings.LastIndex(svc, "."); i >= 0 {
		svc = svc[i+1:]
	}
	return svc + "/" + m
}

func methodFrom(ctx context.Context) string {
	m, _ := ctx.Value(ctxMethod).(string)
	return m
}

// takeFault returns the fault that applies to this call, consuming one use.
func (c *controls) takeFault(method string, atCompletion bool) *Fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, f := range c.faults {
		if f.AtCompletion != atCompletion || (f.Method != "*" && f.Method != method) {
			continue
		}
		out := *f
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				c.faults = append(c.faults[:i:i], c.faults[i+1:]...)
			}
		}
		return &out
	}
	return nil
}

func (s *Server) interceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	method := shortMethod(info.FullMethod)
	ctx = context.WithValue(ctx, ctxMethod, method)
	c := &s.ctl
	c.mu.Lock()
	c.counters[method]++
	lat := c.latency
	c.mu.Unlock()

	var resp any
	var err error
	delay := lat.lookup(lat.callMap(), method)
	f := c.takeFault(method, false)
	if f != nil {
		delay += f.Delay
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	if f != nil && (f.HTTP != 0 || f.Code != codes.OK || f.Message != "") {
		err = f.err()
	} else {
		resp, err = h(ctx, req)
	}
	e := LogEntry{Time: start, Transport: "grpc", Method: method, Code: "OK", Duration: time.Since(start).String()}
	if r, ok := ctx.Value(ctxHTTP).(*http.Request); ok {
		e.Transport, e.HTTP, e.Path = "rest", r.Method, r.URL.Path
	}
	if err != nil {
		e.Code = statusName(toError(err).Code)
	}
	c.mu.Lock()
	if len(c.log) >= maxLog {
		c.log = append(c.log[:0], c.log[maxLog/2:]...)
	}
	c.log = append(c.log, e)
	c.mu.Unlock()
	if err == nil {
		s.st.persistIfDirty()
	}
	return resp, err
}

func (l *Latency) callMap() map[string]time.Duration {
	if l == nil {
		return nil
	}
	return l.Call
}

// InjectFault adds a fault; faults are matched in the order added.
func (s *Server) InjectFault(f Fault) {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	if f.Method == "" {
		f.Method = "*"
	}
	s.ctl.faults = append(s.ctl.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.ctl.mu.Lock()
	s.ctl.faults = nil
	s.ctl.mu.Unlock()
}

// Faults lists the faults still armed.
func (s *Server) Faults() []Fault {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	out := make([]Fault, 0, len(s.ctl.faults))
	for _, f := range s.ctl.faults {
		out = append(out, *f)
	}
	return out
}

// SetLatency replaces the latency model; nil means no latency at all.
func (s *Server) SetLatency(l *Latency) {
	s.ctl.mu.Lock()
	s.ctl.latency = l
	s.ctl.mu.Unlock()
}

// Calls returns how many times method ("Firewalls/List") was called.
func (s *Server) Calls(method string) int {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	return s.ctl.counters[method]
}

// Counters returns a copy of all per-method call counts.
func (s *Server) Counters() map[string]int {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	out := make(map[string]int, len(s.ctl.counters))
	for k, v := range s.ctl.counters {
		out[k] = v
	}
	return out
}

// TotalCalls is the sum of all counters.
func (s *Server) TotalCalls() int {
	n := 0
	for _, v := range s.Counters() {
		n += v
	}
	return n
}

// ResetCounters zeroes the counters and clears the request log, so a test
// can measure one phase of a flow.
func (s *Server) ResetCounters() {
	s.ctl.mu.Lock()
	s.ctl.counters = map[string]int{}
	s.ctl.log = nil
	s.ctl.mu.Unlock()
}

// RequestLog returns the requests seen since the last reset.
func (s *Server) RequestLog() []LogEntry {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	return append([]LogEntry(nil), s.ctl.log...)
}

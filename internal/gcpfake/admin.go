package gcpfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"
)

// adminFault is the JSON form of a Fault: durations as strings ("2s") and
// the gRPC code by name ("UNAVAILABLE").
type adminFault struct {
	Method       string `json:"method"`
	HTTP         int    `json:"http,omitempty"`
	Code         string `json:"code,omitempty"`
	Message      string `json:"message,omitempty"`
	Times        int    `json:"times,omitempty"`
	Delay        string `json:"delay,omitempty"`
	AtCompletion bool   `json:"atCompletion,omitempty"`
}

func codeByName(name string) (codes.Code, bool) {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if statusName(c) == name {
			return c, true
		}
	}
	return codes.OK, name == "" || name == "OK"
}

// admin serves /_fake/: counters, the request log, faults, the clock and
// latency, so scripts and gcloud-driven tests can steer the simulator.
func (s *Server) admin(w http.ResponseWriter, r *http.Request) {
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(v)
	}
	fail := func(code int, format string, a ...any) {
		http.Error(w, fmt.Sprintf(format, a...), code)
	}
	switch r.URL.Path {
	case "/_fake/healthz":
		reply(map[string]any{"ok": true, "now": s.Now()})
	case "/_fake/counters":
		switch r.Method {
		case http.MethodGet:
			reply(s.Counters())
		case http.MethodDelete:
			s.ResetCounters()
			reply(map[string]any{})
		default:
			fail(405, "GET or DELETE")
		}
	case "/_fake/log":
		reply(s.RequestLog())
	case "/_fake/sql/instances":
		s.adminSQL(w, r)
	case "/_fake/iam/denials":
		s.adminDenials(w, r)
	case "/_fake/quotas":
		s.adminQuotas(w, r)
	case "/_fake/orgpolicies":
		s.adminOrgPolicies(w, r)
	case "/_fake/faults":
		switch r.Method {
		case http.MethodGet:
			reply(s.Faults())
		case http.MethodDelete:
			s.ClearFaults()
			reply([]Fault{})
		case http.MethodPost:
			var af adminFault
			if err := json.NewDecoder(r.Body).Decode(&af); err != nil {
				fail(400, "bad fault: %v", err)
				return
			}
			f := Fault{Method: af.Method, HTTP: af.HTTP, Message: af.Message, Times: af.Times, AtCompletion: af.AtCompletion}
			c, ok := codeByName(af.Code)
			if !ok {
				fail(400, "unknown code %q", af.Code)
				return
			}
			f.Code = c
			if af.Delay != "" {
				d, err := time.ParseDuration(af.Delay)
				if err != nil {
					fail(400, "bad delay: %v", err)
					return
				}
				f.Delay = d
			}
			s.InjectFault(f)
			reply(s.Faults())
		default:
			fail(405, "GET, POST or DELETE")
		}
	case "/_fake/clock/advance":
		fc, ok := s.opts.clock.(*FakeClock)
		if !ok {
			fail(409, "the simulator runs on the wall clock; start it with a fake clock to advance time")
			return
		}
		d, err := time.ParseDuration(r.URL.Query().Get("by"))
		if err != nil {
			fail(400, "by: %v", err)
			return
		}
		fc.Advance(d)
		s.st.mu.Lock()
		s.st.settle()
		s.st.mu.Unlock()
		reply(map[string]any{"now": s.Now()})
	case "/_fake/latency":
		if r.Method != http.MethodPut && r.Method != http.MethodPost {
			fail(405, "PUT")
			return
		}
		var body struct {
			Preset string  `json:"preset"`
			Scale  float64 `json:"scale"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			fail(400, "bad latency: %v", err)
			return
		}
		switch body.Preset {
		case "none":
			s.SetLatency(nil)
		case "", "realistic":
			s.SetLatency(RealisticLatency(body.Scale))
		default:
			fail(400, "unknown preset %q", body.Preset)
			return
		}
		reply(map[string]any{"preset": body.Preset, "scale": body.Scale})
	default:
		fail(404, "unknown admin path %s", r.URL.Path)
	}
}

package gcpfake

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// store holds every resource as a proto keyed by "<api>/<canonical name>",
// plus the operations still in flight. One mutex: the simulator is never
// the bottleneck at the call rates a plan makes, and a single lock keeps
// cross-resource checks (overlaps, in-use) trivially consistent.
type store struct {
	mu      sync.Mutex
	clock   Clock
	objs    map[string]proto.Message
	pending []*pendingOp
	seq     uint64
	dir     string
	dirty   bool
	saveErr error
}

// pendingOp is an operation whose effects land when the clock passes
// DoneAt. Effects are data (objects to put, keys to delete) rather than
// closures so that in-flight operations survive a restart.
type pendingOp struct {
	OpKey  string
	RunAt  time.Time
	DoneAt time.Time
	Puts   map[string]proto.Message
	Dels   []string
	// FailPuts replace Puts when the operation fails (a cluster in ERROR).
	FailPuts map[string]proto.Message
	Fail     *Error
	// Response is the longrunning response for google.longrunning ops.
	Response proto.Message
	// Backend is work outside the store that the operation performs: starting or releasing the
	// control plane behind a cluster. The operation stays in flight until the work reports back,
	// however far the clock has moved.
	Backend *backendWork
}

// ready reports whether the operation's outside work, if any, has finished.
func (p *pendingOp) ready() bool { return p.Backend == nil || p.Backend.Done }

func newStore(c Clock) *store {
	return &store{clock: c, objs: map[string]proto.Message{}}
}

func (s *store) now() time.Time { return s.clock.Now() }

// get returns the stored object (not a copy: callers hold the lock and
// clone before handing anything out).
func (s *store) get(key string) proto.Message { return s.objs[key] }

func (s *store) put(key string, m proto.Message) {
	s.objs[key] = m
	s.dirty = true
}

func (s *store) del(key string) {
	delete(s.objs, key)
	s.dirty = true
}

// inFlight reports whether an unfinished operation will create key.
func (s *store) inFlight(key string) bool {
	for _, p := range s.pending {
		if _, ok := p.Puts[key]; ok {
			return true
		}
	}
	return false
}

// list returns keys with the given prefix whose remainder has no further
// "/" (direct children of a collection), sorted.
func (s *store) list(prefix string) []string {
	var keys []string
	for k := range s.objs {
		if strings.HasPrefix(k, prefix) && !strings.Contains(k[len(prefix):], "/") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// match returns sorted keys matching a pattern with "*" segments.
func (s *store) match(pattern string) []string {
	pp := strings.Split(pattern, "/")
	var keys []string
	for k := range s.objs {
		kp := strings.Split(k, "/")
		if len(kp) != len(pp) {
			continue
		}
		ok := true
		for i := range pp {
			if pp[i] != "*" && pp[i] != kp[i] {
				ok = false
				break
			}
		}
		if ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// nextID returns a stable, unique numeric id: the same sequence of calls
// yields the same ids, which keeps golden logs readable.
func (s *store) nextID(seed string) uint64 {
	s.seq++
	h := fnv.New64a()
	fmt.Fprintf(h, "%s#%d", seed, s.seq)
	return h.Sum64() >> 1
}

func (s *store) opName() string {
	s.seq++
	h := fnv.New64a()
	fmt.Fprintf(h, "op#%d", s.seq)
	return fmt.Sprintf("operation-%d-%016x", s.now().UnixMilli(), h.Sum64())
}

// fingerprint is an md5 of the deterministic encoding, like the real API's
// opaque fingerprints: it changes exactly when the content changes.
// sameFingerprint compares fingerprints as the bytes they encode: Compute Engine's fields are
// bytes, which gcloud's client sends back in the URL-safe base64 alphabet whatever it read.
func sameFingerprint(a, b string) bool {
	decode := func(s string) []byte {
		s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
		out, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return []byte(s)
		}
		return out
	}
	return bytes.Equal(decode(a), decode(b))
}

func fingerprint(m proto.Message) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	sum := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(sum[:8])
}

func projectNumber(project string) int64 {
	h := fnv.New64a()
	h.Write([]byte(project))
	return 100000000000 + int64(h.Sum64()%899999999999)
}

// addPending queues an operation; a zero duration completes it at once.
func (s *store) addPending(p *pendingOp) {
	s.pending = append(s.pending, p)
	sort.SliceStable(s.pending, func(i, j int) bool { return s.pending[i].DoneAt.Before(s.pending[j].DoneAt) })
	s.dirty = true
	s.settle()
}

// settle completes every operation whose time has come and whose outside
// work is done, in order. It is called on every read, so completion is lazy:
// only backend work (a control plane starting) runs in the background.
func (s *store) settle() {
	now := s.now()
	for {
		i := slices.IndexFunc(s.pending, func(p *pendingOp) bool { return !p.DoneAt.After(now) && p.ready() })
		if i < 0 {
			break
		}
		p := s.pending[i]
		s.pending = slices.Delete(s.pending, i, i+1)
		puts := p.Puts
		if p.Fail != nil {
			puts = p.FailPuts
		}
		for k, v := range puts {
			s.objs[k] = v
		}
		if p.Fail == nil {
			for _, k := range p.Dels {
				delete(s.objs, k)
			}
		}
		s.finishOp(p, p.DoneAt)
		s.dirty = true
	}
	for _, p := range s.pending {
		if !p.RunAt.After(now) {
			s.startOp(p)
		}
	}
}

// persistIfDirty writes the state file after a successful mutating call.
func (s *store) persistIfDirty() {
	if s.dir == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty {
		return
	}
	s.saveErr = s.save()
	s.dirty = false
}

type savedOp struct {
	OpKey    string                     `json:"opKey"`
	RunAt    time.Time                  `json:"runAt"`
	DoneAt   time.Time                  `json:"doneAt"`
	Puts     map[string]json.RawMessage `json:"puts,omitempty"`
	Dels     []string                   `json:"dels,omitempty"`
	FailPuts map[string]json.RawMessage `json:"failPuts,omitempty"`
	Fail     *Error                     `json:"fail,omitempty"`
	Response json.RawMessage            `json:"response,omitempty"`
	Backend  *backendWork               `json:"backend,omitempty"`
}

type savedState struct {
	Seq     uint64                     `json:"seq"`
	Objects map[string]json.RawMessage `json:"objects"`
	Pending []savedOp                  `json:"pending"`
}

func encodeAny(m proto.Message) (json.RawMessage, error) {
	a, err := anypb.New(m)
	if err != nil {
		return nil, err
	}
	return protojson.Marshal(a)
}

func decodeAny(b json.RawMessage) (proto.Message, error) {
	a := &anypb.Any{}
	if err := protojson.Unmarshal(b, a); err != nil {
		return nil, err
	}
	return a.UnmarshalNew()
}

func encodeMap(in map[string]proto.Message) (map[string]json.RawMessage, error) {
	if in == nil {
		return nil, nil
	}
	out := make(map[string]json.RawMessage, len(in))
	for k, v := range in {
		b, err := encodeAny(v)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", k, err)
		}
		out[k] = b
	}
	return out, nil
}

func decodeMap(in map[string]json.RawMessage) (map[string]proto.Message, error) {
	if in == nil {
		return nil, nil
	}
	out := make(map[string]proto.Message, len(in))
	for k, v := range in {
		m, err := decodeAny(v)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", k, err)
		}
		out[k] = m
	}
	return out, nil
}

func (s *store) save() error {
	st := savedState{Seq: s.seq}
	var err error
	if st.Objects, err = encodeMap(s.objs); err != nil {
		return err
	}
	for _, p := range s.pending {
		so := savedOp{OpKey: p.OpKey, RunAt: p.RunAt, DoneAt: p.DoneAt, Dels: p.Dels, Fail: p.Fail, Backend: p.Backend}
		if so.Puts, err = encodeMap(p.Puts); err != nil {
			return err
		}
		if so.FailPuts, err = encodeMap(p.FailPuts); err != nil {
			return err
		}
		if p.Response != nil {
			if so.Response, err = encodeAny(p.Response); err != nil {
				return err
			}
		}
		st.Pending = append(st.Pending, so)
	}
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	// Write then rename so a crash never leaves a torn state file.
	tmp := filepath.Join(s.dir, ".state.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.dir, "state.json"))
}

func (s *store) load() error {
	b, err := os.ReadFile(filepath.Join(s.dir, "state.json"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var st savedState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	s.seq = st.Seq
	if s.objs, err = decodeMap(st.Objects); err != nil {
		return err
	}
	if s.objs == nil {
		s.objs = map[string]proto.Message{}
	}
	for _, so := range st.Pending {
		p := &pendingOp{OpKey: so.OpKey, RunAt: so.RunAt, DoneAt: so.DoneAt, Dels: so.Dels, Fail: so.Fail, Backend: so.Backend}
		if p.Puts, err = decodeMap(so.Puts); err != nil {
			return err
		}
		if p.FailPuts, err = decodeMap(so.FailPuts); err != nil {
			return err
		}
		if len(so.Response) > 0 {
			if p.Response, err = decodeAny(so.Response); err != nil {
				return err
			}
		}
		s.pending = append(s.pending, p)
	}
	return nil
}

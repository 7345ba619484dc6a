package lock

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asmfed/kubectl-asmfed/internal/testutil"
)

// memStore is a store with a version counter, as a real one has an etag or resourceVersion.
type memStore struct {
	mu      sync.Mutex
	rec     *Record
	version int
	writes  int
	// beforeWrite runs inside Write, before the precondition is checked: a concurrent writer.
	beforeWrite func()
}

func (m *memStore) Where() string { return "memory" }

func (m *memStore) Read(context.Context) (*Record, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rec == nil {
		return nil, strconv.Itoa(m.version), nil
	}
	r := *m.rec
	return &r, strconv.Itoa(m.version), nil
}

func (m *memStore) Write(_ context.Context, rec *Record, version string) error {
	if f := m.beforeWrite; f != nil {
		m.beforeWrite = nil
		f()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if version != strconv.Itoa(m.version) {
		return ErrConflict
	}
	m.version++
	m.writes++
	if rec == nil {
		m.rec = nil
	} else {
		r := *rec
		m.rec = &r
	}
	return nil
}

func (m *memStore) get() *Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rec
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func opts(name string, c *clock) Options {
	return Options{Federation: "prod", Operation: "apply", Holder: Holder{User: name, Host: "host-" + name, PID: 42},
		TTL: time.Minute, RenewEvery: time.Hour, Poll: time.Millisecond, Now: c.Now}
}

func TestHeldIsRefusedNamingTheHolder(t *testing.T) {
	ctx := context.Background()
	s := &memStore{}
	c := &clock{t: t0}
	a, err := Acquire(ctx, opts("alice", c), s)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release(ctx)
	c.Add(10 * time.Second)
	_, err = Acquire(ctx, opts("bob", c), s)
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second Acquire: %v, want a *HeldError", err)
	}
	want := "federation prod is locked by the apply of alice on host-alice (pid 42), running since 2025-03-01T12:00:00Z (last renewed 2025-03-01T12:00:00Z, lock id " +
		a.ID() + "), held in memory (hint: wait for it to finish and run again; if that process is gone, its lock lapses at 2025-03-01T12:01:00Z, or take it now with --force-unlock)"
	if err.Error() != want {
		t.Errorf("refusal:\n got %s\nwant %s", err, want)
	}
	if got := s.get(); got.ID != a.ID() {
		t.Errorf("the refused writer changed the record: %+v", got)
	}
}

func TestWaitsForReleaseThenTakes(t *testing.T) {
	ctx := context.Background()
	s := &memStore{}
	c := &clock{t: time.Now()}
	a, err := Acquire(ctx, opts("alice", c), s)
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan Record, 1)
	o := opts("bob", &clock{t: t0})
	o.Now = time.Now
	o.Timeout = time.Minute
	o.OnWait = func(_ string, r Record) { waiting <- r }
	got := make(chan error, 1)
	var b *Lock
	go func() {
		var err error
		b, err = Acquire(ctx, o, s)
		got <- err
	}()
	select {
	case r := <-waiting:
		if r.Holder.User != "alice" {
			t.Errorf("waiting for %v, want alice", r.Holder)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob never started waiting")
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob did not get the lock after alice released it")
	}
	if r := s.get(); r == nil || r.Holder.User != "bob" {
		t.Errorf("record after bob took it: %+v", r)
	}
	if err := b.Release(ctx); err != nil || s.get() != nil {
		t.Errorf("release: %v, record %+v", err, s.get())
	}
}

func TestTimeoutBoundsTheWait(t *testing.T) {
	ctx := context.Background()
	s := &memStore{}
	c := &clock{t: time.Now()}
	if _, err := Acquire(ctx, opts("alice", c), s); err != nil {
		t.Fatal(err)
	}
	o := opts("bob", c)
	o.Now = time.Now
	o.Timeout = 50 * time.Millisecond
	start := time.Now()
	_, err := Acquire(ctx, o, s)
	var held *HeldError
	if !errors.As(err, &held) || held.Waited < o.Timeout || time.Since(start) > 5*time.Second {
		t.Fatalf("after %s: %v", time.Since(start), err)
	}
	if !strings.Contains(err.Error(), "; waited 0s") {
		t.Errorf("refusal does not say how long it waited: %s", err)
	}
}

func TestExpiredIsTakenOver(t *testing.T) {
	ctx := context.Background()
	s := &memStore{}
	c := &clock{t: t0}
	a, err := Acquire(ctx, opts("alice", c), s)
	if err != nil {
		t.Fatal(err)
	}
	// Alice's process dies: no renewals, no release. Past the TTL, bob takes over without force.
	c.Add(61 * time.Second)
	o := opts("bob", c)
	var took []bool
	o.OnTakeover = func(_ string, held Record, forced bool) {
		if held.ID != a.ID() {
			t.Errorf("took over %s, want alice's %s", held.ID, a.ID())
		}
		took = append(took, forced)
	}
	b, err := Acquire(ctx, o, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(took) != 1 || took[0] {
		t.Errorf("takeover callbacks %v, want one, not forced", took)
	}
	// Alice's renewal finds her lock lost, naming bob.
	if lost := a.Renew(ctx); lost == nil || lost.By == nil || lost.By.Holder.User != "bob" {
		t.Errorf("alice's renewal after the takeover: %v", lost)
	}
	// Alice's release must not remove bob's record.
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if r := s.get(); r == nil || r.ID != b.ID() {
		t.Errorf("alice's late release removed bob's lock: %+v", r)
	}
}

func TestForceUnlock(t *testing.T) {
	ctx := context.Background()
	s := &memStore{}
	c := &clock{t: t0}
	a, err := Acquire(ctx, opts("alice", c), s)
	if err != nil {
		t.Fatal(err)
	}
	c.Add(5 * time.Second)
	o := opts("bob", c)
	o.Force = true
	var forced []Record
	o.OnTakeover = func(_ string, held Record, f bool) {
		if f {
			forced = append(forced, held)
		}
	}
	b, err := Acquire(ctx, o, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(forced) != 1 || forced[0].Holder.User != "alice" || !forced[0].AcquiredAt.Equal(t0) {
		t.Errorf("forced takeover reported %+v, want alice's lock since %s", forced, t0)
	}
	if r := s.get(); r.ID != b.ID() || r.Holder.User != "bob" {
		t.Errorf("record after force: %+v", r)
	}
	lost := a.Renew(ctx)
	if lost == nil || !strings.Contains(lost.Error(), "taken over by the apply of bob on host-bob") {
		t.Errorf("alice's renewal: %v", lost)
	}
}

func TestRenewal(t *testing.T) {
	ctx := context.Background()
	s := &memStore{}
	c := &clock{t: t0}
	a, err := Acquire(ctx, opts("alice", c), s)
	if err != nil {
		t.Fatal(err)
	}
	c.Add(45 * time.Second)
	if lost := a.Renew(ctx); lost != nil {
		t.Fatal(lost)
	}
	r := s.get()
	if !r.RenewedAt.Equal(t0.Add(45*time.Second)) || !r.AcquiredAt.Equal(t0) {
		t.Errorf("renewed record %+v", r)
	}
	// Renewed 45 s in with a 60 s TTL: still alive at 100 s, so bob is refused.
	c.Add(55 * time.Second)
	if _, err := Acquire(ctx, opts("bob", c), s); !errors.As(err, new(*HeldError)) {
		t.Errorf("bob after a renewal: %v", err)
	}
	// A concurrent write between read and write is retried, not taken for a loss.
	s.beforeWrite = func() {
		s.mu.Lock()
		s.version++
		s.mu.Unlock()
	}
	if lost := a.Renew(ctx); lost != nil {
		t.Errorf("renewal after a conflicting write: %v", lost)
	}
}

func TestRenewsInTheBackground(t *testing.T) {
	ctx := context.Background()
	s := &memStore{}
	o := opts("alice", &clock{})
	o.Now = time.Now
	o.RenewEvery = 5 * time.Millisecond
	a, err := Acquire(ctx, o, s)
	if err != nil {
		t.Fatal(err)
	}
	first := s.get().RenewedAt
	deadline := time.Now().Add(10 * time.Second)
	for !s.get().RenewedAt.After(first) {
		if time.Now().After(deadline) {
			t.Fatal("the lock was not renewed in the background")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := a.Release(ctx); err != nil || s.get() != nil {
		t.Fatalf("release: %v, %+v", err, s.get())
	}
	if err := a.Release(ctx); err != nil {
		t.Errorf("second release: %v", err)
	}
}

func TestLostInTheBackgroundIsReported(t *testing.T) {
	ctx := context.Background()
	s := &memStore{}
	lost := make(chan *LostError, 1)
	o := opts("alice", &clock{})
	o.Now = time.Now
	o.RenewEvery = 5 * time.Millisecond
	o.OnLost = func(e *LostError) { lost <- e }
	a, err := Acquire(ctx, o, s)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release(ctx)
	f := opts("bob", &clock{t: time.Now()})
	f.Force = true
	if _, err := Acquire(ctx, f, s); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-lost:
		if e.By == nil || e.By.Holder.User != "bob" {
			t.Errorf("lost: %v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the loss was never reported")
	}
}

// Two writers racing for a free lock: the precondition lets exactly one win each round.
func TestRaceHasOneWinner(t *testing.T) {
	ctx := context.Background()
	s := &memStore{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	holders := 0
	maxHolders := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := opts("w"+strconv.Itoa(i), &clock{})
			o.Now = time.Now
			o.Timeout = 30 * time.Second
			l, err := Acquire(ctx, o, s)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			holders++
			maxHolders = max(maxHolders, holders)
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			holders--
			mu.Unlock()
			if err := l.Release(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if maxHolders != 1 {
		t.Errorf("%d writers held the lock at once", maxHolders)
	}
}

func TestAcquireReleasesWhatItTookOnFailure(t *testing.T) {
	ctx := context.Background()
	free, taken := &memStore{}, &memStore{}
	c := &clock{t: t0}
	if _, err := Acquire(ctx, opts("alice", c), taken); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(ctx, opts("bob", c), free, taken); !errors.As(err, new(*HeldError)) {
		t.Fatalf("want a *HeldError, got %v", err)
	}
	if r := free.get(); r != nil {
		t.Errorf("bob's refused Acquire left his record in the first store: %+v", r)
	}
}

// A holder on this host whose process is gone (a killed apply) is taken over at once, without
// waiting for its TTL; one whose process runs is waited for.
func TestGoneLocalHolderIsTakenOver(t *testing.T) {
	ctx := context.Background()
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skipf("cannot start a process: %v", err)
	}
	tests := []struct {
		name   string
		holder Holder
		taken  bool
	}{
		{"killed apply on this host", Holder{User: "alice", Host: host, PID: dead.Process.Pid}, true},
		{"running process on this host", Holder{User: "alice", Host: host, PID: os.Getppid()}, false},
		{"another host", Holder{User: "alice", Host: host + "-elsewhere", PID: dead.Process.Pid}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &memStore{}
			c := &clock{t: t0}
			ao := opts("alice", c)
			ao.Holder = tt.holder
			if _, err := Acquire(ctx, ao, s); err != nil {
				t.Fatal(err)
			}
			bo := opts("bob", c)
			bo.Timeout = 0
			_, err := Acquire(ctx, bo, s)
			var held *HeldError
			switch {
			case tt.taken && err != nil:
				t.Fatalf("bob: %v, want the lock of a gone holder taken over", err)
			case !tt.taken && !errors.As(err, &held):
				t.Fatalf("bob: %v, want a *HeldError", err)
			}
		})
	}
}

// A killed holder that its parent has not reaped yet (a zombie) is gone too.
func TestZombieHolderIsGone(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a process: %v", err)
	}
	h := Holder{User: "alice", Host: host, PID: cmd.Process.Pid}
	if localHolderGone(h) {
		t.Fatal("a running process is not gone")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	testutil.Eventually(t, 10*time.Second, "the killed, unreaped process to be seen as gone", func() error {
		if !localHolderGone(h) {
			return errors.New("still seen as running")
		}
		return nil
	})
}

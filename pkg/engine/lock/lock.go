package lock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/asmfed/kubectl-asmfed/internal/waitctx"
)

// Holder says who holds a lock, for the person who finds it held.
type Holder struct {
	// User is the person or account running the tool, when known.
	User string `json:"user,omitempty"`
	// Host is the machine (or pod) it runs on.
	Host string `json:"host,omitempty"`
	// PID is its process.
	PID int `json:"pid,omitempty"`
}

func (h Holder) String() string {
	user, host := h.User, h.Host
	if user == "" {
		user = "unknown user"
	}
	if host == "" {
		host = "unknown host"
	}
	if h.PID == 0 {
		return user + " on " + host
	}
	return fmt.Sprintf("%s on %s (pid %d)", user, host, h.PID)
}

// Record is what a held lock says of itself.
type Record struct {
	// Federation is the federation the lock keeps.
	Federation string `json:"federation"`
	// Operation is what the holder is doing: apply or destroy.
	Operation string `json:"operation,omitempty"`
	Holder    Holder `json:"holder"`
	// ID tells one acquisition from another, even of the same holder.
	ID         string    `json:"id"`
	AcquiredAt time.Time `json:"acquiredAt"`
	RenewedAt  time.Time `json:"renewedAt"`
	// TTLSeconds is how long after RenewedAt the lock lapses when its holder stops renewing it.
	TTLSeconds int64 `json:"ttlSeconds"`
}

// ExpiresAt is when the record lapses unless renewed.
func (r Record) ExpiresAt() time.Time {
	return r.RenewedAt.Add(time.Duration(r.TTLSeconds) * time.Second)
}

// Expired reports whether the holder stopped renewing the record for longer than its TTL.
func (r Record) Expired(now time.Time) bool { return now.After(r.ExpiresAt()) }

// Describe names the holder for people: who, what, since when.
func (r Record) Describe() string {
	op := r.Operation
	if op == "" {
		op = "work"
	}
	return fmt.Sprintf("the %s of %s, running since %s (last renewed %s, lock id %s)", op, r.Holder, r.AcquiredAt.UTC().Format(time.RFC3339),
		r.RenewedAt.UTC().Format(time.RFC3339), r.ID)
}

// Marshal encodes a record the way stores keep it.
func (r Record) Marshal() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// Unmarshal decodes a record kept by a store.
func Unmarshal(s string) (*Record, error) {
	var r Record
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return nil, fmt.Errorf("decode lock record: %w", err)
	}
	return &r, nil
}

// ErrConflict is returned by Store.Write when the record changed since it was read.
var ErrConflict = errors.New("the lock record changed since it was read")

// Store is one place a lock lives.
type Store interface {
	// Where names the place for people: "metadata item asmfed-lock-prod of project p".
	Where() string
	// Read returns the record (nil when the lock is free) and an opaque version for Write.
	Read(ctx context.Context) (*Record, string, error)
	// Write replaces the record, or removes it when rec is nil, only if it is still at version;
	// otherwise it returns ErrConflict.
	Write(ctx context.Context, rec *Record, version string) error
}

// HeldError refuses a lock held by someone else, naming them.
type HeldError struct {
	Where  string
	Record Record
	// Waited is how long the caller waited for it.
	Waited time.Duration
}

func (e *HeldError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "federation %s is locked by %s, held in %s", e.Record.Federation, e.Record.Describe(), e.Where)
	if e.Waited > 0 {
		fmt.Fprintf(&b, "; waited %s", e.Waited.Round(time.Second))
	}
	fmt.Fprintf(&b, " (hint: wait for it to finish and run again; if that process is gone, its lock lapses at %s, or take it now with --force-unlock)",
		e.Record.ExpiresAt().UTC().Format(time.RFC3339))
	return b.String()
}

// LostError says a held lock was taken over or could not be renewed, so the work under it stopped.
type LostError struct {
	Where string
	// By is the record that replaced ours, when one did.
	By  *Record
	Err error
}

func (e *LostError) Error() string {
	if e.By != nil {
		return fmt.Sprintf("the lock in %s was taken over by %s: stopped so that two writers do not interleave", e.Where, e.By.Describe())
	}
	return fmt.Sprintf("the lock in %s could not be renewed within its TTL: stopped so that two writers do not interleave: %v", e.Where, e.Err)
}

func (e *LostError) Unwrap() error { return e.Err }

// Options say how a lock is taken and kept.
type Options struct {
	// Federation and Operation go into the record.
	Federation, Operation string
	// Holder names the caller in the record.
	Holder Holder
	// Timeout is how long to wait for a lock someone else holds before refusing. Zero refuses at
	// once.
	Timeout time.Duration
	// TTL is how long the lock outlives its holder's last renewal. Default 2 minutes.
	TTL time.Duration
	// RenewEvery is how often the lock is renewed. Default TTL/4.
	RenewEvery time.Duration
	// Poll is how often a held lock is read again while waiting. Default 2 s.
	Poll time.Duration
	// Force takes the lock even when someone else holds it and it has not expired.
	Force bool
	// Now tells the time; tests replace it.
	Now func() time.Time
	// OnWait is told when a lock is found held and the caller starts waiting.
	OnWait func(where string, held Record)
	// Gone reports whether a holder is known to have ended: by default, a holder on this host whose
	// process no longer exists (an apply that was killed). Its lock is taken over at once rather
	// than after its TTL. A reused PID only makes the caller wait for the TTL.
	Gone func(Holder) bool
	// OnTakeover is told when a lock held by someone else was taken: forced, or expired.
	OnTakeover func(where string, held Record, forced bool)
	// OnLost is told when a held lock is lost; the caller should stop writing.
	OnLost func(err *LostError)
}

func (o Options) withDefaults() Options {
	if o.TTL <= 0 {
		o.TTL = 2 * time.Minute
	}
	if o.RenewEvery <= 0 {
		o.RenewEvery = o.TTL / 4
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.Gone == nil {
		o.Gone = localHolderGone
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Lock is a held lock, in one or more stores, renewed in the background until Release.
type Lock struct {
	opts Options
	id   string

	mu       sync.Mutex
	held     []*held
	stop     chan struct{}
	done     chan struct{}
	released bool
}

type held struct {
	store   Store
	rec     Record
	renewed time.Time
}

// Acquire takes the lock in every store, in order, waiting up to opts.Timeout for each one held
// by someone else. On failure the stores already taken are released. The lock is renewed every
// opts.RenewEvery until Release.
func Acquire(ctx context.Context, opts Options, stores ...Store) (*Lock, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	l := &Lock{opts: opts.withDefaults(), id: hex.EncodeToString(b[:]), stop: make(chan struct{}), done: make(chan struct{})}
	if err := l.Extend(ctx, stores...); err != nil {
		_ = l.releaseStores(context.WithoutCancel(ctx))
		return nil, err
	}
	go l.renewLoop()
	return l, nil
}

// ID identifies this acquisition in every record it wrote.
func (l *Lock) ID() string { return l.id }

// Extend takes the lock in more stores, with the same record, waiting as Acquire does.
func (l *Lock) Extend(ctx context.Context, stores ...Store) error {
	for _, s := range stores {
		h, err := l.take(ctx, s)
		if err != nil {
			return err
		}
		l.mu.Lock()
		l.held = append(l.held, h)
		l.mu.Unlock()
	}
	return nil
}

// take writes our record into one store, waiting while another live record holds it.
func (l *Lock) take(ctx context.Context, s Store) (*held, error) {
	o := l.opts
	start := o.Now()
	deadline := start.Add(o.Timeout)
	told := false
	for {
		cur, version, err := s.Read(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the lock in %s: %w", s.Where(), err)
		}
		now := o.Now()
		taking := cur == nil || cur.ID == l.id
		switch {
		case taking:
		case cur.Expired(now) || o.Force || o.Gone(cur.Holder):
			if o.OnTakeover != nil {
				o.OnTakeover(s.Where(), *cur, o.Force && !cur.Expired(now) && !o.Gone(cur.Holder))
			}
			taking = true
		case !now.Before(deadline):
			return nil, &HeldError{Where: s.Where(), Record: *cur, Waited: now.Sub(start)}
		default:
			if !told && o.OnWait != nil {
				o.OnWait(s.Where(), *cur)
			}
			told = true
			if err := waitctx.Sleep(ctx, min(o.Poll, deadline.Sub(now))); err != nil {
				return nil, err
			}
			continue
		}
		rec := Record{Federation: o.Federation, Operation: o.Operation, Holder: o.Holder, ID: l.id, AcquiredAt: now, RenewedAt: now,
			TTLSeconds: int64((o.TTL + time.Second - 1) / time.Second)}
		if cur != nil && cur.ID == l.id {
			rec.AcquiredAt = cur.AcquiredAt
		}
		switch err := s.Write(ctx, &rec, version); {
		case err == nil:
			return &held{store: s, rec: rec, renewed: now}, nil
		case errors.Is(err, ErrConflict):
			// Someone wrote between our read and write: read again, after a moment.
			if err := waitctx.Sleep(ctx, min(o.Poll, 200*time.Millisecond)); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("write the lock in %s: %w", s.Where(), err)
		}
	}
}

// renewLoop renews every held record until Release.
func (l *Lock) renewLoop() {
	defer close(l.done)
	t := time.NewTicker(l.opts.RenewEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			if lost := l.Renew(context.Background()); lost != nil {
				if l.opts.OnLost != nil {
					l.opts.OnLost(lost)
				}
				return
			}
		}
	}
}

// Renew writes a new renewal time into every held record now. It returns a *LostError when a
// record was replaced by someone else's, or could not be renewed for longer than the TTL.
func (l *Lock) Renew(ctx context.Context) *LostError {
	l.mu.Lock()
	hs := append([]*held(nil), l.held...)
	l.mu.Unlock()
	for _, h := range hs {
		if lost := l.renew(ctx, h); lost != nil {
			return lost
		}
	}
	return nil
}

func (l *Lock) renew(ctx context.Context, h *held) *LostError {
	ctx, cancel := context.WithTimeout(ctx, l.opts.RenewEvery)
	defer cancel()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var cur *Record
		var version string
		if cur, version, err = h.store.Read(ctx); err != nil {
			break
		}
		if cur == nil || cur.ID != l.id {
			return &LostError{Where: h.store.Where(), By: cur}
		}
		rec := h.rec
		rec.RenewedAt = l.opts.Now()
		if err = h.store.Write(ctx, &rec, version); err == nil {
			l.mu.Lock()
			h.rec, h.renewed = rec, rec.RenewedAt
			l.mu.Unlock()
			return nil
		}
		if !errors.Is(err, ErrConflict) {
			break
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.opts.Now().Sub(h.renewed) > l.opts.TTL {
		return &LostError{Where: h.store.Where(), Err: err}
	}
	return nil
}

// Release stops renewing and removes every record that is still ours. It is safe to call twice.
func (l *Lock) Release(ctx context.Context) error {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return nil
	}
	l.released = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	return l.releaseStores(ctx)
}

// releaseStores removes our records, the last taken first.
func (l *Lock) releaseStores(ctx context.Context) error {
	l.mu.Lock()
	hs := append([]*held(nil), l.held...)
	l.held = nil
	l.mu.Unlock()
	var errs []error
	for i := len(hs) - 1; i >= 0; i-- {
		s := hs[i].store
		for attempt := 0; ; attempt++ {
			cur, version, err := s.Read(ctx)
			if err == nil && (cur == nil || cur.ID != l.id) {
				break // taken over, or already gone: not ours to remove
			}
			if err == nil {
				err = s.Write(ctx, nil, version)
			}
			if err == nil {
				break
			}
			if !errors.Is(err, ErrConflict) || attempt == 4 {
				errs = append(errs, fmt.Errorf("release the lock in %s: %w", s.Where(), err))
				break
			}
		}
	}
	return errors.Join(errs...)
}

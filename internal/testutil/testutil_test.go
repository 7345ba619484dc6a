package testutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestPoll(t *testing.T) {
	tests := []struct {
		name    string
		passAt  int // f returns nil on this call; 0 = never
		timeout time.Duration
		wantErr string
		wantMax time.Duration
	}{
		{name: "first call passes", passAt: 1, timeout: time.Second},
		{name: "third call passes", passAt: 3, timeout: time.Second},
		{name: "never passes", timeout: 50 * time.Millisecond, wantMax: time.Second,
			wantErr: "the thing: not done after 50ms: last error: call 5 of f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			start := time.Now()
			err := Poll(tt.timeout, "the thing", func() error {
				calls++
				if calls == tt.passAt {
					return nil
				}
				return fmt.Errorf("call %d of f", calls)
			})
			if tt.wantErr == "" {
				if err != nil || calls != tt.passAt {
					t.Fatalf("err = %v after %d calls, want nil after %d", err, calls, tt.passAt)
				}
				return
			}
			if err == nil {
				t.Fatal("err = nil, want a timeout")
			}
			// The exact duration and call count depend on the scheduler; the shape does not.
			msg := err.Error()
			if !strings.HasPrefix(msg, "the thing: not done after ") || !strings.Contains(msg, fmt.Sprintf("last error: call %d of f", calls)) {
				t.Errorf("err = %q, want the shape of %q", msg, tt.wantErr)
			}
			if elapsed := time.Since(start); elapsed < tt.timeout || elapsed > tt.wantMax {
				t.Errorf("returned after %s, want between %s and %s", elapsed, tt.timeout, tt.wantMax)
			}
		})
	}
}

func TestPollKeepsTheLastErrorWrapped(t *testing.T) {
	sentinel := errors.New("not yet")
	if err := Poll(time.Millisecond, "x", func() error { return sentinel }); !errors.Is(err, sentinel) {
		t.Fatalf("err = %v, want it to wrap %v", err, sentinel)
	}
}

// recorder stands in for a *testing.T so the failures Golden reports can be checked.
type recorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) {
	r.failed, r.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

// golden runs Golden against a recorder in its own goroutine, as Fatal ends it.
func golden(t *testing.T, updating bool, path, got string) *recorder {
	old := *update
	*update = updating
	defer func() { *update = old }()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Golden(r, path, got)
	}()
	<-done
	return r
}

func TestGolden(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "out.golden")

	if r := golden(t, false, path, "a\n"); !r.failed || !strings.Contains(r.msg, "-update to create it") {
		t.Errorf("missing golden file: failed=%v msg=%q", r.failed, r.msg)
	}
	if r := golden(t, true, path, "a\nb\n"); r.failed {
		t.Fatalf("-update: %s", r.msg)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "a\nb\n" {
		t.Fatalf("-update wrote %q, %v", b, err)
	}
	if r := golden(t, false, path, "a\nb\n"); r.failed {
		t.Errorf("same content: %s", r.msg)
	}
	r := golden(t, false, path, "a\nc\n")
	if !r.failed || !strings.Contains(r.msg, path+" differs (-want +got") || !strings.Contains(r.msg, `c\n`) {
		t.Errorf("different content: failed=%v msg=%q", r.failed, r.msg)
	}
}

func TestHeapPeak(t *testing.T) {
	const size = 64 << 20
	h := StartHeapPeak(time.Millisecond)
	held := make([]byte, size)
	for i := range held {
		held[i] = 1 // touched, so it is not optimised away
	}
	time.Sleep(20 * time.Millisecond)
	runtime.KeepAlive(held)
	if got := h.Stop(); got < size {
		t.Errorf("peak with %d bytes held = %d, want at least that", size, got)
	}
	h = StartHeapPeak(time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	if got := h.Stop(); got >= size {
		t.Errorf("peak with nothing held = %d, want well under %d", got, size)
	}
}

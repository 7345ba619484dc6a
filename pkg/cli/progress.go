package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// progressUI shows apply's progress on stderr: a spinner per resource with its elapsed time on a
// terminal, plain lines otherwise (CI logs).
type progressUI interface {
	Event(plan.Event)
	Close()
}

func newProgress(w io.Writer, tty bool) progressUI {
	// A terminal without a size (a bare pseudo-terminal) cannot show spinners: mpb cuts every
	// line to its width. Plain lines work everywhere.
	if f, ok := w.(*os.File); ok && tty {
		if cols, rows, err := term.GetSize(int(f.Fd())); err != nil || cols < 20 || rows < 2 {
			tty = false
		}
	}
	if tty {
		return &spinnerProgress{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(160), mpb.WithRefreshRate(150*time.Millisecond)), bars: map[plan.Address]*spinnerBar{}}
	}
	return &lineProgress{w: w, last: map[plan.Address]time.Time{}, now: time.Now}
}

func verb(a plan.Action) string {
	switch a {
	case plan.Create:
		return "creating"
	case plan.Update:
		return "updating"
	case plan.Replace:
		return "replacing"
	case plan.Delete:
		return "deleting"
	case plan.Wait:
		return "resuming"
	}
	return "checking"
}

func outcome(e plan.Event) string {
	switch e.Status {
	case plan.StatusDone:
		if e.Action == plan.Wait {
			return fmt.Sprintf("resumed, done after %s", e.Elapsed.Round(time.Second))
		}
		return fmt.Sprintf("done after %s", e.Elapsed.Round(time.Second))
	case plan.StatusFailed:
		return fmt.Sprintf("failed after %s: %v", e.Elapsed.Round(time.Second), e.Err)
	case plan.StatusSkipped:
		return fmt.Sprintf("skipped: %s failed", e.Cause)
	case plan.StatusCancelled:
		return "not started: cancelled"
	}
	return string(e.Status)
}

// lineProgress prints a line when a step starts and ends, and its progress at most every 10 s.
type lineProgress struct {
	w    io.Writer
	mu   sync.Mutex
	last map[plan.Address]time.Time
	now  func() time.Time
}

func (l *lineProgress) Event(e plan.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e.Kind {
	case plan.EventStarted:
		l.last[e.Address] = l.now()
		fmt.Fprintf(l.w, "%s %s: %s...\n", e.Action.Symbol(), e.Address, verb(e.Action))
	case plan.EventProgress:
		if l.now().Sub(l.last[e.Address]) >= 10*time.Second {
			l.last[e.Address] = l.now()
			fmt.Fprintf(l.w, "  %s: still %s [%s elapsed] %s\n", e.Address, verb(e.Action), e.Elapsed.Round(time.Second), e.Message)
		}
	case plan.EventFinished:
		fmt.Fprintf(l.w, "%s %s: %s\n", e.Action.Symbol(), e.Address, outcome(e))
	}
}

func (l *lineProgress) Close() {}

// spinnerProgress keeps one spinner per running step.
type spinnerProgress struct {
	p    *mpb.Progress
	mu   sync.Mutex
	bars map[plan.Address]*spinnerBar
}

type spinnerBar struct {
	bar *mpb.Bar
	msg string
	mu  sync.Mutex
}

func (s *spinnerProgress) Event(e plan.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bars[e.Address]
	switch e.Kind {
	case plan.EventStarted:
		sb := &spinnerBar{msg: verb(e.Action)}
		label := fmt.Sprintf("%s %s ", e.Action.Symbol(), e.Address)
		sb.bar = s.p.New(1, mpb.SpinnerStyle(), mpb.BarWidth(1), mpb.BarFillerClearOnComplete(),
			mpb.PrependDecorators(decor.Name(label), decor.Elapsed(decor.ET_STYLE_GO, decor.WCSyncSpace)),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
				sb.mu.Lock()
				defer sb.mu.Unlock()
				return " " + sb.msg
			})))
		s.bars[e.Address] = sb
	case plan.EventProgress:
		if b != nil {
			b.mu.Lock()
			b.msg = e.Message
			b.mu.Unlock()
		}
	case plan.EventFinished:
		if b == nil {
			// Skipped or cancelled steps never started; show them as finished lines.
			fmt.Fprintf(s.p, "%s %s: %s\n", e.Action.Symbol(), e.Address, outcome(e))
			return
		}
		b.mu.Lock()
		b.msg = outcome(e)
		b.mu.Unlock()
		if e.Status == plan.StatusDone {
			b.bar.SetTotal(-1, true)
		} else {
			b.bar.Abort(false)
		}
	}
}

func (s *spinnerProgress) Close() { s.p.Wait() }

package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"
)

// process is one server started by an Environment. It runs in its own
// process group, writes stdout and stderr to logPath, and on Linux is killed
// by the kernel when the test binary dies (see spawn).
type process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited and been reaped
	err     error         // exit status, valid after done
}

// spawnRequests feeds the spawner goroutine. See spawn.
var (
	spawnOnce     sync.Once
	spawnRequests chan spawnRequest
)

type spawnRequest struct {
	cmd   *exec.Cmd
	reply chan error
}

// spawn starts cmd from one goroutine locked to its OS thread for the life of
// the process. The parent-death signal set in setProcAttr is delivered when
// the *thread* that forked the child exits; Go may retire ordinary threads,
// but a locked goroutine that never returns keeps its thread until the test
// binary exits, so children die exactly when the binary does, whether it
// returns, panics, times out or is killed.
func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnRequests = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread()
			for req := range spawnRequests {
				req.reply <- req.cmd.Start()
			}
		}()
	})
	reply := make(chan error, 1)
	spawnRequests <- spawnRequest{cmd: cmd, reply: reply}
	return <-reply
}

// startProcess runs bin with args, logging to logPath.
func startProcess(name, logPath, bin string, args ...string) (*process, error) {
	return startProcessIn(name, logPath, "", nil, bin, args...)
}

// startProcessIn is startProcess with a working directory (empty: the test's)
// and variables added to childEnv.
func startProcessIn(name, logPath, dir string, env []string, bin string, args ...string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log for %s: %w", name, err)
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(childEnv(), env...)
	setProcAttr(cmd)
	if err := spawn(cmd); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// childEnv is the environment of the servers: the test's, without variables
// that would point a client-side component at another cluster.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KUBECONFIG=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// pid is the process ID, which is also its process group ID.
func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop terminates the process group: SIGTERM, then SIGKILL after grace. It
// returns once the process has been reaped.
func (p *process) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	signalGroup(p.pid(), false)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	signalGroup(p.pid(), true)
	<-p.done
}

// logTail returns the last n lines of the process log.
func (p *process) logTail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", p.logPath, err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func (p *process) logContains(s string) bool {
	data, err := os.ReadFile(p.logPath)
	return err == nil && bytes.Contains(data, []byte(s))
}

// errPortInUse marks a start that failed because a chosen port was taken in
// the meantime; the caller retries with fresh ports.
type errPortInUse struct{ err error }

func (e errPortInUse) Error() string { return e.err.Error() }
func (e errPortInUse) Unwrap() error { return e.err }

// waitReady polls check every 100 ms until it succeeds, the process exits or
// ctx ends. Errors carry the end of the process log.
func (p *process) waitReady(ctx context.Context, what string, check func(context.Context) error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		// A check must not outlive the process: a port taken by a server
		// that never answers would otherwise hold it for the full timeout.
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		go func() {
			select {
			case <-p.done:
				cancel()
			case <-cctx.Done():
			}
		}()
		last = check(cctx)
		cancel() // also ends the watcher
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			err := fmt.Errorf("%s exited before %s (%v); end of %s:\n%s", p.name, what, p.err, p.logPath, p.logTail(30))
			if p.logContains("address already in use") {
				return errPortInUse{err}
			}
			return err
		case <-ctx.Done():
			return fmt.Errorf("%s: not %s: %w (last check: %v); end of %s:\n%s",
				p.name, what, ctx.Err(), last, p.logPath, p.logTail(30))
		case <-tick.C:
		}
	}
}

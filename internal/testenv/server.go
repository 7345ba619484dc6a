package testenv

import (
	"context"
	"errors"
	"time"
)

// Server is a process that runs beside the clusters, such as an istiod per
// cluster, started with StartServer under the same guarantees as the
// clusters' own servers: its own process group, stopped by PID, and on Linux
// killed by the kernel when the test binary dies.
type Server struct {
	p *process
}

// ServerOptions describe how StartServer runs a binary.
type ServerOptions struct {
	// Name appears in errors and Process listings, e.g. "c1/istiod".
	Name string
	// LogPath receives stdout and stderr (appended).
	LogPath string
	// Dir is the working directory; empty means the test's.
	Dir string
	// Env is added to the test's environment, without KUBECONFIG.
	Env []string
}

// StartServer runs bin with args. The caller must call Stop.
func StartServer(bin string, args []string, opts ServerOptions) (*Server, error) {
	p, err := startProcessIn(opts.Name, opts.LogPath, opts.Dir, opts.Env, bin, args...)
	if err != nil {
		return nil, err
	}
	return &Server{p: p}, nil
}

// PID is the process ID, which is also its process group ID.
func (s *Server) PID() int { return s.p.pid() }

// Process names the server, for leak checks.
func (s *Server) Process() Process { return Process{Name: s.p.name, PID: s.p.pid()} }

// Exited reports whether the process has exited and been reaped.
func (s *Server) Exited() bool { return s.p.exited() }

// Stop signals the process group with SIGTERM, then SIGKILL after grace, and
// returns once the process has been reaped. Calling it again is harmless.
func (s *Server) Stop(grace time.Duration) { s.p.stop(grace) }

// WaitReady polls check every 100 ms (each call bounded to 5 s) until it
// succeeds, the process exits or ctx ends. what completes "not …" in the
// error, which carries the end of the log. When the process exited
// complaining that an address is in use, PortInUse reports true for the
// error, and the caller may retry with fresh ports.
func (s *Server) WaitReady(ctx context.Context, what string, check func(context.Context) error) error {
	return s.p.waitReady(ctx, what, check)
}

// LogTail returns the last n lines of the log.
func (s *Server) LogTail(n int) string { return s.p.logTail(n) }

// PortInUse reports whether err is a start that failed because a chosen port
// was taken between FreePorts and the bind.
func PortInUse(err error) bool {
	var e errPortInUse
	return errors.As(err, &e)
}

// FreePorts returns n distinct free TCP ports on 127.0.0.1, never one this
// test binary has handed out before, for servers started with StartServer.
func FreePorts(n int) ([]int, error) { return freePorts(n) }

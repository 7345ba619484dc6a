package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/internal/sandbox"
)

const usage = `usage:
  asmfed-sandbox serve [--listen 127.0.0.1:8780] [--state DIR] [--pid-file FILE]
                       [--latency none|realistic] [--scale 0.01] [--fake-clock]
  asmfed-sandbox env   [--endpoint http://127.0.0.1:8780]

serve prints the environment to export, then serves until interrupted.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing command")
	}
	switch args[0] {
	case "serve":
		o := &serveOptions{}
		if err := o.parse(args[1:], stderr); err != nil {
			return err
		}
		if err := o.validate(); err != nil {
			return err
		}
		return o.run(ctx, stdout, stderr)
	case "env":
		fs := flag.NewFlagSet("env", flag.ContinueOnError)
		fs.SetOutput(stderr)
		endpoint := fs.String("endpoint", "http://127.0.0.1:8780", "simulator base URL")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		printEnv(stdout, *endpoint)
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

type serveOptions struct {
	listen    string
	stateDir  string
	pidFile   string
	latency   string
	scale     float64
	fakeClock bool
	kube      bool
}

func (o *serveOptions) parse(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8780", "address to listen on (loopback only)")
	fs.StringVar(&o.stateDir, "state", "", "directory to persist state in (empty: in memory)")
	fs.StringVar(&o.pidFile, "pid-file", "", "file to write \"<pid> <base URL>\" to once listening")
	fs.StringVar(&o.latency, "latency", "realistic", "latency model: none or realistic")
	fs.Float64Var(&o.scale, "scale", 0.01, "time scale for the realistic model (1 = real time)")
	fs.BoolVar(&o.fakeClock, "fake-clock", false, "operations complete only when /_fake/clock/advance is called")
	fs.BoolVar(&o.kube, "kube", false, "back every GKE cluster with a real local control plane, nodes and istiod (binaries from hack/testbin/ensure.sh)")
	return fs.Parse(args)
}

func (o *serveOptions) validate() error {
	host, _, err := net.SplitHostPort(o.listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", o.listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--listen %q: the simulator accepts unauthenticated calls, so it only listens on loopback (127.0.0.1)", o.listen)
	}
	if o.latency != "none" && o.latency != "realistic" {
		return fmt.Errorf("--latency %q: must be none or realistic", o.latency)
	}
	if o.scale <= 0 {
		return fmt.Errorf("--scale %v: must be greater than 0", o.scale)
	}
	return nil
}

func (o *serveOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	var opts []gcpfake.Option
	if o.stateDir != "" {
		opts = append(opts, gcpfake.WithStateDir(o.stateDir))
	}
	if o.latency == "realistic" {
		opts = append(opts, gcpfake.WithLatency(gcpfake.RealisticLatency(o.scale)))
	}
	if o.fakeClock {
		opts = append(opts, gcpfake.WithClock(gcpfake.NewFakeClock(time.Now())))
	}
	var tokenFile string
	if o.kube {
		base := o.stateDir
		if base == "" {
			dir, err := os.MkdirTemp("", "asmfed-sandbox-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			base = dir
		}
		tokenFile = filepath.Join(base, "access-token")
		kube, err := sandbox.StartKube(ctx, filepath.Join(base, "kube"), tokenFile, stderr, sandbox.WithWorkloads())
		if err != nil {
			return err
		}
		defer kube.Stop()
		opts = append(opts, gcpfake.WithClusterBackend(kube))
	}
	srv, err := gcpfake.New(opts...)
	if err != nil {
		return err
	}
	if err := srv.Listen(o.listen); err != nil {
		return err
	}
	defer srv.Close()
	if tokenFile != "" {
		// gcloud sends the token its clusters accept, which the Connect Gateway checks.
		printVars(stdout, gcpfake.EnvWithToken(srv.URL(), tokenFile))
		fmt.Fprintf(stdout, "export %s=%s\n", sandbox.AccessTokenEnv, tokenFile)
	} else {
		printEnv(stdout, srv.URL())
	}
	// The pid file is written last, and whole (renamed into place): once a script sees it, the
	// environment above is complete and the line is too.
	if o.pidFile != "" {
		if err := writeAtomically(o.pidFile, fmt.Sprintf("%d %s\n", os.Getpid(), srv.URL())); err != nil {
			return err
		}
		defer os.Remove(o.pidFile)
	}
	fmt.Fprintf(stderr, "asmfed-sandbox: serving Google Cloud APIs on %s (admin: %s/_fake/); Ctrl-C to stop\n", srv.URL(), srv.URL())
	<-ctx.Done()
	return nil
}

// writeAtomically writes data to path through a temporary file in the same directory, renamed
// into place, so that a reader never sees it partly written.
func writeAtomically(path, data string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func printEnv(w io.Writer, endpoint string) { printVars(w, gcpfake.Env(endpoint)) }

func printVars(w io.Writer, vars []string) {
	for _, kv := range vars {
		name, val, _ := strings.Cut(kv, "=")
		fmt.Fprintf(w, "export %s=%s\n", name, val)
	}
}

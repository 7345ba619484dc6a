package cli

import (
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/spf13/pflag"

	"github.com/asmfed/kubectl-asmfed/pkg/engine"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/lock"
)

// defaultLockTimeout is how long apply and destroy wait for another writer of the same federation.
// Long enough for a colleague's small change to finish, short enough that a CI job blocked behind
// a dead holder fails within its usual budget and says who held the lock.
const defaultLockTimeout = 5 * time.Minute

// lockFlags are the flags of commands that hold the federation's lock: apply and destroy.
type lockFlags struct {
	timeout time.Duration
	force   bool
}

func (l *lockFlags) add(fs *pflag.FlagSet) {
	fs.DurationVar(&l.timeout, "lock-timeout", defaultLockTimeout,
		"How long to wait while another apply or destroy of the federation holds its lock; then refuse, naming the holder (0s: refuse at once)")
	fs.BoolVar(&l.force, "force-unlock", false,
		"Take the federation's lock even when another apply or destroy holds it, and say whose it was (only when that process is gone: its lock lapses by itself 2m after it stopped)")
}

func (l *lockFlags) validate() error {
	if l.timeout < 0 {
		return fmt.Errorf("--lock-timeout must not be negative, got %s", l.timeout)
	}
	return nil
}

// options says who this process is, and reports on stderr when it waits for the lock or takes
// over someone else's.
func (l *lockFlags) options(g *globalOptions, cloud cloudFlags) engine.LockOptions {
	w := g.streams.ErrOut
	return engine.LockOptions{
		Holder:  holder(g, cloud),
		Timeout: l.timeout,
		Force:   l.force,
		OnWait: func(where string, held lock.Record) {
			fmt.Fprintf(w, "Waiting up to %s for the lock of federation %s, held by %s, in %s...\n", l.timeout, held.Federation, held.Describe(), where)
		},
		OnTakeover: func(where string, held lock.Record, forced bool) {
			why := fmt.Sprintf("it lapsed at %s", held.ExpiresAt().UTC().Format(time.RFC3339))
			if forced {
				why = "--force-unlock"
			}
			fmt.Fprintf(w, "Took over the lock of federation %s in %s (%s); it was held by %s\n", held.Federation, where, why, held.Describe())
		},
	}
}

// holder names this process in the lock: the local user (and the service account it acts as),
// the host and the process ID.
func holder(g *globalOptions, cloud cloudFlags) lock.Holder {
	var h lock.Holder
	if u, err := user.Current(); err == nil {
		h.User = u.Username
	} else {
		h.User = g.getenv("USER")
	}
	if cloud.impersonate != "" {
		h.User += " as " + cloud.impersonate
	}
	h.Host, _ = os.Hostname()
	h.PID = os.Getpid()
	return h
}

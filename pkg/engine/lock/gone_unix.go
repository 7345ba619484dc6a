//go:build unix

package lock

import (
	"errors"
	"os"
	"syscall"
)

// localHolderGone reports whether h ran on this host and its process no longer exists.
func localHolderGone(h Holder) bool {
	host, err := os.Hostname()
	if err != nil || h.Host == "" || h.Host != host || h.PID <= 0 || h.PID == os.Getpid() {
		return false
	}
	return errors.Is(syscall.Kill(h.PID, 0), syscall.ESRCH)
}

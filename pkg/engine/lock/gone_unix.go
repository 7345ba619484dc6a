//go:build unix

package lock

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"
)

// localHolderGone reports whether h ran on this host and its process no longer runs: it does not
// exist, or it is a zombie (killed, and not yet reaped by its parent).
func localHolderGone(h Holder) bool {
	host, err := os.Hostname()
	if err != nil || h.Host == "" || h.Host != host || h.PID <= 0 || h.PID == os.Getpid() {
		return false
	}
	if errors.Is(syscall.Kill(h.PID, 0), syscall.ESRCH) {
		return true
	}
	// Linux: the state is the field after the command name in parentheses.
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(h.PID) + "/stat")
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] == 'Z'
	}
	return false
}

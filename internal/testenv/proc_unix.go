//go:build unix

package testenv

import "syscall"

// signalGroup sends SIGTERM, or SIGKILL when kill is set, to the process
// group pgid.
func signalGroup(pgid int, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-pgid, sig)
}

// alive reports whether a process with this PID exists.
func alive(pid int) bool {
	return syscall.Kill(pid, 0) != syscall.ESRCH
}

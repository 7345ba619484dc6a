package testenv

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the child in its own process group, so that a terminal's
// Ctrl-C reaches only the test binary and teardown can signal the group, and
// asks the kernel to SIGKILL it when the parent dies.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

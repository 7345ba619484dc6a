//go:build unix && !linux

package testenv

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the child in its own process group. Without Linux's
// parent-death signal, children outlive a test binary that is killed; Stop
// and the test helpers' cleanups still end them on every other exit path.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

//go:build !unix

package testenv

import (
	"os"
	"os/exec"
)

// Local clusters need Unix process groups; on other systems startProcess
// still works but teardown can only kill the direct child.

func setProcAttr(*exec.Cmd) {}

func signalGroup(pid int, _ bool) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}

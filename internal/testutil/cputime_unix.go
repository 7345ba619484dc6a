//go:build unix

package testutil

import (
	"syscall"
	"time"
)

// CPUTime is the process's CPU time so far, user and system, for benchmarks that report the
// work an operation costs beside its wall time, which a loaded machine stretches.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

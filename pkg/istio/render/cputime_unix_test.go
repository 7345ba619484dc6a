//go:build unix

package render_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system) the process has used: unlike wall time, it hardly
// changes with what else the machine runs, so benchmarks report it beside their wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Package testutil holds the helpers every package's tests share: polling for a condition with a
// bounded deadline (Eventually, Poll), comparing output with a golden file (Golden), and what a
// benchmark's operation costs beside its wall time: its peak heap (StartHeapPeak) and the process's
// CPU time (CPUTime).
//
// Importing it registers the -update flag in the test binary, so `go test ./pkg/plan -update`
// rewrites that package's golden files. It is imported only from _test.go files and must not
// grow fixtures of its own: builders live in fedtest, servers in gcpfake and testenv.
package testutil

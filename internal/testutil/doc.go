// Package testutil holds the helpers every package's tests share: polling for a condition with a
// bounded deadline (Eventually, Poll), comparing output with a golden file (Golden), and the peak
// heap of a benchmark's operation (StartHeapPeak).
//
// Importing it registers the -update flag in the test binary, so `go test ./pkg/plan -update`
// rewrites that package's golden files. It is imported only from _test.go files and must not
// grow fixtures of its own: builders live in fedtest, servers in gcpfake and testenv.
package testutil

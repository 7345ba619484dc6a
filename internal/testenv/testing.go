package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxClusters bounds how many clusters one test may ask for (about 0.45 GB
// of memory each).
const MaxClusters = 5

// TB is the part of testing.TB this package uses. The package does not
// import testing, so that the sandbox command, which runs clusters outside
// any test, does not link it; *testing.T, *testing.B and testing.TB satisfy it.
type TB interface {
	Helper()
	Name() string
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Cleanup(func())
}

// short reports whether the test binary runs with -short: testing.Short
// without importing testing. The flag exists once the testing package has
// registered its flags, which it has by the time a test runs.
func short() bool {
	f := flag.Lookup("test.short")
	return f != nil && f.Value.String() == "true"
}

// Require skips t when the binaries are missing from the cache, or fails it
// when ASMFED_REQUIRE_TESTENV=1; the message says how to build them. -short
// skips too, unless clusters are required. Clusters and Shared.Get call it;
// tests that call Start themselves call it first.
func Require(t TB) {
	t.Helper()
	requireBinaries(t, "")
}

// RequireWorkloads is Require for environments with Options.Workloads,
// which need kube-scheduler and kwok as well.
func RequireWorkloads(t TB) {
	t.Helper()
	requireFound(t, func() error { _, err := FindWorkloadBinaries(""); return err })
}

func requireBinaries(t TB, binDir string) {
	t.Helper()
	requireFound(t, func() error { _, err := FindBinaries(binDir); return err })
}

func requireFound(t TB, find func() error) {
	t.Helper()
	required := os.Getenv(EnvRequire) == "1"
	if short() && !required {
		t.Skip("local clusters are not started in -short mode")
	}
	if err := find(); err != nil {
		if required {
			t.Fatalf("%v (%s=1 makes this a failure)", err, EnvRequire)
		}
		t.Skip(err)
	}
}

func clusterNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("c%d", i+1)
	}
	return names
}

// Clusters gives t n fresh clusters (1 to MaxClusters) named c1…cn, started
// in parallel, and stops them when t and its subtests end, including on
// failure or panic. It skips (or fails, see ASMFED_REQUIRE_TESTENV) when the
// binaries have not been built.
func Clusters(t TB, n int) []*Cluster {
	t.Helper()
	if n < 1 || n > MaxClusters {
		t.Fatalf("testenv.Clusters: want 1 to %d clusters, got %d", MaxClusters, n)
	}
	requireBinaries(t, "")
	env, err := Start(context.Background(), Options{Logf: t.Logf})
	if err != nil {
		t.Fatalf("start local clusters: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop local clusters: %v", err)
		}
	})
	clusters, err := env.AddClusters(context.Background(), clusterNames(n)...)
	if err != nil {
		t.Fatalf("start local clusters: %v", err)
	}
	return clusters
}

// Shared is a set of clusters shared by the tests of one package: started on
// first use (so a run that selects no cluster test starts nothing) and
// stopped when the package's tests finish. Tests that share clusters must
// not disturb each other: work in a namespace from Cluster.Namespace and give
// cluster-scoped objects unique names.
//
//	var clusters = &testenv.Shared{Count: 3}
//
//	func TestMain(m *testing.M) { os.Exit(clusters.Run(m)) }
//
//	func TestSomething(t *testing.T) {
//		cs := clusters.Get(t, 2) // the first two of the three
//		...
//	}
//
// If a test panics the binary exits without reaching Run's cleanup; the
// servers still die with it (Linux parent-death signal) and the next Start
// removes the leftover temporary directory.
type Shared struct {
	// Count is the number of clusters started on first use; default 3.
	Count int
	// Options configure the environment.
	Options Options

	mu       sync.Mutex
	started  bool
	env      *Environment
	clusters []*Cluster
	err      error
	start    time.Duration
}

// Run runs the package's tests (m is the *testing.M of TestMain) and then
// stops the clusters. Use it from TestMain and pass its result to os.Exit.
func (s *Shared) Run(m interface{ Run() int }) int {
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: stop shared clusters: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Stop stops the shared clusters, if they were started.
func (s *Shared) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.env == nil {
		return nil
	}
	return s.env.Stop()
}

// Get returns the first n shared clusters, starting all Count of them in
// parallel on the first call. It skips or fails t like Clusters.
func (s *Shared) Get(t TB, n int) []*Cluster {
	t.Helper()
	count := s.Count
	if count == 0 {
		count = 3
	}
	if n < 1 || n > count || count > MaxClusters {
		t.Fatalf("testenv.Shared: want 1 to %d of %d clusters (at most %d), got %d", count, count, MaxClusters, n)
	}
	requireBinaries(t, s.Options.BinDir)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.started = true
		begin := time.Now()
		opts := s.Options
		if opts.Logf == nil {
			opts.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
		}
		s.env, s.err = Start(context.Background(), opts)
		if s.err == nil {
			s.clusters, s.err = s.env.AddClusters(context.Background(), clusterNames(count)...)
		}
		s.start = time.Since(begin)
	}
	if s.err != nil {
		t.Fatalf("start shared local clusters: %v", s.err)
	}
	return s.clusters[:n]
}

// Environment is the shared environment, nil before the first Get.
func (s *Shared) Environment() *Environment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.env
}

// StartupTime is how long the first Get took to start the clusters.
func (s *Shared) StartupTime() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.start
}

var unsafeNameChars = regexp.MustCompile(`[^a-z0-9-]+`)

// UniqueName is a DNS label derived from t's name plus a random suffix, for
// objects in clusters shared between tests.
func UniqueName(t TB) string {
	base := unsafeNameChars.ReplaceAllString(strings.ToLower(t.Name()), "-")
	base = strings.Trim(base, "-")
	if len(base) > 40 {
		base = strings.TrimRight(base[:40], "-")
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return base + "-" + hex.EncodeToString(b[:])
}

// Namespace creates a namespace with a unique name for t and deletes it when
// t ends (without waiting for it to finish terminating).
func (c *Cluster) Namespace(t TB) string {
	t.Helper()
	name := UniqueName(t)
	ctx := context.Background()
	_, err := c.client.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s in cluster %s: %v", name, c.Name, err)
	}
	t.Cleanup(func() {
		err := c.client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s in cluster %s: %v", name, c.Name, err)
		}
	})
	return name
}

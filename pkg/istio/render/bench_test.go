package render_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asmfed/kubectl-asmfed/pkg/istio/render"
)

// withClusters gives the custom fixture n clusters, named bench-0…, on its first cluster's subnet.
func withClusters(b *testing.B, n int) render.Input {
	in := load(b, "testdata/custom/federation.yaml")
	d := *in.Desired
	d.Clusters = nil
	for i := 0; i < n; i++ {
		c := in.Desired.Clusters[0]
		c.Name = fmt.Sprintf("bench-%d", i)
		c.IstioClusterName = c.Name
		d.Clusters = append(d.Clusters, c)
	}
	in.Desired = &d
	return in
}

func benchRender(b *testing.B, n int) {
	in := withClusters(b, n)
	r := &render.Renderer{}
	b.ReportAllocs()
	renders := 0
	cpu0 := cpuTime()
	for b.Loop() {
		clusters, err := r.Render(in)
		if err != nil {
			b.Fatal(err)
		}
		if len(clusters) != n {
			b.Fatalf("%d clusters", len(clusters))
		}
		renders++
	}
	// The figures the targets are stated in: seconds for the whole federation, and per cluster;
	// and the CPU time of a render, which a busy machine changes far less than the wall time.
	perRender := b.Elapsed().Seconds() / float64(renders)
	b.ReportMetric(perRender, "s/federation")
	b.ReportMetric(perRender/float64(n), "s/cluster")
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(renders), "cpu-s/federation")
}

// BenchmarkRender1Cluster is one cluster's full install manifests.
func BenchmarkRender1Cluster(b *testing.B) { benchRender(b, 1) }

// BenchmarkRender20Clusters renders 20 clusters; they share one render.
func BenchmarkRender20Clusters(b *testing.B) { benchRender(b, 20) }

// BenchmarkRender20ClustersUnshared is what 20 clusters would cost without sharing.
func BenchmarkRender20ClustersUnshared(b *testing.B) {
	in := withClusters(b, 20)
	r := &render.Renderer{}
	overlays, err := render.Overlays(in)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		for _, c := range overlays {
			if _, err := r.RenderOne(c.Overlay, in.Desired.Mesh.Network); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkStartupVersion execs `kubectl-asmfed version`, a binary that links Istio's library,
// and reports the median start-up time. Build it first:
//
//	go build -o /tmp/kubectl-asmfed ./cmd/kubectl-asmfed
//	ASMFED_BIN=/tmp/kubectl-asmfed go test -run '^$' -bench StartupVersion ./pkg/istio/render
func BenchmarkStartupVersion(b *testing.B) {
	bin := os.Getenv("ASMFED_BIN")
	if bin == "" {
		b.Skip("set ASMFED_BIN to a built kubectl-asmfed")
	}
	bin, _ = filepath.Abs(bin)
	var times []time.Duration
	for b.Loop() {
		start := time.Now()
		out, err := exec.Command(bin, "version").CombinedOutput()
		times = append(times, time.Since(start))
		if err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		if !strings.Contains(string(out), "kubectl-asmfed") && len(out) == 0 {
			b.Fatal("no output")
		}
	}
	b.ReportMetric(float64(median(times).Microseconds())/1000, "median-ms")
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

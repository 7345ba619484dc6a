package gcplayer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
)

// Regions of the benchmarks' federations: apply's two, and plan's five.
var (
	applyRegions = []string{"us-west2", "us-east1"}
	planRegions  = []string{"us-west2", "us-east1", "us-central1", "europe-west1", "asia-east1"}
)

// benchFederation is n clusters over regions and two service projects of a Shared VPC.
func benchFederation(b *testing.B, n int, regions []string) *v1alpha1.Federation {
	b.Helper()
	f := fedtest.Generated("bench", n, regions, []string{"service-a", "service-b"}).Build()
	v1alpha1.SetDefaults(f)
	if _, errs := v1alpha1.Validate(f, nil, v1alpha1.ValidateOptions{SkipFiles: true}); len(errs) > 0 {
		b.Fatalf("generated federation is invalid: %v", errs)
	}
	return f
}

func benchEngine(b *testing.B, srv *gcpfake.Server, poll time.Duration) *gcplayer.Layer {
	b.Helper()
	clients, err := gcp.New(context.Background(), gcp.Config{Endpoint: srv.URL(), PollInterval: poll, MaxPollInterval: 10 * poll})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { clients.Close() })
	return gcplayer.New(clients, gcplayer.Options{})
}

// BenchmarkPlan measures a plan of an applied federation over five regions with 50 ms per API
// call, the calls one plan makes, and the most heap it holds (the simulator's, in the same
// process, included).
func BenchmarkPlan(b *testing.B) {
	for _, n := range []int{1, 5, 20, 100} {
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) {
			ctx := context.Background()
			srv := gcpfake.Start(b)
			// Polled no faster than the simulator can answer a hundred clusters' operations at once.
			e := benchEngine(b, srv, 25*time.Millisecond)
			f := benchFederation(b, n, planRegions)
			r, err := e.Plan(ctx, f)
			if err != nil {
				b.Fatal(err)
			}
			// Ten changes at a time: a hundred clusters' creates at once overload the simulator's
			// operation polling, and resuming a create that timed out reads the whole state again.
			rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{Parallelism: 10})
			if err != nil || rep.Err() != nil {
				b.Fatalf("setup apply: %v %v", err, rep.Err())
			}
			srv.SetLatency(&gcpfake.Latency{Call: map[string]time.Duration{"*": 50 * time.Millisecond}, Scale: 1})
			srv.ResetCounters()
			heap := testutil.StartHeapPeak(time.Millisecond)
			cpu := testutil.CPUTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r, err := e.Plan(ctx, f)
				if err != nil {
					b.Fatal(err)
				}
				if r.Plan.HasChanges() {
					b.Fatal("not converged")
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((testutil.CPUTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/plan")
			b.ReportMetric(float64(heap.Stop())/1e6, "peak-heap-MB")
			b.ReportMetric(float64(srv.TotalCalls())/float64(b.N), "calls/plan")
		})
	}
}

// BenchmarkApply measures creating a whole federation from nothing with production-shaped
// operation durations scaled by 0.02 (a cluster takes 7.2 s), in parallel and one change at a
// time.
func BenchmarkApply(b *testing.B) {
	for _, tc := range []struct {
		name        string
		clusters    int
		parallelism int
	}{
		{"clusters=1", 1, 10},
		{"clusters=10", 10, 10},
		{"clusters=1/serial", 1, 1},
		{"clusters=10/serial", 10, 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			f := benchFederation(b, tc.clusters, applyRegions)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				srv := gcpfake.Start(b, gcpfake.WithLatency(gcpfake.RealisticLatency(0.02)))
				e := benchEngine(b, srv, 100*time.Millisecond)
				b.StartTimer()
				r, err := e.Plan(ctx, f)
				if err != nil {
					b.Fatal(err)
				}
				rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{Parallelism: tc.parallelism})
				if err != nil || rep.Err() != nil {
					b.Fatalf("apply: %v %v", err, rep.Err())
				}
				b.StopTimer()
				srv.Close()
			}
		})
	}
}

package testenv_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
)

// BenchmarkStartStop measures a whole environment: etcd plus n clusters
// started in parallel until ready, then stopped. ready-s is the time to
// ready, stop-s the time Stop takes.
func BenchmarkStartStop(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(clusterCount(n), func(b *testing.B) {
			testenv.Require(b)
			names := []string{"c1", "c2", "c3"}[:n]
			var ready, stop time.Duration
			for b.Loop() {
				begin := time.Now()
				env, err := testenv.Start(context.Background(), testenv.Options{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := env.AddClusters(context.Background(), names...); err != nil {
					env.Stop()
					b.Fatal(err)
				}
				ready += time.Since(begin)
				begin = time.Now()
				if err := env.Stop(); err != nil {
					b.Fatal(err)
				}
				stop += time.Since(begin)
			}
			b.ReportMetric(ready.Seconds()/float64(b.N), "ready-s")
			b.ReportMetric(stop.Seconds()/float64(b.N), "stop-s")
		})
	}
}

func clusterCount(n int) string { return fmt.Sprintf("clusters=%d", n) }

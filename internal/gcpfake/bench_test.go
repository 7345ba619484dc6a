package gcpfake_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

// BenchmarkRESTGetFirewall measures simple REST reads with zero latency,
// the simulator's ceiling: it must stay far above what a plan issues.
func BenchmarkRESTGetFirewall(b *testing.B) {
	srv := gcpfake.Start(b)
	fw := `{"name":"bench","network":"global/networks/default","allowed":[{"IPProtocol":"tcp"}]}`
	resp, err := http.Post(srv.URL()+"/compute/v1/projects/demo/global/firewalls", "application/json", stringsReader(fw))
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("insert: %v %v", resp, err)
	}
	resp.Body.Close()
	url := srv.URL() + "/compute/v1/projects/demo/global/firewalls/bench?alt=json"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

// BenchmarkRESTListClusters measures the wide read a plan makes per
// project (locations/-) with ten clusters present.
func BenchmarkRESTListClusters(b *testing.B) {
	srv := gcpfake.Start(b)
	for _, n := range []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"} {
		resp, err := http.Post(srv.URL()+"/v1/projects/demo/locations/us-central1/clusters", "application/json",
			stringsReader(`{"cluster":{"name":"`+n+`"}}`))
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("create: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	url := srv.URL() + "/v1/projects/demo/locations/-/clusters"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

func stringsReader(s string) io.Reader { return &stringReader{s: s} }

type stringReader struct{ s string }

func (r *stringReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := copy(p, r.s)
	r.s = r.s[n:]
	return n, nil
}

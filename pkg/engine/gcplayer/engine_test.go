package gcplayer_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

func load(t *testing.T, path string) *v1alpha1.Federation {
	t.Helper()
	// Checked as after `kubectl asmfed ca init` beside it: the plug-in root is read from a copy.
	c, err := v1alpha1.CheckFile(path, v1alpha1.ValidateOptions{BaseDir: filepath.Dir(fedtest.WithRoot(t, path))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	return c.Federation
}

func newEngine(t *testing.T, srv *gcpfake.Server) *gcplayer.Layer {
	t.Helper()
	clients, err := gcp.New(context.Background(), gcp.Config{Endpoint: srv.URL(), PollInterval: 5 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond,
		Retry: gcp.RetryPolicy{Initial: time.Millisecond, Max: 10 * time.Millisecond, Budget: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clients.Close() })
	return gcplayer.New(clients, gcplayer.Options{})
}

func render(p *plan.Plan) string {
	var b bytes.Buffer
	_ = plan.TextRenderer{}.Render(&b, p)
	return b.String()
}

// Apply followed by plan shows no changes, for every sample.
func TestConvergenceForEverySample(t *testing.T) {
	samples, err := filepath.Glob("../../../samples/*/federation.yaml")
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, s := range samples {
		t.Run(filepath.Base(filepath.Dir(s)), func(t *testing.T) {
			srv := gcpfake.Start(t)
			e := newEngine(t, srv)
			r, err := e.Plan(context.Background(), load(t, s))
			if err != nil {
				t.Fatal(err)
			}
			if r.Plan.Summary.Add == 0 {
				t.Fatalf("first plan creates nothing:\n%s", render(r.Plan))
			}
			converge(t, e, s)
		})
	}
}

// After apply, the result of a plan says how to reach each cluster.
func TestClusterAccess(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	converge(t, e, "../../../samples/two-cluster-private/federation.yaml")
	r, err := e.Plan(context.Background(), load(t, "../../../samples/two-cluster-private/federation.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cluster3", "cluster4"} {
		a, ok := r.Clusters[name]
		if !ok || a.Endpoint == "" || a.PrivateEndpoint == "" || len(a.CAData) == 0 || a.Status != "RUNNING" {
			t.Errorf("%s: %+v", name, a)
		}
	}
}

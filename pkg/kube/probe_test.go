package kube_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/kube"
)

// A probe answers whether a real API server lets the caller in: nil for an administrator, the
// refusal's status and body for a token it does not know (401) and for a user Kubernetes does not
// authorize (403, a Status object).
func TestProbeRealAPIServer(t *testing.T) {
	c := testenv.Clusters(t, 1)[0]
	if err := kube.Probe(context.Background(), c.RESTConfig(), 10*time.Second); err != nil {
		t.Fatalf("administrator: %v", err)
	}
	nobody, err := c.UserConfig("nobody@example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		cfg    *rest.Config
		status int
		kube   bool
	}{
		{"a token the server does not know", c.TokenConfig("forged"), 401, true},
		{"a user without RBAC", nobody, 403, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := kube.Probe(context.Background(), tc.cfg, 10*time.Second)
			var pe *kube.ProbeError
			if !errors.As(err, &pe) || pe.Status != tc.status || kube.IsKubeStatus(pe.Body) != tc.kube || pe.Host != c.Host {
				t.Fatalf("probe: %v, want HTTP %d from the API server at %s", err, tc.status, c.Host)
			}
		})
	}
}

// A probe reads under the configuration's path (a gateway's prefix), and tells a server that does
// not answer (a timeout) and an address nothing listens at (connection refused) apart.
func TestProbeTransport(t *testing.T) {
	var asked string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.URL.Path
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(404)
		w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`))
	}))
	defer srv.Close()
	if err := kube.Probe(context.Background(), &rest.Config{Host: srv.URL + "/v1/projects/1/locations/global/gkeMemberships/c1"}, time.Second); err != nil {
		t.Fatalf("an API server without the namespace answered: %v", err)
	}
	if asked != "/v1/projects/1/locations/global/gkeMemberships/c1/api/v1/namespaces/kube-system" {
		t.Errorf("probed %s", asked)
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	err = kube.Probe(context.Background(), &rest.Config{Host: "http://" + lis.Addr().String()}, 300*time.Millisecond)
	var pe *kube.ProbeError
	if !errors.As(err, &pe) || !pe.TimedOut() || pe.Status != 0 {
		t.Errorf("a server that never answers: %v, want a timeout", err)
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	closed.Close()
	err = kube.Probe(context.Background(), &rest.Config{Host: "http://" + addr}, time.Second)
	if !errors.As(err, &pe) || !errors.Is(err, syscall.ECONNREFUSED) || pe.TimedOut() || !strings.Contains(err.Error(), addr) {
		t.Errorf("nothing listening: %v, want connection refused naming %s", err, addr)
	}
}

package kube_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/kube"
)

func TestConfigsFromKubeconfigNamesMissingContexts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	kc := `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://10.0.0.1"}
users:
- name: a
  user: {token: x}
contexts:
- name: ctx-a
  context: {cluster: a, user: a}
`
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	loader := &clientcmd.ClientConfigLoadingRules{ExplicitPath: path}
	_, err := kube.ConfigsFromKubeconfig(loader, map[string]string{"c1": "ctx-a", "c2": "gke_p_us-west2_c2", "c3": "nope"})
	var me *kube.MissingContextsError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v, want *kube.MissingContextsError", err)
	}
	want := `cluster c2 names kubeconfig context "gke_p_us-west2_c2"; cluster c3 names kubeconfig context "nope", which the kubeconfig does not have (contexts: ctx-a); hint: fix kubeconfigContext in the file, or pass --kubeconfig with the right file`
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
	cfgs, err := kube.ConfigsFromKubeconfig(loader, map[string]string{"c1": "ctx-a"})
	if err != nil {
		t.Fatal(err)
	}
	if c := cfgs["c1"]; c.Host != "https://10.0.0.1" || c.QPS != kube.DefaultQPS || c.Burst != kube.DefaultBurst {
		t.Errorf("config = host %s qps %v burst %d", c.Host, c.QPS, c.Burst)
	}
}

func TestConfigForEndpointValidates(t *testing.T) {
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})
	for _, tc := range []struct {
		name string
		ep   kube.Endpoint
		want string
	}{
		{"no host", kube.Endpoint{CAData: []byte("x"), TokenSource: ts}, "cluster endpoint has no address"},
		{"no CA", kube.Endpoint{Host: "10.0.0.2", TokenSource: ts}, "cluster endpoint 10.0.0.2 has no CA certificate"},
		{"no tokens", kube.Endpoint{Host: "10.0.0.2", CAData: []byte("x")}, "cluster endpoint 10.0.0.2 has no token source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kube.ConfigForEndpoint(tc.ep)
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v, want %s", err, tc.want)
			}
		})
	}
	cfg, err := kube.ConfigForEndpoint(kube.Endpoint{Host: "10.0.0.2", CAData: []byte("x"), TokenSource: ts})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://10.0.0.2" || cfg.ExecProvider != nil || cfg.AuthProvider != nil {
		t.Errorf("config = %+v", cfg)
	}
}

// TestConfigForEndpointAuthenticates reaches a real API server the way the tool reaches GKE:
// endpoint, CA and an OAuth token source, nothing else.
func TestConfigForEndpointAuthenticates(t *testing.T) {
	testenv.Require(t)
	const token = "endpoint-test-token"
	env, err := testenv.Start(context.Background(), testenv.Options{AdminToken: token, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	cs, err := env.AddClusters(context.Background(), "gke1")
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	ts := tokenFunc(func() (*oauth2.Token, error) {
		calls++
		return &oauth2.Token{AccessToken: token, Expiry: time.Now().Add(time.Hour)}, nil
	})
	cfg, err := kube.ConfigForEndpoint(kube.Endpoint{Host: strings.TrimPrefix(cs[0].Host, "https://"), CAData: cs[0].CAData, TokenSource: ts})
	if err != nil {
		t.Fatal(err)
	}
	k := kubernetes.NewForConfigOrDie(cfg)
	for range 3 {
		if _, err := k.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Errorf("token source called %d times for 3 requests, want 1 (tokens are reused until they expire)", calls)
	}
}

type tokenFunc func() (*oauth2.Token, error)

func (f tokenFunc) Token() (*oauth2.Token, error) { return f() }

// An endpoint that would carry the OAuth token in clear is refused; plain http on loopback is the
// simulator's, and only allowed when asked for.
func TestConfigForEndpointRefusesPlainHTTP(t *testing.T) {
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})
	for _, tc := range []struct {
		name     string
		host     string
		loopback bool
		ok       bool
	}{
		{"address", "10.0.0.2", false, true},
		{"https", "https://10.0.0.2:443", false, true},
		{"http", "http://10.0.0.2", false, false},
		{"http even when the simulator is allowed", "http://10.0.0.2", true, false},
		{"http to a name that resolves anywhere", "http://localhost.evil.example", true, false},
		{"http on loopback without the simulator", "http://127.0.0.1:8080", false, false},
		{"http on loopback for the simulator", "http://127.0.0.1:8080", true, true},
		{"http on IPv6 loopback for the simulator", "http://[::1]:8080", true, true},
		{"http on localhost for the simulator", "http://localhost:8080", true, true},
		{"another scheme", "ftp://10.0.0.2", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kube.ConfigForEndpoint(kube.Endpoint{Host: tc.host, CAData: []byte("x"), TokenSource: ts, AllowLoopbackHTTP: tc.loopback})
			if (err == nil) != tc.ok {
				t.Errorf("ConfigForEndpoint(%s, loopback %v): err = %v, want ok %v", tc.host, tc.loopback, err, tc.ok)
			}
		})
	}
}

package testenv

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The cache is keyed by version, so the constants must name what
// hack/testbin/go.mod builds.
func TestVersionsMatchToolsModule(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "hack", "testbin", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"k8s.io/kubernetes " + KubernetesVersion,
		"go.etcd.io/etcd/server/v3 " + EtcdVersion,
		"k8s.io/api => k8s.io/api v0." + strings.TrimPrefix(KubernetesVersion, "v1."),
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("hack/testbin/go.mod does not contain %q; update the constants in binaries.go", want)
		}
	}
	data, err = os.ReadFile(filepath.Join("..", "..", "hack", "testbin", "kwok", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "sigs.k8s.io/kwok " + KwokVersion; !strings.Contains(string(data), want) {
		t.Errorf("hack/testbin/kwok/go.mod does not contain %q; update KwokVersion in binaries.go", want)
	}
	// The kwok files testenv embeds name the version they come from.
	for _, f := range [][]byte{kwokStages, kwokPortForwardCRD} {
		if !strings.Contains(string(f), "kwok "+KwokVersion) {
			t.Errorf("an embedded kwok file does not say it comes from kwok %s:\n%.200s", KwokVersion, f)
		}
	}
}

func TestCacheDir(t *testing.T) {
	tests := []struct {
		name, cache, xdg, home, want string
	}{
		{name: "explicit", cache: "/c", xdg: "/x", home: "/h", want: "/c"},
		{name: "xdg", xdg: "/x", home: "/h", want: "/x/asmfed"},
		{name: "home", home: "/h", want: "/h/.cache/asmfed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvCache, tt.cache)
			t.Setenv("XDG_CACHE_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			if got := CacheDir(); got != tt.want {
				t.Errorf("CacheDir() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFindBinaries(t *testing.T) {
	dir := t.TempDir()
	_, err := FindBinaries(dir)
	var missing *MissingBinariesError
	if !errors.As(err, &missing) || len(missing.Missing) != 3 {
		t.Fatalf("FindBinaries(empty) = %v, want 3 missing", err)
	}
	if !strings.Contains(err.Error(), BuildCommand) {
		t.Errorf("error %q does not say how to build", err)
	}
	for _, name := range []string{"etcd-" + EtcdVersion, "kube-apiserver-" + KubernetesVersion, "kube-controller-manager-" + KubernetesVersion} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := FindBinaries(dir)
	if err != nil {
		t.Fatalf("FindBinaries = %v", err)
	}
	if want := filepath.Join(dir, "kube-apiserver-"+KubernetesVersion); b.APIServer != want {
		t.Errorf("APIServer = %q, want %q", b.APIServer, want)
	}

	// Clusters with workloads need the scheduler and kwok too, and the error names them as
	// build.sh takes them.
	_, err = FindWorkloadBinaries(dir)
	if !errors.As(err, &missing) || len(missing.Missing) != 2 || !strings.Contains(err.Error(), BuildCommand+" kube-scheduler kwok`") {
		t.Fatalf("FindWorkloadBinaries without the scheduler and kwok = %v, want both missing and how to build them", err)
	}
	for _, name := range []string{"kube-scheduler-" + KubernetesVersion, "kwok-" + KwokVersion} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if b, err = FindWorkloadBinaries(dir); err != nil || b.Kwok != filepath.Join(dir, "kwok-"+KwokVersion) {
		t.Fatalf("FindWorkloadBinaries = %+v, %v", b, err)
	}
}

// The kwok configuration: kwok's own stages, and for ProbedPods, pod-ready kept off the selected
// pods and a stage that starts them unready.
func TestKwokConfig(t *testing.T) {
	stages := func(cfg []byte) map[string]string {
		t.Helper()
		docs, err := decodeYAML(cfg)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, d := range docs {
			if d.GetKind() != "Stage" {
				t.Errorf("%s %s in the kwok configuration", d.GetKind(), d.GetName())
			}
			exprs, _, _ := unstructured.NestedSlice(d.Object, "spec", "selector", "matchExpressions")
			out[d.GetName()] = fmt.Sprint(exprs)
		}
		return out
	}
	plain, err := kwokConfig("")
	if err != nil {
		t.Fatal(err)
	}
	got := stages(plain)
	if len(got) != 5 || got["pod-ready"] == "" || strings.Contains(got["pod-ready"], "labels") {
		t.Errorf("stages without ProbedPods: %v", got)
	}
	probed, err := kwokConfig("app=istiod")
	if err != nil {
		t.Fatal(err)
	}
	got = stages(probed)
	for name, want := range map[string]string{
		"pod-ready":        `operator:NotIn values:[istiod]`,
		"probed-pod-start": `operator:In values:[istiod]`,
	} {
		if !strings.Contains(got[name], `key:.metadata.labels["app"]`) || !strings.Contains(got[name], want) {
			t.Errorf("stage %s selects %s, want the label app with %s", name, got[name], want)
		}
	}
	for _, bad := range []string{"app", "=x", `a"b=c`} {
		if _, err := kwokConfig(bad); err == nil {
			t.Errorf("kwokConfig(%q) accepted", bad)
		}
	}
}

func TestFreePortsDistinct(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		ports, err := freePorts(3)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ports {
			if seen[p] {
				t.Fatalf("port %d handed out twice", p)
			}
			seen[p] = true
		}
	}
}

func TestPKI(t *testing.T) {
	ca, err := newCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	serving, err := servingCert(ca)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	for _, host := range []string{"127.0.0.1", "kubernetes.default.svc", serviceIP} {
		if _, err := serving.cert.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err != nil {
			t.Errorf("serving cert for %s: %v", host, err)
		}
	}
	client, err := clientCert(ca, "admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		t.Errorf("client cert: %v", err)
	}
	if got := client.cert.Subject.Organization; len(got) != 1 || got[0] != "system:masters" {
		t.Errorf("client cert groups = %v", got)
	}
}

package istiodtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIstioVersion keeps IstioVersion, which names the cached binary, in step with the
// istio.io/istio that go.mod pins and that hack/istiobin builds pilot-discovery from.
func TestIstioVersion(t *testing.T) {
	for _, f := range []string{"go.mod", "hack/istiobin/go.mod"} {
		data, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "istio.io/istio "+IstioVersion) {
			t.Errorf("%s does not require istio.io/istio %s; update IstioVersion in binary.go", f, IstioVersion)
		}
	}
}

func TestCRDs(t *testing.T) {
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range crds {
		names[c.GetName()] = true
	}
	for _, want := range []string{"virtualservices.networking.istio.io", "serviceentries.networking.istio.io",
		"peerauthentications.security.istio.io", "telemetries.telemetry.istio.io"} {
		if !names[want] {
			t.Errorf("CRD %s missing from %d CRDs", want, len(crds))
		}
	}
}

// TestArgsLoopback checks that every listener istiod opens is bound to 127.0.0.1.
func TestArgsLoopback(t *testing.T) {
	args := Args("/k", "c1", "/d", []int{1, 2, 3, 4, 5, 6})
	listeners := map[string]bool{"--httpAddr": true, "--httpsAddr": true, "--grpcAddr": true,
		"--secureGRPCAddr": true, "--monitoringAddr": true, "--ctrlz_address": true}
	seen := 0
	for n := 0; n+1 < len(args); n++ {
		if listeners[args[n]] {
			seen++
			if !strings.HasPrefix(args[n+1], "127.0.0.1") {
				t.Errorf("%s %s is not on 127.0.0.1", args[n], args[n+1])
			}
		}
	}
	if seen != len(listeners) {
		t.Errorf("found %d of %d listener flags in %v", seen, len(listeners), args)
	}
	env := strings.Join(Env("c1", "1-31-0", 5*time.Second), " ")
	for _, want := range []string{"POD_NAMESPACE=istio-system", "CLUSTER_ID=c1", "REVISION=1-31-0", "PILOT_REMOTE_CLUSTER_TIMEOUT=5s"} {
		if !strings.Contains(env, want) {
			t.Errorf("env %q lacks %s", env, want)
		}
	}
}

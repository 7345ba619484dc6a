package verify_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/verify"
)

// With a managed control plane, ASMFED-ACCESS-002 reads asm-options of every cluster from real
// API servers: c1 is connected throughout; c2's ConfigMap is missing, lacks the key, says
// disconnected, then says connected. The remote-secret checks and the peers' paths to the API
// servers are skipped, saying why; with an in-cluster control plane it is the other way round.
func TestMultiClusterConnected(t *testing.T) {
	cs := testenv.Clusters(t, 2)
	ctx := context.Background()
	c1, c2 := cs[0], cs[1]
	for _, c := range cs {
		if _, err := c.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: federation.IstioNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	write := func(c *testenv.Cluster, data map[string]string) {
		t.Helper()
		cms := c.Client().CoreV1().ConfigMaps(federation.IstioNamespace)
		if err := cms.Delete(ctx, federation.ASMOptionsName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		if data == nil {
			return
		}
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: federation.ASMOptionsName}, Data: data}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	write(c1, map[string]string{federation.MultiClusterModeKey: federation.MultiClusterConnected, "other": "kept"})
	env := func(controlPlane string) *verify.Env {
		return &verify.Env{
			Federation: &v1alpha1.Federation{Spec: v1alpha1.FederationSpec{
				Clusters: []v1alpha1.Cluster{{Name: c1.Name}, {Name: c2.Name}, {Name: "c3"}},
				Mesh:     v1alpha1.Mesh{ControlPlane: controlPlane},
			}},
			Derived:  &federation.Desired{},
			Clusters: map[string]*rest.Config{c1.Name: c1.RESTConfig(), c2.Name: c2.RESTConfig()},
			NotReady: []string{"c3"},
		}
	}
	connected := "asm-options sets multicluster_mode: connected"
	tests := []struct {
		name    string
		c2      map[string]string
		status  verify.Status
		message string
		hint    string
	}{
		{name: "missing", status: verify.Fail, message: "istio-system/asm-options does not exist: the managed control plane sends none of " + c2.Name + "'s endpoints",
			hint: "kubectl create configmap asm-options -n istio-system --from-literal=multicluster_mode=connected"},
		{name: "without the key", c2: map[string]string{"other": "x"}, status: verify.Fail, message: "asm-options has no multicluster_mode",
			hint: `kubectl patch configmap/asm-options -n istio-system --type merge -p '{"data":{"multicluster_mode":"connected"}}'`},
		{name: "disconnected", c2: map[string]string{federation.MultiClusterModeKey: "disconnected"}, status: verify.Fail,
			message: `asm-options sets multicluster_mode to "disconnected", not "connected"`, hint: "kubectl asmfed apply sets it back"},
		{name: "connected", c2: map[string]string{federation.MultiClusterModeKey: federation.MultiClusterConnected}, status: verify.OK, message: connected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			write(c2, tt.c2)
			r := verify.Run(ctx, env(v1alpha1.ControlPlaneManaged), verify.Checks())
			got := byCheck(r, "ASMFED-ACCESS-002")
			if len(got) != 3 {
				t.Fatalf("findings %+v, want one per cluster", got)
			}
			if got[0].Subject != c1.Name || got[0].Status != verify.OK || !strings.Contains(got[0].Message, connected) {
				t.Errorf("%s: %+v", c1.Name, got[0])
			}
			if got[1].Subject != c2.Name || got[1].Status != tt.status || !strings.Contains(got[1].Message, tt.message) || !strings.Contains(got[1].Hint, tt.hint) {
				t.Errorf("%s: %+v\nwant %s, %q, hint %q", c2.Name, got[1], tt.status, tt.message, tt.hint)
			}
			if got[2].Subject != "c3" || got[2].Status != verify.Skipped {
				t.Errorf("c3, which cannot be reached: %+v", got[2])
			}
			for _, id := range []string{"ASMFED-ACCESS-001", "ASMFED-NET-002", "ASMFED-NET-003", "ASMFED-NET-004"} {
				if f := byCheck(r, id); len(f) != 1 || f[0].Status != verify.Skipped || !strings.Contains(f[0].Message, "ASMFED-ACCESS-002") {
					t.Errorf("%s with a managed control plane: %+v", id, f)
				}
			}
		})
	}

	// In-cluster: asm-options is not looked at; the remote secrets are.
	write(c2, nil)
	r := verify.Run(ctx, env(v1alpha1.ControlPlaneInCluster), verify.Checks())
	if f := byCheck(r, "ASMFED-ACCESS-002"); len(f) != 1 || f[0].Status != verify.Skipped || f[0].Message != "in-cluster control plane" {
		t.Errorf("ASMFED-ACCESS-002 in-cluster: %+v", f)
	}
	if f := byCheck(r, "ASMFED-ACCESS-001"); len(f) != 1 || f[0].Status != verify.Skipped || f[0].Message != "nothing to check" {
		t.Errorf("ASMFED-ACCESS-001 in-cluster, without remote secrets in the model: %+v", f)
	}
}

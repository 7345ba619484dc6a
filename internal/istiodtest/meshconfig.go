package istiodtest

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
)

// AppliedOptions are the options of an istiod that runs as the Deployment apply installed would:
// for revision, with the mesh configuration apply rendered and wrote into the cluster, the keys
// mesh and meshNetworks of ConfigMap istio-system/istio-<revision> that the Deployment mounts.
// Tests start istiod with them instead of a mesh configuration of their own.
func AppliedOptions(ctx context.Context, c *testenv.Cluster, revision string) (Options, error) {
	name := "istio-" + revision
	cm, err := c.Client().CoreV1().ConfigMaps(Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return Options{}, fmt.Errorf("the mesh configuration apply wrote in %s: %w", c.Name, err)
	}
	mesh, ok := cm.Data["mesh"]
	if !ok {
		return Options{}, fmt.Errorf("%s/%s of %s has no key mesh", Namespace, name, c.Name)
	}
	return Options{Revision: revision, MeshConfig: mesh, MeshNetworks: cm.Data["meshNetworks"]}, nil
}

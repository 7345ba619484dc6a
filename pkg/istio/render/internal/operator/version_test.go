package operator

import (
	"testing"

	"istio.io/istio/istioctl/pkg/install/k8sversion"
)

// The charts are rendered for the same Kubernetes version as Istio's own pipeline renders them for.
func TestMinK8SVersion(t *testing.T) {
	if minK8SVersion != k8sversion.MinK8SVersion {
		t.Errorf("minK8SVersion is %d, Istio's is %d: update it", minK8SVersion, k8sversion.MinK8SVersion)
	}
}

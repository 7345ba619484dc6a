package federation

import (
	"fmt"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
)

// AddObjects adds each cluster's Kubernetes objects to d, a model CompileGoogleCloud compiled
// from f: with the same facts, the result equals what Compile returns. The objects follow from
// the Google Cloud side and the file alone (the clusters, the remote-secret pairs, the mesh, the
// Cloud SQL instances the facts resolved), so a plan can read and diff Google Cloud without
// building them, and build them only where the cluster side needs them. Add them before
// AttachControlPlane; d must have no objects yet.
func AddObjects(f *v1alpha1.Federation, d *Desired) error {
	if f == nil || d == nil {
		return fmt.Errorf("add Kubernetes objects: nil federation or model")
	}
	if d.Federation != f.Metadata.Name {
		return fmt.Errorf("add Kubernetes objects: the model is of federation %q, the file of %q (compile the model from the same file)", d.Federation, f.Metadata.Name)
	}
	if len(d.Clusters) != len(f.Spec.Clusters) {
		return fmt.Errorf("add Kubernetes objects: the model has %d clusters, the file %d (compile the model from the same file)", len(d.Clusters), len(f.Spec.Clusters))
	}
	inFile := map[string]bool{}
	for _, cl := range f.Spec.Clusters {
		inFile[cl.Name] = true
	}
	for _, cd := range d.Clusters {
		if !inFile[cd.Name] {
			return fmt.Errorf("add Kubernetes objects: cluster %s of the model is not in the file (compile the model from the same file)", cd.Name)
		}
		if len(cd.Objects) > 0 {
			return fmt.Errorf("add Kubernetes objects: cluster %s has %d objects already (add them once, to a model of CompileGoogleCloud)", cd.Name, len(cd.Objects))
		}
	}
	c := &compiler{f: f, spec: &f.Spec, fed: f.Metadata.Name}
	if err := c.clusterObjects(d); err != nil {
		return err
	}
	d.emptyNotNull()
	return nil
}

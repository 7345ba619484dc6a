package v1alpha1

import (
	"fmt"
	"regexp"
)

var fleetMeshID = regexp.MustCompile(`^proj-[0-9]+$`)

// managedMesh rejects, for a managed control plane, what it cannot honour: the fields that pick or
// configure an in-cluster control plane (revision, hub, tag, overlays), a mesh ID or trust domain
// other than the fleet's, and a release channel without a managed channel. The rest of spec.mesh
// is applied the managed way (docs/istio.md).
func (v *validator) managedMesh() {
	s := &v.f.Spec
	m := &s.Mesh
	if m.ControlPlane != ControlPlaneManaged {
		return
	}
	// A field is set when the file writes it or it differs from its default (callers without a
	// source map).
	set := func(path string, isDefault bool) bool { return v.sm.Has(path) || !isDefault }
	if set("spec.mesh.revision", m.Revision == RevisionFromTag(m.Tag)) {
		v.errorf("spec.mesh.revision", fmt.Sprintf("remove it: namespaces get the istio.io/rev label of their cluster's channel, %s, %s or %s", ManagedRevisionRegular, ManagedRevisionRapid, ManagedRevisionStable),
			"a managed control plane's revision is its channel's, which follows each cluster's release channel")
	}
	for _, f := range []struct {
		path      string
		isDefault bool
	}{{"spec.mesh.hub", m.Hub == DefaultIstioHub}, {"spec.mesh.tag", m.Tag == DefaultIstioTag}} {
		if set(f.path, f.isDefault) {
			v.errorf(f.path, "remove it: Google runs the images of each cluster's channel", "a managed control plane's images cannot be chosen")
		}
	}
	if m.MeshID != "" && set("spec.mesh.meshID", false) {
		switch n := s.FleetProjectNumber; {
		case n > 0 && m.MeshID != fmt.Sprintf("proj-%d", n):
			v.errorf("spec.mesh.meshID", fmt.Sprintf("remove it, or set proj-%d", n), "a managed control plane's mesh ID is the fleet's, proj-<fleet project number>")
		case n == 0 && !fleetMeshID.MatchString(m.MeshID):
			v.errorf("spec.mesh.meshID", "remove it: the fleet's mesh ID is proj-<fleet project number>", "a managed control plane's mesh ID is the fleet's, proj-<fleet project number>")
		}
	}
	if pool := s.FleetProject + ".svc.id.goog"; m.TrustDomain != "" && m.TrustDomain != pool {
		v.errorf("spec.mesh.trustDomain", "remove it, or set "+pool, "a managed control plane's trust domain is the fleet's workload pool, %s", pool)
	}
	if len(m.Overlays) > 0 {
		v.errorf("spec.mesh.overlays", "remove overlays: the tool writes egress and access logging to the managed mesh ConfigMap, and other mesh settings go there by hand",
			"IstioOperator overlays configure an in-cluster control plane; a managed control plane has none to apply them to")
	}
	for i, c := range s.Clusters {
		if _, ok := ManagedRevision(c.ReleaseChannel); !ok && oneOf(c.ReleaseChannel, releaseChannels...) {
			v.errorf(fmt.Sprintf("spec.clusters[%d].releaseChannel", i), "use RAPID, REGULAR or STABLE",
				"a managed control plane takes the channel of the cluster's release channel, and %s has no managed channel the tool knows the revision of", c.ReleaseChannel)
		}
	}
}

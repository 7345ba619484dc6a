package federation

import (
	"fmt"
	"strings"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// Connect Gateway roles: the reader's permissions (gkehub.gateway.get) let plan and verify read
// the clusters, the editor's (post, put, patch, delete besides) let apply write them.
const (
	gatewayEditorRole = "roles/gkehub.gatewayEditor"
	gatewayReaderRole = "roles/gkehub.gatewayReader"
)

// viaGateway names the clusters reached through the Connect Gateway, sorted.
func (c *compiler) viaGateway() []string {
	var out []string
	for _, ci := range c.clusters {
		if ci.spec.Access.Via == v1alpha1.AccessConnectGateway {
			out = append(out, ci.spec.Name)
		}
	}
	return out
}

// clusterAccess fills in how each cluster is reached, and returns the roles the caller needs for
// it. It runs after the fleet memberships are derived: the gateway reaches a cluster through its
// membership.
func (c *compiler) clusterAccess(d *Desired) []CallerRole {
	members := map[plan.Address]FleetMembership{}
	for _, m := range d.FleetMemberships {
		members[m.ClusterAddress] = m
	}
	byName := map[string]*clusterInfo{}
	for _, ci := range c.clusters {
		byName[ci.spec.Name] = ci
	}
	for i := range d.Clusters {
		cd := &d.Clusters[i]
		spec := byName[cd.Name].spec
		a := ClusterAccess{Via: spec.Access.Via}
		chosen := "spec.access.via"
		switch {
		case spec.KubeconfigContext != "" && a.Via == v1alpha1.AccessKubeconfig:
			chosen = "kubeconfigContext"
		case c.f.Spec.Access.Via != a.Via:
			chosen = "access.via of the cluster"
		}
		switch a.Via {
		case v1alpha1.AccessConnectGateway:
			m := members[cd.Address]
			num, ok := c.number(m.Project)
			a.GatewayPath = fmt.Sprintf("/v1/projects/%s/locations/%s/gkeMemberships/%s", num, m.Location, m.Name)
			a.Address = ConnectGatewayURL + a.GatewayPath
			a.Membership = m.Address
			a.Unresolved = !ok
			a.Reason = fmt.Sprintf("%s is connectGateway: the Connect Gateway reaches %s through its fleet membership in %s, from anywhere, with the caller's Google credentials and IAM roles; no network path to the control plane is needed",
				chosen, cd.Name, m.Project)
		case v1alpha1.AccessPrivateEndpoint:
			a.Address = fmt.Sprintf("the private endpoint GKE reports for %s (privateClusterConfig.privateEndpoint)", cd.Name)
			a.Reason = fmt.Sprintf("%s is privateEndpoint: the tool runs inside VPC %s, from a range in the master authorized networks of %s", chosen, c.spec.Network.Name, cd.Name)
		case v1alpha1.AccessPublicEndpoint:
			a.Address = fmt.Sprintf("the public endpoint GKE reports for %s (endpoint)", cd.Name)
			a.Reason = fmt.Sprintf("%s is publicEndpoint: the tool runs from a range in the master authorized networks of %s", chosen, cd.Name)
		case v1alpha1.AccessKubeconfig:
			a.KubeconfigContext = spec.KubeconfigContext
			a.Address = fmt.Sprintf("kubeconfig context %s", spec.KubeconfigContext)
			a.Reason = fmt.Sprintf("%s names kubeconfig context %s: the tool uses its server and credentials as they are", chosen, spec.KubeconfigContext)
		}
		cd.Access = a
	}
	gw := c.viaGateway()
	if len(gw) == 0 {
		return nil
	}
	return []CallerRole{{Project: c.spec.FleetProject, Role: gatewayEditorRole,
		Reason: fmt.Sprintf("apply writes the Kubernetes objects of %s through the Connect Gateway (gkehub.gateway.get, post, put, patch, delete); %s is enough for plan and verify",
			strings.Join(gw, ", "), gatewayReaderRole)}}
}

package verify

import (
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// sample is a checked federation file of samples/ and its model.
func sample(t *testing.T, name string) (*v1alpha1.Federation, *federation.Desired) {
	t.Helper()
	c, err := v1alpha1.CheckFile("../../samples/"+name+"/federation.yaml", v1alpha1.ValidateOptions{SkipFiles: true})
	if err != nil || c.Err() != nil {
		t.Fatalf("sample %s: %v %v", name, err, c.Err())
	}
	d, err := federation.Compile(c.Federation, federation.Facts{})
	if err != nil {
		t.Fatal(err)
	}
	return c.Federation, d
}

// fed is the two-cluster sample's file.
func fed(t *testing.T) *v1alpha1.Federation {
	f, _ := sample(t, "two-cluster-private")
	return f
}

// gkeOf is each cluster of the model as GKE reports it once apply has created it.
func gkeOf(d *federation.Desired) map[string]*containerpb.Cluster {
	out := map[string]*containerpb.Cluster{}
	for i, cd := range d.Clusters {
		pe := nthAddr(cd.ControlPlaneRange, 2).String()
		cl := &containerpb.Cluster{
			Name: cd.Name, Location: cd.Location, ResourceLabels: cd.Labels,
			PrivateClusterConfig: &containerpb.PrivateClusterConfig{EnablePrivateNodes: true, EnablePrivateEndpoint: cd.PrivateEndpoint,
				MasterIpv4CidrBlock: cd.ControlPlaneRange, PrivateEndpoint: pe, PublicEndpoint: "34.1.1." + string(rune('1'+i)),
				MasterGlobalAccessConfig: &containerpb.PrivateClusterMasterGlobalAccessConfig{Enabled: cd.MasterGlobalAccess}},
			MasterAuthorizedNetworksConfig: &containerpb.MasterAuthorizedNetworksConfig{Enabled: true},
			NetworkPolicy:                  &containerpb.NetworkPolicy{Enabled: cd.NetworkPolicy, Provider: containerpb.NetworkPolicy_CALICO},
			AddonsConfig:                   &containerpb.AddonsConfig{NetworkPolicyConfig: &containerpb.NetworkPolicyConfig{Disabled: !cd.NetworkPolicy}},
			ShieldedNodes:                  &containerpb.ShieldedNodes{Enabled: cd.ShieldedNodes},
		}
		if cd.WorkloadPool != "" {
			cl.WorkloadIdentityConfig = &containerpb.WorkloadIdentityConfig{WorkloadPool: cd.WorkloadPool}
		}
		for _, an := range cd.MasterAuthorizedNetworks {
			cl.MasterAuthorizedNetworksConfig.CidrBlocks = append(cl.MasterAuthorizedNetworksConfig.CidrBlocks,
				&containerpb.MasterAuthorizedNetworksConfig_CidrBlock{DisplayName: an.DisplayName, CidrBlock: an.CIDR})
		}
		for _, np := range cd.NodePools {
			p := &containerpb.NodePool{Name: np.Name, Config: &containerpb.NodeConfig{ImageType: np.ImageType, Tags: np.Tags}}
			if cd.WorkloadPool != "" {
				p.Config.WorkloadMetadataConfig = &containerpb.WorkloadMetadataConfig{Mode: containerpb.WorkloadMetadataConfig_GKE_METADATA}
			}
			cl.NodePools = append(cl.NodePools, p)
		}
		out[cd.Name] = cl
	}
	return out
}

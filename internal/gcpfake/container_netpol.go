package gcpfake

import (
	"context"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// SetNetworkPolicy turns a cluster's NetworkPolicy enforcement on or off (gcloud container
// clusters update --enable-network-policy). As on GKE, enforcement needs the NetworkPolicy
// add-on, which an update of the add-ons enables first.
func (x *clusterManager) SetNetworkPolicy(ctx context.Context, req *containerpb.SetNetworkPolicyRequest) (*containerpb.Operation, error) {
	p, loc, c, err := clusterRef(req.Name, req.ProjectId, req.Zone, req.ClusterId)
	if err != nil {
		return nil, err
	}
	return x.s.mutate(ctx, p, loc, c, containerpb.Operation_SET_NETWORK_POLICY, containerpb.Cluster_RECONCILING, func(cl *containerpb.Cluster) error {
		np := req.GetNetworkPolicy()
		if np.GetEnabled() && cl.GetAddonsConfig().GetNetworkPolicyConfig().GetDisabled() {
			return gkeErr(codes.FailedPrecondition, "Network policy addon is disabled; enable it first with --update-addons=NetworkPolicy=ENABLED.")
		}
		cl.NetworkPolicy = proto.Clone(np).(*containerpb.NetworkPolicy)
		if !np.GetEnabled() {
			cl.NetworkPolicy.Provider = containerpb.NetworkPolicy_PROVIDER_UNSPECIFIED
		}
		return nil
	})
}

// mergeAddons sets the add-ons an update names and keeps the others, as GKE does.
func mergeAddons(cl *containerpb.Cluster, a *containerpb.AddonsConfig) {
	if cl.AddonsConfig == nil {
		cl.AddonsConfig = &containerpb.AddonsConfig{}
	}
	if a.NetworkPolicyConfig != nil {
		cl.AddonsConfig.NetworkPolicyConfig = a.NetworkPolicyConfig
	}
	if a.HttpLoadBalancing != nil {
		cl.AddonsConfig.HttpLoadBalancing = a.HttpLoadBalancing
	}
	if a.HorizontalPodAutoscaling != nil {
		cl.AddonsConfig.HorizontalPodAutoscaling = a.HorizontalPodAutoscaling
	}
}

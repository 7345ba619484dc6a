package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// perGKECluster runs judge on every cluster of the model as GKE reports it, in name order; a
// cluster GKE does not have is skipped (ASMFED-PRE-001 fails it).
func perGKECluster(env *Env, judge func(cd federation.ClusterDesired, cl *containerpb.Cluster) []Finding) []Finding {
	var out []Finding
	for _, cd := range env.Derived.Clusters {
		cl, ok := env.GKE[cd.Name]
		if !ok {
			out = append(out, Finding{Subject: cd.Name, Status: Skipped, Message: "the cluster does not exist in GKE"})
			continue
		}
		for _, f := range judge(cd, cl) {
			if f.Subject == "" {
				f.Subject = cd.Name
			}
			out = append(out, f)
		}
	}
	return out
}

// update is the gcloud command that changes one setting of a cluster.
func update(cd federation.ClusterDesired, flags string) string {
	return fmt.Sprintf("gcloud container clusters update %s --project %s --location %s %s", cd.Name, cd.Project, cd.Location, flags)
}

// privateNodes checks that the nodes have no public addresses: egress leaves through Cloud NAT
// and the VPC firewall is the only way in.
func privateNodes(_ context.Context, env *Env) []Finding {
	return perGKECluster(env, func(cd federation.ClusterDesired, cl *containerpb.Cluster) []Finding {
		if cl.GetPrivateClusterConfig().GetEnablePrivateNodes() || cl.GetNetworkConfig().GetDefaultEnablePrivateNodes() {
			return []Finding{{Status: OK, Message: "private nodes, control plane range " + cl.GetPrivateClusterConfig().GetMasterIpv4CidrBlock()}}
		}
		return []Finding{{Status: Fail, Message: "the nodes have public addresses: they are reachable from outside the VPC and bypass Cloud NAT",
			Hint: update(cd, "--enable-private-nodes") + " (existing node pools keep their addresses until recreated)"}}
	})
}

// workloadIdentity checks the cluster's workload pool and that every node pool runs the GKE
// metadata server, through which pods get their Google credentials.
func workloadIdentity(_ context.Context, env *Env) []Finding {
	return perGKECluster(env, func(cd federation.ClusterDesired, cl *containerpb.Cluster) []Finding {
		if cd.WorkloadPool == "" {
			return []Finding{{Status: Skipped, Message: "the file turns Workload Identity off for this cluster"}}
		}
		if got := cl.GetWorkloadIdentityConfig().GetWorkloadPool(); got != cd.WorkloadPool {
			return []Finding{{Status: Fail, Message: fmt.Sprintf("the workload pool is %q, not %q: pods get no Google credentials of their own", got, cd.WorkloadPool),
				Hint: update(cd, "--workload-pool="+cd.WorkloadPool) + " (kubectl asmfed apply sets it)"}}
		}
		var out []Finding
		for _, np := range cl.GetNodePools() {
			if np.GetConfig().GetWorkloadMetadataConfig().GetMode() != containerpb.WorkloadMetadataConfig_GKE_METADATA {
				out = append(out, Finding{Status: Fail, Message: fmt.Sprintf("node pool %s does not run the GKE metadata server (mode %s): its pods see the node's credentials",
					np.GetName(), np.GetConfig().GetWorkloadMetadataConfig().GetMode()),
					Hint: fmt.Sprintf("gcloud container node-pools update %s --cluster %s --project %s --location %s --workload-metadata=GKE_METADATA", np.GetName(), cd.Name, cd.Project, cd.Location)})
			}
		}
		if len(out) > 0 {
			return out
		}
		return []Finding{{Status: OK, Message: fmt.Sprintf("workload pool %s, every node pool on the GKE metadata server", cd.WorkloadPool)}}
	})
}

// meshIDLabel checks the mesh_id label, by which Cloud Service Mesh and the fleet group the
// clusters of one mesh.
func meshIDLabel(_ context.Context, env *Env) []Finding {
	return perGKECluster(env, func(cd federation.ClusterDesired, cl *containerpb.Cluster) []Finding {
		want := env.Derived.Mesh.MeshID
		got, ok := cl.GetResourceLabels()["mesh_id"]
		switch {
		case got == want:
			return []Finding{{Status: OK, Message: "mesh_id=" + got}}
		case !ok:
			return []Finding{{Status: Fail, Message: "the cluster has no mesh_id label: the fleet does not count it in mesh " + want,
				Hint: update(cd, "--update-labels mesh_id="+want) + " (kubectl asmfed apply sets it)"}}
		default:
			return []Finding{{Status: Fail, Message: fmt.Sprintf("mesh_id=%s, not %s: the fleet counts the cluster in another mesh", got, want),
				Hint: update(cd, "--update-labels mesh_id="+want) + " (kubectl asmfed apply sets it)"}}
		}
	})
}

// containerdNodes checks every node pool's image: COS_CONTAINERD, the image GKE hardens and
// Istio's sidecars are tested on. A pool the file puts on another containerd image is a warning.
func containerdNodes(_ context.Context, env *Env) []Finding {
	return perGKECluster(env, func(cd federation.ClusterDesired, cl *containerpb.Cluster) []Finding {
		chosen := map[string]string{}
		for _, np := range cd.NodePools {
			chosen[np.Name] = np.ImageType
		}
		var out []Finding
		for _, np := range cl.GetNodePools() {
			img := np.GetConfig().GetImageType()
			switch {
			case strings.EqualFold(img, "COS_CONTAINERD"):
				out = append(out, Finding{Status: OK, Message: "node pool " + np.GetName() + " on COS_CONTAINERD"})
			case strings.EqualFold(img, chosen[np.GetName()]):
				out = append(out, Finding{Status: Warn, Message: fmt.Sprintf("node pool %s on %s, as the file asks, not COS_CONTAINERD", np.GetName(), img),
					Hint: "COS_CONTAINERD is the image GKE hardens for containers; set nodePools[].imageType to it unless the workloads need another"})
			default:
				out = append(out, Finding{Status: Fail, Message: fmt.Sprintf("node pool %s runs %q, not COS_CONTAINERD", np.GetName(), img),
					Hint: fmt.Sprintf("gcloud container clusters upgrade %s --project %s --location %s --node-pool %s --image-type COS_CONTAINERD", cd.Name, cd.Project, cd.Location, np.GetName())})
			}
		}
		if len(out) == 0 {
			out = append(out, Finding{Status: Skipped, Message: "the cluster has no node pool"})
		}
		return out
	})
}

// policyEnforcement checks that NetworkPolicies are enforced, by Calico (the network policy
// add-on) or by GKE Dataplane V2: without it the namespaces' default policies do nothing.
func policyEnforcement(_ context.Context, env *Env) []Finding {
	return perGKECluster(env, func(cd federation.ClusterDesired, cl *containerpb.Cluster) []Finding {
		if !cd.NetworkPolicy {
			return []Finding{{Status: Skipped, Message: "the file turns network policy off for this cluster"}}
		}
		if cl.GetNetworkConfig().GetDatapathProvider() == containerpb.DatapathProvider_ADVANCED_DATAPATH {
			return []Finding{{Status: OK, Message: "GKE Dataplane V2 enforces NetworkPolicies"}}
		}
		addon := !cl.GetAddonsConfig().GetNetworkPolicyConfig().GetDisabled()
		if cl.GetNetworkPolicy().GetEnabled() && addon {
			return []Finding{{Status: OK, Message: fmt.Sprintf("network policy enforced by %s", cl.GetNetworkPolicy().GetProvider())}}
		}
		var off []string
		if !addon {
			off = append(off, "the NetworkPolicy add-on is disabled")
		}
		if !cl.GetNetworkPolicy().GetEnabled() {
			off = append(off, "network policy enforcement is off")
		}
		return []Finding{{Status: Fail, Message: strings.Join(off, " and ") + ": the namespaces' NetworkPolicies, the federation's default deny included, have no effect",
			Hint: update(cd, "--update-addons=NetworkPolicy=ENABLED") + ", then " + update(cd, "--enable-network-policy")}}
	})
}

// shieldedNodes checks that the nodes boot verified (secure boot and integrity monitoring).
func shieldedNodes(_ context.Context, env *Env) []Finding {
	return perGKECluster(env, func(cd federation.ClusterDesired, cl *containerpb.Cluster) []Finding {
		if !cd.ShieldedNodes {
			return []Finding{{Status: Skipped, Message: "the file turns shielded nodes off for this cluster"}}
		}
		if cl.GetShieldedNodes().GetEnabled() {
			return []Finding{{Status: OK, Message: "shielded nodes"}}
		}
		return []Finding{{Status: Fail, Message: "shielded nodes are off: a node's identity and boot integrity are not verified",
			Hint: update(cd, "--enable-shielded-nodes") + " (kubectl asmfed apply turns it on)"}}
	})
}

// requiredAPIs checks that every API the federation needs is enabled in its project.
func requiredAPIs(_ context.Context, env *Env) []Finding {
	byProject := map[string][]string{}
	for _, a := range env.Derived.APIs {
		byProject[a.Project] = append(byProject[a.Project], a.Service)
	}
	var out []Finding
	for _, p := range sortedKeys(byProject) {
		enabled := env.EnabledServices[p]
		var missing []string
		for _, s := range byProject[p] {
			if !slices.Contains(enabled, s) {
				missing = append(missing, s)
			}
		}
		if len(missing) == 0 {
			out = append(out, Finding{Subject: p, Status: OK, Message: strings.Join(byProject[p], ", ") + " enabled"})
			continue
		}
		for _, s := range missing {
			out = append(out, Finding{Subject: p, Status: Fail, Message: s + " is not enabled",
				Hint: fmt.Sprintf("kubectl asmfed apply enables it; by hand: gcloud services enable %s --project %s", s, p)})
		}
	}
	return out
}

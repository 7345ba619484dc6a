package gcp

import (
	"context"
	"fmt"

	"cloud.google.com/go/container/apiv1/containerpb"
)

func clusterName(project, location, name string) string {
	return fmt.Sprintf("projects/%s/locations/%s/clusters/%s", project, location, name)
}

// Clusters lists every GKE cluster of a project, in every location, in one call. Node pools come
// with their clusters.
func (c *Clients) Clusters(ctx context.Context, project string) ([]*containerpb.Cluster, error) {
	var out []*containerpb.Cluster
	err := c.do(ctx, "list clusters", "projects/"+project+"/locations/-", func(ctx context.Context) error {
		resp, err := c.clusters.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/" + project + "/locations/-"})
		if err != nil {
			return err
		}
		if len(resp.GetMissingZones()) > 0 {
			return &opError{code: 503, msg: fmt.Sprintf("GKE could not list clusters in %v", resp.GetMissingZones())}
		}
		out = resp.GetClusters()
		return nil
	})
	return out, err
}

func (c *Clients) containerOp(ctx context.Context, call, resource, project, location string, progress Progress, start func(ctx context.Context) (*containerpb.Operation, error)) error {
	var op *containerpb.Operation
	if err := c.do(ctx, call, resource, func(ctx context.Context) (err error) {
		op, err = start(ctx)
		return err
	}); err != nil {
		return err
	}
	return c.waitContainer(ctx, call, resource, project, location, op, progress)
}

// CreateCluster creates a cluster, with its node pools, and waits until it runs.
func (c *Clients) CreateCluster(ctx context.Context, project, location string, cl *containerpb.Cluster, progress Progress) error {
	res := clusterName(project, location, cl.GetName())
	return c.containerOp(ctx, "create cluster", res, project, location, progress, func(ctx context.Context) (*containerpb.Operation, error) {
		return c.clusters.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: fmt.Sprintf("projects/%s/locations/%s", project, location), Cluster: cl})
	})
}

// UpdateCluster applies one ClusterUpdate and waits (GKE runs one update at a time per cluster).
func (c *Clients) UpdateCluster(ctx context.Context, project, location, name string, u *containerpb.ClusterUpdate, progress Progress) error {
	res := clusterName(project, location, name)
	return c.containerOp(ctx, "update cluster", res, project, location, progress, func(ctx context.Context) (*containerpb.Operation, error) {
		return c.clusters.UpdateCluster(ctx, &containerpb.UpdateClusterRequest{Name: res, Update: u})
	})
}

// SetClusterLabels replaces a cluster's resource labels; fingerprint guards concurrent changes.
func (c *Clients) SetClusterLabels(ctx context.Context, project, location, name string, labels map[string]string, fingerprint string, progress Progress) error {
	res := clusterName(project, location, name)
	return c.containerOp(ctx, "set cluster labels", res, project, location, progress, func(ctx context.Context) (*containerpb.Operation, error) {
		return c.clusters.SetLabels(ctx, &containerpb.SetLabelsRequest{Name: res, ResourceLabels: labels, LabelFingerprint: fingerprint})
	})
}

// SetNetworkPolicy turns NetworkPolicy enforcement on or off.
func (c *Clients) SetNetworkPolicy(ctx context.Context, project, location, name string, on bool, progress Progress) error {
	res := clusterName(project, location, name)
	return c.containerOp(ctx, "set network policy", res, project, location, progress, func(ctx context.Context) (*containerpb.Operation, error) {
		return c.clusters.SetNetworkPolicy(ctx, &containerpb.SetNetworkPolicyRequest{Name: res,
			NetworkPolicy: &containerpb.NetworkPolicy{Enabled: on, Provider: containerpb.NetworkPolicy_CALICO}})
	})
}

// DeleteCluster deletes a cluster and waits.
func (c *Clients) DeleteCluster(ctx context.Context, project, location, name string, progress Progress) error {
	res := clusterName(project, location, name)
	return c.containerOp(ctx, "delete cluster", res, project, location, progress, func(ctx context.Context) (*containerpb.Operation, error) {
		return c.clusters.DeleteCluster(ctx, &containerpb.DeleteClusterRequest{Name: res})
	})
}

// CreateNodePool adds a node pool to a cluster and waits.
func (c *Clients) CreateNodePool(ctx context.Context, project, location, cluster string, np *containerpb.NodePool, progress Progress) error {
	parent := clusterName(project, location, cluster)
	return c.containerOp(ctx, "create node pool", parent+"/nodePools/"+np.GetName(), project, location, progress, func(ctx context.Context) (*containerpb.Operation, error) {
		return c.clusters.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: parent, NodePool: np})
	})
}

// SetNodePoolAutoscaling changes a node pool's autoscaling bounds and waits.
func (c *Clients) SetNodePoolAutoscaling(ctx context.Context, project, location, cluster, pool string, a *containerpb.NodePoolAutoscaling, progress Progress) error {
	name := clusterName(project, location, cluster) + "/nodePools/" + pool
	return c.containerOp(ctx, "set node pool autoscaling", name, project, location, progress, func(ctx context.Context) (*containerpb.Operation, error) {
		return c.clusters.SetNodePoolAutoscaling(ctx, &containerpb.SetNodePoolAutoscalingRequest{Name: name, Autoscaling: a})
	})
}

// UpdateNodePool changes a node pool's image type and network tags and waits.
func (c *Clients) UpdateNodePool(ctx context.Context, project, location, cluster string, np *containerpb.NodePool, progress Progress) error {
	name := clusterName(project, location, cluster) + "/nodePools/" + np.GetName()
	return c.containerOp(ctx, "update node pool", name, project, location, progress, func(ctx context.Context) (*containerpb.Operation, error) {
		req := &containerpb.UpdateNodePoolRequest{Name: name, ImageType: np.GetConfig().GetImageType(),
			NodeVersion: "-", Tags: &containerpb.NetworkTags{Tags: np.GetConfig().GetTags()}}
		if labels := np.GetConfig().GetResourceLabels(); labels != nil {
			req.ResourceLabels = &containerpb.ResourceLabels{Labels: labels}
		}
		return c.clusters.UpdateNodePool(ctx, req)
	})
}

// SetNodePoolWorkloadMetadata sets how a node pool's nodes expose metadata to pods, GKE_METADATA
// being the GKE metadata server Workload Identity needs, and waits. It is a request of its own,
// as gcloud makes it.
func (c *Clients) SetNodePoolWorkloadMetadata(ctx context.Context, project, location, cluster, pool string, mode containerpb.WorkloadMetadataConfig_Mode, progress Progress) error {
	name := clusterName(project, location, cluster) + "/nodePools/" + pool
	return c.containerOp(ctx, "set node pool workload metadata", name, project, location, progress, func(ctx context.Context) (*containerpb.Operation, error) {
		return c.clusters.UpdateNodePool(ctx, &containerpb.UpdateNodePoolRequest{Name: name, WorkloadMetadataConfig: &containerpb.WorkloadMetadataConfig{Mode: mode}})
	})
}

// DeleteNodePool deletes a node pool and waits.
func (c *Clients) DeleteNodePool(ctx context.Context, project, location, cluster, pool string, progress Progress) error {
	name := clusterName(project, location, cluster) + "/nodePools/" + pool
	return c.containerOp(ctx, "delete node pool", name, project, location, progress, func(ctx context.Context) (*containerpb.Operation, error) {
		return c.clusters.DeleteNodePool(ctx, &containerpb.DeleteNodePoolRequest{Name: name})
	})
}

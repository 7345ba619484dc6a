package gcp

import (
	"context"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
)

// ProjectMetadata reads a project's common instance metadata: its items and the fingerprint a
// write must carry.
func (c *Clients) ProjectMetadata(ctx context.Context, project string) (*computepb.Metadata, error) {
	var p *computepb.Project
	err := c.do(ctx, "get project metadata", "projects/"+project, func(ctx context.Context) (err error) {
		p, err = c.projects.Get(ctx, &computepb.GetProjectRequest{Project: project})
		return err
	})
	if err != nil {
		return nil, err
	}
	md := p.GetCommonInstanceMetadata()
	if md == nil {
		md = &computepb.Metadata{}
	}
	return md, nil
}

// SetProjectMetadata replaces a project's common instance metadata with md and waits. md must
// carry the fingerprint read with ProjectMetadata: when anyone wrote since, the call fails with
// an error of KindPrecondition instead of overwriting them.
func (c *Clients) SetProjectMetadata(ctx context.Context, project string, md *computepb.Metadata) error {
	return c.computeOp(ctx, "set project metadata", "projects/"+project, nil, func(ctx context.Context) (*compute.Operation, error) {
		return c.projects.SetCommonInstanceMetadata(ctx, &computepb.SetCommonInstanceMetadataProjectRequest{Project: project, MetadataResource: md})
	})
}

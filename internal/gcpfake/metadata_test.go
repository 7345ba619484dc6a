package gcpfake_test

import (
	"context"
	"strings"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

// Project metadata is written whole, with the fingerprint it was read with: a write computed from
// stale metadata fails with 412 conditionNotMet, so it can carry a lock.
func TestProjectMetadataFingerprint(t *testing.T) {
	ctx := context.Background()
	srv := gcpfake.Start(t)
	projects, err := compute.NewProjectsRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer projects.Close()
	get := func() *computepb.Metadata {
		t.Helper()
		p, err := projects.Get(ctx, &computepb.GetProjectRequest{Project: "demo"})
		if err != nil {
			t.Fatal(err)
		}
		return p.GetCommonInstanceMetadata()
	}
	set := func(fp string, kv ...string) error {
		md := &computepb.Metadata{Fingerprint: proto.String(fp)}
		for i := 0; i < len(kv); i += 2 {
			md.Items = append(md.Items, &computepb.Items{Key: proto.String(kv[i]), Value: proto.String(kv[i+1])})
		}
		op, err := projects.SetCommonInstanceMetadata(ctx, &computepb.SetCommonInstanceMetadataProjectRequest{Project: "demo", MetadataResource: md})
		if err != nil {
			return err
		}
		return op.Wait(ctx)
	}
	first := get()
	if err := set(first.GetFingerprint(), "a", "1"); err != nil {
		t.Fatal(err)
	}
	second := get()
	if second.GetFingerprint() == first.GetFingerprint() || len(second.Items) != 1 || second.Items[0].GetValue() != "1" {
		t.Fatalf("after the write: %v", second)
	}
	// A writer that read before the first write loses.
	err = set(first.GetFingerprint(), "b", "2")
	if httpCode(err) != 412 || !strings.Contains(err.Error(), "Supplied fingerprint does not match current metadata fingerprint") {
		t.Fatalf("stale fingerprint: %v", err)
	}
	if err := set("", "b", "2"); httpCode(err) != 412 {
		t.Fatalf("missing fingerprint: %v", err)
	}
	// Writing the same items again still moves the fingerprint.
	if err := set(second.GetFingerprint(), "a", "1"); err != nil {
		t.Fatal(err)
	}
	if third := get(); third.GetFingerprint() == second.GetFingerprint() {
		t.Error("the fingerprint did not change on a write")
	}
	for _, tt := range []struct{ name, key, msg string }{
		{"bad key", "no spaces", "Must be a match of regex"},
		{"duplicate", "a", "duplicate keys"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kv := []string{tt.key, "x"}
			if tt.name == "duplicate" {
				kv = append(kv, "a", "y")
			}
			if err := set(get().GetFingerprint(), kv...); httpCode(err) != 400 || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %v", err)
			}
		})
	}
}

// gcloud reads and writes project metadata through the simulator the way it does against Compute
// Engine: add-metadata reads the fingerprint and writes with it, describe shows the items.
func TestGcloudProjectMetadata(t *testing.T) {
	srv := gcpfake.Start(t)
	g := newGcloud(t, srv)
	if r := g.run(t, "compute", "project-info", "add-metadata", "--metadata=asmfed-lock-demo=held,other=kept"); r.code != 0 {
		t.Fatalf("add-metadata: exit %d: %s", r.code, r.stderr)
	}
	v := g.ok(t, "compute", "project-info", "describe")
	want(t, v, "commonInstanceMetadata.items.0.key", "asmfed-lock-demo")
	want(t, v, "commonInstanceMetadata.items.0.value", "held")
	want(t, v, "commonInstanceMetadata.items.1.key", "other")
	fp, _ := field(v, "commonInstanceMetadata.fingerprint").(string)
	if fp == "" || fp == "AAAAAAAAAAA=" {
		t.Errorf("fingerprint after a write: %q", fp)
	}
	if r := g.run(t, "compute", "project-info", "remove-metadata", "--keys=asmfed-lock-demo"); r.code != 0 {
		t.Fatalf("remove-metadata: exit %d: %s", r.code, r.stderr)
	}
	v = g.ok(t, "compute", "project-info", "describe")
	want(t, v, "commonInstanceMetadata.items.0.key", "other")
	want(t, v, "commonInstanceMetadata.items.0.value", "kept")
	if field(v, "commonInstanceMetadata.items.1") != nil {
		t.Errorf("remove-metadata left %v", field(v, "commonInstanceMetadata.items"))
	}
}

package gcpfake

import (
	"context"
	"fmt"
	"regexp"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

var metadataKeyRE = regexp.MustCompile(`^[a-zA-Z0-9-_]{1,128}$`)

// Limits of project metadata, as Compute Engine documents them.
const (
	metadataValueLimit = 256 << 10
	metadataTotalLimit = 512 << 10
)

// SetCommonInstanceMetadata replaces the project's metadata items as a whole. The request must
// carry the fingerprint of the metadata it was computed from: a stale or missing one fails with
// 412 conditionNotMet, which is what makes the metadata usable for optimistic concurrency. The
// new metadata and its new fingerprint are visible at once (a concurrent writer holding the old
// fingerprint fails from that moment); the operation completes on the simulator's clock, and
// when it fails the previous metadata comes back.
func (x *projects) SetCommonInstanceMetadata(ctx context.Context, req *computepb.SetCommonInstanceMetadataProjectRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	key := "compute/projects/" + req.Project
	cur := s.st.get(key).(*computepb.Project)
	in := req.GetMetadataResource()
	old := cur.GetCommonInstanceMetadata()
	if !sameFingerprint(in.GetFingerprint(), old.GetFingerprint()) {
		return nil, &Error{Code: codes.FailedPrecondition, HTTP: 412, Reason: "conditionNotMet",
			Message: "Supplied fingerprint does not match current metadata fingerprint."}
	}
	seen := map[string]bool{}
	total := 0
	for i, it := range in.GetItems() {
		field := fmt.Sprintf("resource.items[%d].key", i)
		if !metadataKeyRE.MatchString(it.GetKey()) {
			return nil, computeInvalid(field, "Invalid value for field '%s': '%s'. Must be a match of regex '[a-zA-Z0-9-_]{1,128}'", field, it.GetKey())
		}
		if seen[it.GetKey()] {
			return nil, computeInvalid("resource.items", "Invalid value for field 'resource.items': ''. Metadata has duplicate keys.")
		}
		seen[it.GetKey()] = true
		if len(it.GetValue()) > metadataValueLimit {
			return nil, computeInvalid(fmt.Sprintf("resource.items[%d].value", i), "Invalid value for field 'resource.items[%d].value': ''. Metadata value is too large: %d bytes, the limit is %d.", i, len(it.GetValue()), metadataValueLimit)
		}
		total += len(it.GetKey()) + len(it.GetValue())
	}
	if total > metadataTotalLimit {
		return nil, computeInvalid("resource.items", "Invalid value for field 'resource.items': ''. Metadata total size %d bytes exceeds the limit of %d.", total, metadataTotalLimit)
	}
	upd := proto.Clone(cur).(*computepb.Project)
	md := &computepb.Metadata{Kind: proto.String("compute#metadata"), Items: in.GetItems(), Fingerprint: old.Fingerprint}
	// Every write changes the fingerprint, even one that writes the same items.
	md.Fingerprint = proto.String(fingerprint(md))
	upd.CommonInstanceMetadata = md
	s.st.put(key, upd)
	return s.computeOp(ctx, req.Project, "global", "compute.projects.setCommonInstanceMetadata", "projects/"+req.Project, cur.GetId(),
		&pendingOp{FailPuts: map[string]proto.Message{key: cur}}), nil
}

package gcplayer

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/pkg/engine/lock"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
)

// LockKeyPrefix starts the key of the project metadata item that holds a federation's lock.
const LockKeyPrefix = "asmfed-lock-"

// LockStore is where the Google Cloud layer keeps a federation's lock: an item of the fleet
// project's common instance metadata (Compute Engine project metadata), keyed asmfed-lock-<name>.
// Every write of project metadata carries the fingerprint of the metadata it was computed from,
// and Compute Engine refuses it (412 conditionNotMet) when anyone wrote since, so two writers can
// never both take the lock. Other items are written back unchanged.
func (e *Layer) LockStore(fleetProject, federation string) lock.Store {
	return &metadataLock{gcp: e.gcp, project: fleetProject, key: LockKeyPrefix + federation}
}

type metadataLock struct {
	gcp          *gcp.Clients
	project, key string
	enabled      bool
	// last is the metadata last read, so that a write needs no second read.
	last *computepb.Metadata
}

func (m *metadataLock) Where() string {
	return fmt.Sprintf("metadata item %s of project %s", m.key, m.project)
}

func (m *metadataLock) Read(ctx context.Context) (*lock.Record, string, error) {
	md, err := m.gcp.ProjectMetadata(ctx, m.project)
	if gcp.IsKind(err, gcp.KindAPINotEnabled) && !m.enabled {
		// A fleet project without clusters or the network may not have Compute Engine on yet;
		// the lock needs it before anything else is done.
		m.enabled = true
		if err := m.gcp.EnableServices(ctx, m.project, []string{"compute.googleapis.com"}, nil); err != nil {
			return nil, "", fmt.Errorf("enable compute.googleapis.com in %s to hold the lock: %w", m.project, err)
		}
		md, err = m.gcp.ProjectMetadata(ctx, m.project)
	}
	if err != nil {
		return nil, "", err
	}
	m.last = md
	for _, it := range md.GetItems() {
		if it.GetKey() == m.key {
			rec, err := lock.Unmarshal(it.GetValue())
			if err != nil {
				return nil, "", fmt.Errorf("%s: %w", m.Where(), err)
			}
			return rec, md.GetFingerprint(), nil
		}
	}
	return nil, md.GetFingerprint(), nil
}

func (m *metadataLock) Write(ctx context.Context, rec *lock.Record, fingerprint string) error {
	md := m.last
	if md.GetFingerprint() != fingerprint {
		var err error
		if md, err = m.gcp.ProjectMetadata(ctx, m.project); err != nil {
			return err
		}
	}
	if md.GetFingerprint() != fingerprint {
		return lock.ErrConflict
	}
	items := slices.DeleteFunc(slices.Clone(md.GetItems()), func(it *computepb.Items) bool { return it.GetKey() == m.key })
	if rec != nil {
		items = append(items, &computepb.Items{Key: proto.String(m.key), Value: proto.String(rec.Marshal())})
	}
	err := m.gcp.SetProjectMetadata(ctx, m.project, &computepb.Metadata{Fingerprint: proto.String(fingerprint), Items: items})
	if gcp.IsKind(err, gcp.KindPrecondition) {
		return errors.Join(lock.ErrConflict, err)
	}
	return err
}

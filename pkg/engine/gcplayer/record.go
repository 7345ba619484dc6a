package gcplayer

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// RecordKeyPrefix starts the key of the project metadata item that holds a federation's adoption
// record: asmfed-adopted-<federation>, in the fleet project's common instance metadata, beside
// the lock.
const RecordKeyPrefix = "asmfed-adopted-"

// recordLimit is Compute Engine's limit on one metadata value, 256 KB; at about a hundred bytes
// an entry, a record holds some two thousand adopted resources.
const recordLimit = 256 * 1024

// markOnlyAtCreation are the kinds whose mark, a description, can be written only when they are
// created: networks.patch modifies the routing configuration only, and a subnetwork's description
// "can be set only at resource creation time". An adopted one is marked in the record instead.
var markOnlyAtCreation = map[string]bool{plan.KindNetwork: true, plan.KindSubnetwork: true}

// markDescription is the value of the "mark" field of a network or subnetwork that carries the
// federation's mark in its description (or will, being created with it).
const markDescription = "description"

// recordMark is the value of the "mark" field of a network or subnetwork that the adoption record
// lists: where the mark is.
func recordMark(fleetProject, fed string) string {
	return fmt.Sprintf("metadata %s%s of project %s", RecordKeyPrefix, fed, fleetProject)
}

// adoptionRecord lists the resources a federation adopted whose mark cannot be written on them.
// Each entry names the resource by address and by the number Compute Engine gave it, so that a
// resource deleted by hand and made again under the same name is not the federation's.
type adoptionRecord struct {
	Adopted []recordEntry `json:"adopted"`
}

type recordEntry struct {
	Address plan.Address `json:"address"`
	ID      string       `json:"id"`
}

// has reports whether the record lists the resource at addr with id.
func (r *adoptionRecord) has(addr plan.Address, id uint64) bool {
	if r == nil {
		return false
	}
	return slices.Contains(r.Adopted, recordEntry{Address: addr, ID: strconv.FormatUint(id, 10)})
}

func parseRecord(value string) (*adoptionRecord, error) {
	var r adoptionRecord
	if err := json.Unmarshal([]byte(value), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// marshal writes the record sorted by address, so that equal records are equal bytes.
func (r *adoptionRecord) marshal() string {
	slices.SortFunc(r.Adopted, func(a, b recordEntry) int { return strings.Compare(string(a.Address), string(b.Address)) })
	b, _ := json.Marshal(r)
	return string(b)
}

// recordIn finds the record in project metadata; nil when there is none.
func recordIn(md *computepb.Metadata, key string) (*adoptionRecord, error) {
	for _, it := range md.GetItems() {
		if it.GetKey() == key {
			r, err := parseRecord(it.GetValue())
			if err != nil {
				return nil, fmt.Errorf("metadata item %s: %w", key, err)
			}
			return r, nil
		}
	}
	return nil, nil
}

// readRecord reads a federation's adoption record; a fleet project without Compute Engine has
// none.
func (e *Layer) readRecord(ctx context.Context, project, fed string) (*adoptionRecord, error) {
	md, err := e.gcp.ProjectMetadata(ctx, project)
	if gcp.IsKind(err, gcp.KindAPINotEnabled) || isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return recordIn(md, RecordKeyPrefix+fed)
}

// editRecord changes a federation's adoption record: read, edit, and written with the fingerprint
// read, as the lock is, so that a concurrent write of the project's metadata (the lock's renewal,
// another item) is never overwritten; a write that loses is made again on a fresh read. An empty
// record is removed.
func (e *Layer) editRecord(ctx context.Context, project, fed string, edit func(*adoptionRecord)) error {
	e.recordMu.Lock()
	defer e.recordMu.Unlock()
	key := RecordKeyPrefix + fed
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		var md *computepb.Metadata
		if md, err = e.gcp.ProjectMetadata(ctx, project); err != nil {
			return fmt.Errorf("read the adoption record %s of project %s: %w", key, project, err)
		}
		rec, rerr := recordIn(md, key)
		if rerr != nil {
			return rerr
		}
		if rec == nil {
			rec = &adoptionRecord{}
		}
		before := rec.marshal()
		edit(rec)
		after := rec.marshal()
		if after == before {
			return nil
		}
		if len(after) > recordLimit {
			return fmt.Errorf("the adoption record %s of project %s would be %d bytes, over Compute Engine's limit of %d for a metadata value: adopt fewer resources at once, or let the federation create them", key, project, len(after), recordLimit)
		}
		items := slices.DeleteFunc(slices.Clone(md.GetItems()), func(it *computepb.Items) bool { return it.GetKey() == key })
		if len(rec.Adopted) > 0 {
			items = append(items, &computepb.Items{Key: proto.String(key), Value: proto.String(after)})
		}
		err = e.gcp.SetProjectMetadata(ctx, project, &computepb.Metadata{Fingerprint: md.Fingerprint, Items: items})
		if err == nil || !gcp.IsKind(err, gcp.KindPrecondition) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("write the adoption record %s of project %s: %w", key, project, err)
	}
	return nil
}

// record adds a resource to the adoption record.
func (e *Layer) record(ctx context.Context, r *CloudPlan, l *object) error {
	id := strconv.FormatUint(idOf(l), 10)
	return e.editRecord(ctx, r.fleetProject, r.federation, func(rec *adoptionRecord) {
		rec.Adopted = slices.DeleteFunc(rec.Adopted, func(en recordEntry) bool { return en.Address == l.res.Address })
		rec.Adopted = append(rec.Adopted, recordEntry{Address: l.res.Address, ID: id})
	})
}

// forget removes entries from the adoption record.
func (e *Layer) forget(ctx context.Context, r *CloudPlan, entries []recordEntry) error {
	if len(entries) == 0 {
		return nil
	}
	return e.editRecord(ctx, r.fleetProject, r.federation, func(rec *adoptionRecord) {
		rec.Adopted = slices.DeleteFunc(rec.Adopted, func(en recordEntry) bool { return slices.Contains(entries, en) })
	})
}

// idOf is the number Compute Engine gave a network or subnetwork.
func idOf(o *object) uint64 {
	switch m := o.msg.(type) {
	case *computepb.Network:
		return m.GetId()
	case *computepb.Subnetwork:
		return m.GetId()
	}
	return 0
}

// staleEntries are the record's entries for the network's project that name nothing live: the
// resource was deleted by hand (or made again, with another number). Apply drops them; entries
// of other projects are not read and stay.
func staleEntries(rec *adoptionRecord, netProject string, live []*object) []recordEntry {
	if rec == nil {
		return nil
	}
	ids := map[plan.Address]string{}
	for _, o := range live {
		if markOnlyAtCreation[o.res.Kind] {
			ids[o.res.Address] = strconv.FormatUint(idOf(o), 10)
		}
	}
	var out []recordEntry
	for _, en := range rec.Adopted {
		ref, err := plan.ParseAddress(en.Address)
		if err != nil || ref.Project != netProject || !markOnlyAtCreation[ref.Kind] {
			continue
		}
		if ids[en.Address] != en.ID {
			out = append(out, en)
		}
	}
	return out
}

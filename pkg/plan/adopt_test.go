package plan

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiffAdopt(t *testing.T) {
	net := "gcp:projects/p/global/networks/asm-vpc-3"
	cl := "gke:projects/p/locations/us-west2/clusters/cluster3"
	api := "gcp:projects/p/services/container.googleapis.com"
	mark := "managed-by=asmfed federation=x"
	tests := []struct {
		name          string
		adopt         bool
		desired, live []Resource
		want          map[Address]Action
		wantConflict  string
		wantFields    []string
		wantSummary   Summary
	}{
		{
			name:        "unmarked and compatible: adopted, the mark added",
			adopt:       true,
			desired:     []Resource{res(net, map[string]any{"routingMode": "REGIONAL", "description": mark})},
			live:        []Resource{res(net, map[string]any{"routingMode": "REGIONAL", "description": ""})},
			want:        map[Address]Action{Address(net): Adopt},
			wantFields:  []string{"description"},
			wantSummary: Summary{Adopt: 1},
		},
		{
			name:    "unmarked, a field that changes in place differs: adopted with the change",
			adopt:   true,
			desired: []Resource{res(cl, map[string]any{"labels": map[string]any{"managed-by": "asmfed"}, "networkPolicy": true, "controlPlaneRange": "192.168.2.0/28"}, immutable("controlPlaneRange"))},
			live:    []Resource{res(cl, map[string]any{"labels": map[string]any{}, "networkPolicy": false, "controlPlaneRange": "192.168.2.0/28"})},
			want:    map[Address]Action{Address(cl): Adopt}, wantFields: []string{"labels", "networkPolicy"},
			wantSummary: Summary{Adopt: 1},
		},
		{
			name:         "unmarked, a field that forces replacement differs: a conflict naming it, never a replacement",
			adopt:        true,
			desired:      []Resource{res(cl, map[string]any{"labels": map[string]any{"managed-by": "asmfed"}, "controlPlaneRange": "192.168.4.0/28"}, immutable("controlPlaneRange"))},
			live:         []Resource{res(cl, map[string]any{"labels": map[string]any{}, "controlPlaneRange": "192.168.2.0/28"})},
			want:         map[Address]Action{},
			wantConflict: `controlPlaneRange ("192.168.2.0/28" here, "192.168.4.0/28" in the file) cannot change in place`,
		},
		{
			name:    "unmarked and equal (an enabled API): nothing to adopt",
			adopt:   true,
			desired: []Resource{res(api, map[string]any{"state": "ENABLED"})},
			live:    []Resource{res(api, map[string]any{"state": "ENABLED"})},
			want:    map[Address]Action{Address(api): NoOp},
		},
		{
			name:        "marked: an update, as without --adopt",
			adopt:       true,
			desired:     []Resource{res(net, map[string]any{"routingMode": "GLOBAL", "description": mark})},
			live:        []Resource{res(net, map[string]any{"routingMode": "REGIONAL", "description": mark}, owned)},
			want:        map[Address]Action{Address(net): Update},
			wantFields:  []string{"routingMode"},
			wantSummary: Summary{Change: 1},
		},
		{
			name:         "marked by another federation: a conflict naming it, never adopted",
			adopt:        true,
			desired:      []Resource{res(net, map[string]any{"routingMode": "REGIONAL", "description": mark})},
			live:         []Resource{res(net, map[string]any{"routingMode": "REGIONAL", "description": "managed-by=asmfed federation=prod"}, func(r *Resource) { r.OwnedBy = "prod" })},
			want:         map[Address]Action{},
			wantConflict: `carries the ownership mark of federation "prod" and cannot be adopted`,
		},
		{
			name:  "unmarked and not in the file: never adopted, never deleted",
			adopt: true,
			live:  []Resource{res(net, map[string]any{"routingMode": "REGIONAL", "description": ""})},
			want:  map[Address]Action{},
		},
		{
			name:         "without --adopt the same resource is a conflict",
			desired:      []Resource{res(net, map[string]any{"routingMode": "REGIONAL", "description": mark})},
			live:         []Resource{res(net, map[string]any{"routingMode": "REGIONAL", "description": ""})},
			want:         map[Address]Action{},
			wantConflict: "differs in description",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Diff(tt.desired, tt.live, DiffOptions{Federation: "x", Adopt: tt.adopt})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, actions(p)); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSummary, p.Summary); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			switch {
			case tt.wantConflict == "" && len(p.Conflicts) > 0:
				t.Errorf("unexpected conflicts: %v", p.Conflicts)
			case tt.wantConflict != "" && (len(p.Conflicts) != 1 || !strings.Contains(p.Conflicts[0].Reason, tt.wantConflict)):
				t.Errorf("conflicts %v, want one saying %q", p.Conflicts, tt.wantConflict)
			}
			var fields []string
			for _, c := range p.Changes {
				for _, f := range c.Fields {
					fields = append(fields, f.Path)
				}
			}
			if diff := cmp.Diff(tt.wantFields, fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if p.Adopt != tt.adopt {
				t.Errorf("plan.Adopt = %v, want %v", p.Adopt, tt.adopt)
			}
			if err := p.CheckApplicable(false); (err != nil) != (tt.wantConflict != "") {
				t.Errorf("CheckApplicable: %v", err)
			}
		})
	}
}

// An adopt plan renders with its own mark, explained in the legend, the fields that change in
// place, and its own count; the JSON form carries the action, the fields and the flag, and a saved
// plan keeps the flag for apply.
func TestRenderAdopt(t *testing.T) {
	net := "gcp:projects/p/global/networks/asm-vpc-3"
	cl := "gke:projects/p/locations/us-west2/clusters/cluster3"
	desired := []Resource{
		res(net, map[string]any{"routingMode": "REGIONAL", "description": "managed-by=asmfed federation=x"}, why("the VPC every cluster is attached to")),
		res(cl, map[string]any{"labels": map[string]any{"managed-by": "asmfed", "mesh_id": "proj-1"}, "networkPolicy": true}, group("cluster cluster3")),
		res("gcp:projects/p/global/firewalls/asmfed-x--webhooks", map[string]any{"priority": 1000}),
	}
	live := []Resource{
		res(net, map[string]any{"routingMode": "REGIONAL", "description": ""}),
		res(cl, map[string]any{"labels": map[string]any{"mesh_id": "proj-1"}, "networkPolicy": false}, group("cluster cluster3")),
	}
	p, err := Diff(desired, live, DiffOptions{Federation: "x", Adopt: true})
	if err != nil {
		t.Fatal(err)
	}
	var text, js bytes.Buffer
	if err := (TextRenderer{}).Render(&text, p); err != nil {
		t.Fatal(err)
	}
	golden(t, "adopt.txt.golden", text.Bytes())
	if err := (JSONRenderer{}).Render(&js, p); err != nil {
		t.Fatal(err)
	}
	golden(t, "adopt.json.golden", js.Bytes())

	var saved bytes.Buffer
	if err := (&Saved{Plan: p}).Write(&saved); err != nil {
		t.Fatal(err)
	}
	back, err := ReadSaved(&saved)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Adopt || back.Summary != (Summary{Add: 1, Adopt: 2}) || cmp.Diff(p.Adopted(), back.Adopted()) != "" {
		t.Errorf("saved plan lost the adoption: adopt=%v summary=%+v adopted=%v", back.Adopt, back.Summary, back.Adopted())
	}
	if !Merge("x", p, nil).Adopt {
		t.Error("Merge dropped the adopt flag")
	}
}

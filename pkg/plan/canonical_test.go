package plan

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDiffNormalisesOnce holds Diff, which makes each resource's fields canonical once, to the
// helpers that make them canonical at every use: the plan's before and after (redact), the
// changed fields (diffFields) and the live state's fingerprint (fingerprintOf).
func TestDiffNormalisesOnce(t *testing.T) {
	type block struct {
		CIDR string `json:"cidr"`
	}
	sensitive := func(r *Resource) { r.Sensitive = []string{"token"} }
	immutable := func(r *Resource) { r.Immutable = []string{"size"} }
	isOwned := func(r *Resource) { r.Owned = true }
	live := []Resource{
		res("gcp:projects/p/global/networks/same", map[string]any{"size": int32(3), "tags": []string{"a", "b"},
			"labels": map[string]string{"k": "v"}, "blocks": []block{{"10.0.0.0/8"}}, "token": "secret-1"}, isOwned, sensitive),
		res("gcp:projects/p/global/networks/changed", map[string]any{"size": int64(3), "token": "secret-1",
			"nested": map[string]any{"list": []any{int32(1), "x"}}}, isOwned, sensitive, immutable),
		res("gcp:projects/p/global/networks/unowned", map[string]any{"size": 1}),
		res("gcp:projects/p/global/networks/gone", map[string]any{"size": 2, "token": "secret-2"}, isOwned, sensitive),
		res("gcp:projects/p/global/networks/nil", nil, isOwned),
	}
	desired := []Resource{
		res("gcp:projects/p/global/networks/same", map[string]any{"size": 3, "tags": []any{"a", "b"},
			"labels": map[string]any{"k": "v"}, "blocks": []any{map[string]any{"cidr": "10.0.0.0/8"}}, "token": "secret-1"}, sensitive),
		res("gcp:projects/p/global/networks/changed", map[string]any{"size": 4, "token": "secret-2",
			"nested": map[string]any{"list": []any{float64(1), "y"}}}, sensitive, immutable),
		res("gcp:projects/p/global/networks/unowned", map[string]any{"size": 1}),
		res("gcp:projects/p/global/networks/new", map[string]any{"size": int32(5), "token": "secret-3"}, sensitive),
		res("gcp:projects/p/global/networks/nil", nil),
	}
	p, err := Diff(desired, live, DiffOptions{Federation: "f"})
	if err != nil {
		t.Fatal(err)
	}
	liveBy, desiredBy := map[Address]Resource{}, map[Address]Resource{}
	for _, r := range live {
		liveBy[r.Address] = r
	}
	for _, r := range desired {
		desiredBy[r.Address] = r
	}
	actions := map[Action]int{}
	for _, c := range p.Changes {
		actions[c.Action]++
		l, d := liveBy[c.Address], desiredBy[c.Address]
		var before, after map[string]any
		var fields []FieldChange
		switch c.Action {
		case Create:
			after = redact(d.Fields, d.Sensitive)
		case Delete:
			before = redact(l.Fields, l.Sensitive)
		default:
			before, after = redact(l.Fields, d.Sensitive), redact(d.Fields, d.Sensitive)
			fields = diffFields(l.Fields, d.Fields, d.Immutable, d.Sensitive)
		}
		if diff := cmp.Diff(before, c.Before); diff != "" {
			t.Errorf("%s: before (-helpers +Diff):\n%s", c.Address, diff)
		}
		if diff := cmp.Diff(after, c.After); diff != "" {
			t.Errorf("%s: after (-helpers +Diff):\n%s", c.Address, diff)
		}
		if diff := cmp.Diff(fields, c.Fields); diff != "" {
			t.Errorf("%s: fields (-helpers +Diff):\n%s", c.Address, diff)
		}
	}
	if want := map[Action]int{NoOp: 3, Replace: 1, Create: 1, Delete: 1}; !cmp.Equal(want, actions) {
		t.Errorf("actions %v, want %v", actions, want)
	}
	if diff := cmp.Diff(fingerprintOf(live), p.Live); diff != "" {
		t.Errorf("fingerprint (-fingerprintOf +Diff):\n%s", diff)
	}
}

// TestEqualCanonical holds equalCanonical to reflect.DeepEqual on the values canonical makes.
func TestEqualCanonical(t *testing.T) {
	values := []any{
		nil, "a", "b", "", true, false, float64(1), float64(2), float64(0),
		[]any{}, []any(nil), []any{"a"}, []any{"a", "b"}, []any{"b", "a"}, []any{float64(1)}, []any{nil},
		map[string]any{}, map[string]any(nil), map[string]any{"k": "v"}, map[string]any{"k": "w"}, map[string]any{"j": "v"},
		map[string]any{"k": nil}, map[string]any{"k": []any{map[string]any{"cidr": "10.0.0.0/8"}}},
		map[string]any{"k": []any{map[string]any{"cidr": "10.0.0.0/9"}}}, map[string]any{"k": "v", "l": true},
		int32(1), []string{"a"},
	}
	for _, a := range values {
		for _, b := range values {
			if want, got := reflect.DeepEqual(a, b), equalCanonical(a, b); got != want {
				t.Errorf("equalCanonical(%#v, %#v) = %v, reflect.DeepEqual says %v", a, b, got, want)
			}
			if got := equalCanonical(canonical(a), canonical(b)); got != reflect.DeepEqual(canonical(a), canonical(b)) {
				t.Errorf("equalCanonical of canonical %#v and %#v = %v", a, b, got)
			}
		}
	}
}

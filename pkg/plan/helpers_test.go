package plan

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCanonical(t *testing.T) {
	type port struct {
		Name string `json:"name"`
		Port int32  `json:"port"`
	}
	tests := []struct {
		name string
		in   any
		want any
	}{
		{name: "nil", in: nil, want: nil},
		{name: "string", in: "a", want: "a"},
		{name: "bool", in: true, want: true},
		{name: "int", in: 3, want: float64(3)},
		{name: "int32 from a proto", in: int32(15017), want: float64(15017)},
		{name: "int64", in: int64(1) << 40, want: float64(int64(1) << 40)},
		{name: "float64 from a saved plan", in: 15017.0, want: float64(15017)},
		{name: "string slice", in: []string{"b", "a"}, want: []any{"b", "a"}},
		{name: "string map", in: map[string]string{"k": "v"}, want: map[string]any{"k": "v"}},
		{name: "nested", in: map[string]any{"ports": []any{int32(80), []string{"x"}}},
			want: map[string]any{"ports": []any{float64(80), []any{"x"}}}},
		{name: "struct through JSON", in: port{Name: "http", Port: 80}, want: map[string]any{"name": "http", "port": float64(80)}},
		{name: "struct slice through JSON", in: []port{{Name: "a", Port: 1}}, want: []any{map[string]any{"name": "a", "port": float64(1)}}},
		{name: "nil slice, written []", in: []any(nil), want: []any{}},
		{name: "nil map, written {}", in: map[string]any(nil), want: map[string]any{}},
		{name: "nil slice inside a canonical map", in: map[string]any{"a": []any(nil)}, want: map[string]any{"a": []any{}}},
		{name: "canonical already", in: map[string]any{"a": []any{"x", 1.0, true, nil}}, want: map[string]any{"a": []any{"x", 1.0, true, nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := canonical(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("canonical(%#v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestCanonicalKeepsACanonicalValue holds canonical to returning a value of JSON's own types as
// it is: a large plan's changes share their fields rather than copy them.
func TestCanonicalKeepsACanonicalValue(t *testing.T) {
	in := map[string]any{"spec": map[string]any{"ports": []any{80.0}}}
	out, ok := canonical(in).(map[string]any)
	if !ok {
		t.Fatalf("canonical = %T, want a map", canonical(in))
	}
	out["probe"] = true
	if _, same := in["probe"]; !same {
		t.Error("canonical copied a value that was canonical already")
	}
}

func TestCanonicalOfAValueJSONCannotHold(t *testing.T) {
	if s, ok := canonical(func() {}).(string); !ok || !strings.HasPrefix(s, "0x") {
		t.Errorf("canonical(func) = %#v, want its %%v form", canonical(func() {}))
	}
}

func TestDiffFields(t *testing.T) {
	tests := []struct {
		name                 string
		live, desired        map[string]any
		immutable, sensitive []string
		want                 []FieldChange
	}{
		{name: "equal after canonical form", live: map[string]any{"priority": 1000.0, "ranges": []any{"a"}},
			desired: map[string]any{"priority": int32(1000), "ranges": []string{"a"}}},
		{name: "a field desired leaves out is not managed", live: map[string]any{"description": "by hand"},
			desired: map[string]any{}},
		{name: "a field live lacks is compared against nil", live: map[string]any{},
			desired: map[string]any{"priority": 900},
			want:    []FieldChange{{Path: "priority", Before: nil, After: float64(900)}}},
		{name: "changes in key order, immutable marked", live: map[string]any{"b": "1", "a": "1", "network": "n1"},
			desired: map[string]any{"network": "n2", "b": "2", "a": "2"}, immutable: []string{"network"},
			want: []FieldChange{
				{Path: "a", Before: "1", After: "2"},
				{Path: "b", Before: "1", After: "2"},
				{Path: "network", Before: "n1", After: "n2", ForcesReplacement: true},
			}},
		{name: "sensitive values are redacted", live: map[string]any{"token": "old"},
			desired: map[string]any{"token": "new"}, sensitive: []string{"token"},
			want: []FieldChange{{Path: "token", Before: redactValue("old"), After: redactValue("new"), Sensitive: true}}},
		{name: "sensitive and newly set", live: map[string]any{},
			desired: map[string]any{"token": "new"}, sensitive: []string{"token"},
			want: []FieldChange{{Path: "token", Before: nil, After: redactValue("new"), Sensitive: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := diffFields(tt.live, tt.desired, tt.immutable, tt.sensitive)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diffFields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFingerprintDifferences(t *testing.T) {
	fp := func(kv ...string) Fingerprint {
		f := Fingerprint{Resources: map[Address]string{}}
		for i := 0; i < len(kv); i += 2 {
			f.Resources[Address(kv[i])] = kv[i+1]
		}
		f.Digest = digestOf(f.Resources)
		return f
	}
	tests := []struct {
		name      string
		then, now Fingerprint
		want      []string
	}{
		{name: "same", then: fp("gcp:a", "h1"), now: fp("gcp:a", "h1")},
		{name: "both empty", then: fp(), now: fp()},
		{name: "changed", then: fp("gcp:a", "h1"), now: fp("gcp:a", "h2"), want: []string{"gcp:a changed"}},
		{name: "deleted", then: fp("gcp:a", "h1", "gcp:b", "h1"), now: fp("gcp:a", "h1"), want: []string{"gcp:b was deleted"}},
		{name: "created", then: fp(), now: fp("k8s:c1/ns/Secret/s", "h1"), want: []string{"k8s:c1/ns/Secret/s was created"}},
		{name: "all three in address order",
			then: fp("gcp:c", "h1", "gcp:a", "h1"), now: fp("gcp:a", "h2", "gcp:b", "h1"),
			want: []string{"gcp:a changed", "gcp:b was created", "gcp:c was deleted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.then.Differences(tt.now)); diff != "" {
				t.Errorf("Differences (-want +got):\n%s", diff)
			}
			if same := tt.then.Digest == tt.now.Digest; same != (len(tt.want) == 0) {
				t.Errorf("digests equal = %v, but %d differences", same, len(tt.want))
			}
		})
	}
}

func TestSetDiff(t *testing.T) {
	tests := []struct {
		name                   string
		before, after          []any
		wantRemoved, wantAdded []any
	}{
		{name: "same set in another order", before: []any{"a", "b"}, after: []any{"b", "a"}},
		{name: "one swapped", before: []any{"10.0.0.0/8", "172.16.0.0/28"}, after: []any{"10.0.0.0/8", "172.16.0.16/28"},
			wantRemoved: []any{"172.16.0.0/28"}, wantAdded: []any{"172.16.0.16/28"}},
		{name: "from empty", after: []any{"a"}, wantAdded: []any{"a"}},
		{name: "objects by their JSON", before: []any{map[string]any{"cidr": "1.2.3.4/32"}},
			after:     []any{map[string]any{"cidr": "1.2.3.4/32"}, map[string]any{"cidr": "5.6.7.8/32"}},
			wantAdded: []any{map[string]any{"cidr": "5.6.7.8/32"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			removed, added := setDiff(tt.before, tt.after)
			if diff := cmp.Diff(tt.wantRemoved, removed); diff != "" {
				t.Errorf("removed (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantAdded, added); diff != "" {
				t.Errorf("added (-want +got):\n%s", diff)
			}
		})
	}
}

func TestActionSymbol(t *testing.T) {
	for a, want := range map[Action]string{Create: "+", Update: "~", Replace: "-/+", Delete: "-", Action("bogus"): " "} {
		if got := a.Symbol(); got != want {
			t.Errorf("%s.Symbol() = %q, want %q", a, got, want)
		}
	}
}

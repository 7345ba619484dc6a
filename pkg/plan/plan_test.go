package plan

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/internal/testutil"
)

// res builds a resource; opts tweak it.
func res(addr string, fields map[string]any, opts ...func(*Resource)) Resource {
	r := Resource{Address: Address(addr), Kind: kindOf(addr), Group: "project p", Fields: fields}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func kindOf(addr string) string {
	parts := strings.Split(addr, "/")
	if len(parts) < 2 {
		return "thing"
	}
	return strings.TrimSuffix(parts[len(parts)-2], "s")
}

func owned(r *Resource)                      { r.Owned = true }
func why(s string) func(*Resource)           { return func(r *Resource) { r.Reason = s } }
func immutable(f ...string) func(*Resource)  { return func(r *Resource) { r.Immutable = f } }
func sensitive(f ...string) func(*Resource)  { return func(r *Resource) { r.Sensitive = f } }
func dependsOn(a ...Address) func(*Resource) { return func(r *Resource) { r.DependsOn = a } }
func group(g string) func(*Resource)         { return func(r *Resource) { r.Group = g } }

func actions(p *Plan) map[Address]Action {
	out := map[Address]Action{}
	for _, c := range p.Changes {
		out[c.Address] = c.Action
	}
	return out
}

func TestDiff(t *testing.T) {
	fw := "gcp:projects/p/global/firewalls/asmfed-x-webhooks"
	cl := "gke:projects/p/locations/us-west2/clusters/c1"
	tests := []struct {
		name          string
		desired, live []Resource
		want          map[Address]Action
		wantConflicts int
		wantSummary   Summary
	}{
		{
			name:        "create what is missing",
			desired:     []Resource{res(fw, map[string]any{"priority": 1000})},
			want:        map[Address]Action{Address(fw): Create},
			wantSummary: Summary{Add: 1},
		},
		{
			name:    "equal after normalisation is a no-op",
			desired: []Resource{res(fw, map[string]any{"priority": int32(1000), "tags": []string{"a"}})},
			live:    []Resource{res(fw, map[string]any{"priority": 1000.0, "tags": []any{"a"}, "selfLink": "x"}, owned)},
			want:    map[Address]Action{Address(fw): NoOp},
		},
		{
			name:        "a managed field differs: update in place",
			desired:     []Resource{res(cl, map[string]any{"labels": map[string]any{"a": "1"}}, immutable("controlPlaneRange"))},
			live:        []Resource{res(cl, map[string]any{"labels": map[string]any{"a": "2"}}, owned)},
			want:        map[Address]Action{Address(cl): Update},
			wantSummary: Summary{Change: 1},
		},
		{
			name:        "an immutable field differs: replace",
			desired:     []Resource{res(cl, map[string]any{"controlPlaneRange": "192.168.4.0/28"}, immutable("controlPlaneRange"))},
			live:        []Resource{res(cl, map[string]any{"controlPlaneRange": "192.168.3.0/28"}, owned)},
			want:        map[Address]Action{Address(cl): Replace},
			wantSummary: Summary{Replace: 1},
		},
		{
			name:        "owned and no longer wanted: delete",
			live:        []Resource{res(fw, map[string]any{"priority": 1000}, owned)},
			want:        map[Address]Action{Address(fw): Delete},
			wantSummary: Summary{Destroy: 1},
		},
		{
			name: "not owned and not wanted: untouched",
			live: []Resource{res(fw, map[string]any{"priority": 1000})},
			want: map[Address]Action{},
		},
		{
			name:          "wanted, exists unowned and differs: conflict, no change",
			desired:       []Resource{res(fw, map[string]any{"priority": 1000})},
			live:          []Resource{res(fw, map[string]any{"priority": 900})},
			want:          map[Address]Action{},
			wantConflicts: 1,
		},
		{
			name:    "wanted, exists unowned and equal: no-op",
			desired: []Resource{res(fw, map[string]any{"priority": 1000})},
			live:    []Resource{res(fw, map[string]any{"priority": 1000})},
			want:    map[Address]Action{Address(fw): NoOp},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Diff(tt.desired, tt.live, DiffOptions{Federation: "x"})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, actions(p)); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			if len(p.Conflicts) != tt.wantConflicts {
				t.Errorf("conflicts: got %v, want %d", p.Conflicts, tt.wantConflicts)
			}
			if diff := cmp.Diff(tt.wantSummary, p.Summary); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDiffRejectsDuplicates(t *testing.T) {
	r := res("gcp:projects/p/global/networks/n", nil)
	if _, err := Diff([]Resource{r, r}, nil, DiffOptions{}); err == nil {
		t.Error("duplicate desired resources accepted")
	}
	if _, err := Diff(nil, []Resource{r, r}, DiffOptions{}); err == nil {
		t.Error("duplicate live resources accepted")
	}
}

// Secrets never appear in a plan, in either renderer, whatever the action.
func TestSensitiveFieldsAreRedacted(t *testing.T) {
	const token = "eyJhbGciOiJSUzI1NiIsImtpZCI6InNlY3JldCJ9.c2VjcmV0"
	const newToken = "eyJhbGciOiJSUzI1NiIsImtpZCI6Im5ldyJ9.bmV3c2VjcmV0"
	sec := "k8s:c1/istio-system/Secret/istio-remote-secret-c2"
	gone := "k8s:c1/istio-system/Secret/istio-remote-secret-c3"
	desired := []Resource{
		res(sec, map[string]any{"data": map[string]any{"c2": newToken}, "labels": map[string]any{"istio/multiCluster": "true"}}, sensitive("data")),
		res("k8s:c1/istio-system/Secret/cacerts", map[string]any{"data": map[string]any{"ca-key.pem": token}}, sensitive("data")),
	}
	live := []Resource{
		res(sec, map[string]any{"data": map[string]any{"c2": token}, "labels": map[string]any{}}, owned, sensitive("data")),
		res(gone, map[string]any{"data": map[string]any{"c3": token}}, owned, sensitive("data")),
	}
	p, err := Diff(desired, live, DiffOptions{Federation: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var text, js bytes.Buffer
	if err := (TextRenderer{}).Render(&text, p); err != nil {
		t.Fatal(err)
	}
	if err := (JSONRenderer{}).Render(&js, p); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "json": js.String()} {
		for _, secret := range []string{token, newToken, "c2VjcmV0", "bmV3c2VjcmV0"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s output contains secret material %q:\n%s", name, secret, out)
			}
		}
		if !strings.Contains(out, "(sensitive sha256:") {
			t.Errorf("%s output does not show the redaction:\n%s", name, out)
		}
	}
	if got := actions(p)[Address(sec)]; got != Update {
		t.Errorf("a changed secret must still be updated, got %s", got)
	}
}

func samplePlan(t *testing.T) *Plan {
	t.Helper()
	net := Address("gcp:projects/host/global/networks/vpc")
	desired := []Resource{
		res(string(net), map[string]any{"autoCreateSubnetworks": false, "routingMode": "REGIONAL"}, why("the VPC every cluster is attached to"), group("project host")),
		res("gcp:projects/host/global/firewalls/asmfed-x-webhooks", map[string]any{
			"allowed": []any{map[string]any{"ipProtocol": "tcp", "ports": []any{"15017"}}}, "sourceRanges": []any{"192.168.2.0/28", "192.168.3.0/28"},
			"targetTags": []any{"c1", "c2"}}, why("the private control planes call admission webhooks on the nodes"), dependsOn(net), group("project host")),
		res("gke:projects/svc/locations/us-west2/clusters/c1", map[string]any{
			"masterAuthorizedNetworks": []any{map[string]any{"cidr": "10.0.0.0/24", "displayName": "admin"}, map[string]any{"cidr": "10.185.192.0/18", "displayName": "c2-pods"}},
			"labels":                   map[string]any{"mesh_id": "proj-1"}}, why("cluster c1 of the federation"), dependsOn(net), group("project svc")),
		res("gke:projects/svc/locations/us-west2/clusters/c2", map[string]any{"controlPlaneRange": "192.168.4.0/28"}, immutable("controlPlaneRange"), dependsOn(net), group("project svc")),
	}
	live := []Resource{
		res(string(net), map[string]any{"autoCreateSubnetworks": false, "routingMode": "REGIONAL"}, owned, group("project host")),
		res("gke:projects/svc/locations/us-west2/clusters/c1", map[string]any{
			"masterAuthorizedNetworks": []any{map[string]any{"cidr": "10.0.0.0/24", "displayName": "admin"}, map[string]any{"cidr": "0.0.0.0/0", "displayName": "all"}},
			"labels":                   map[string]any{"mesh_id": "proj-1"}}, owned, group("project svc")),
		res("gke:projects/svc/locations/us-west2/clusters/c2", map[string]any{"controlPlaneRange": "192.168.3.0/28"}, owned, group("project svc")),
		res("gcp:projects/host/global/firewalls/asmfed-x-old", map[string]any{"sourceRanges": []any{"10.9.0.0/16"}}, owned, group("project host")),
		res("gcp:projects/host/global/firewalls/allow-ssh", map[string]any{"sourceRanges": []any{"35.235.240.0/20"}}, group("project host")),
	}
	p, err := Diff(desired, live, DiffOptions{Federation: "x"})
	if err != nil {
		t.Fatal(err)
	}
	p.Warnings = append(p.Warnings, "cluster c2 is replaced: its workloads and remote secrets go with it")
	return p
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testutil.Golden(t, filepath.Join("testdata", name), string(got))
}

func TestRenderGolden(t *testing.T) {
	p := samplePlan(t)
	var text, colored, js bytes.Buffer
	if err := (TextRenderer{}).Render(&text, p); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.txt.golden", text.Bytes())
	if strings.Contains(text.String(), "\x1b[") {
		t.Error("colour in non-colour output")
	}
	if err := (TextRenderer{Color: true}).Render(&colored, p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(colored.String(), ansiGreen+"+"+ansiReset) {
		t.Error("no colour in colour output")
	}
	if err := (JSONRenderer{}).Render(&js, p); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.json.golden", js.Bytes())
	var back Plan
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.FormatVersion != FormatVersion || back.Summary != p.Summary {
		t.Errorf("JSON round trip: %s %+v", back.FormatVersion, back.Summary)
	}
}

func TestRenderNoChanges(t *testing.T) {
	r := res("gcp:projects/p/global/networks/n", map[string]any{"a": 1}, owned)
	p, err := Diff([]Resource{r}, []Resource{r}, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := (TextRenderer{}).Render(&b, p); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "No changes. The federation matches the live state.\n" {
		t.Errorf("got %q", got)
	}
}

func TestSavedPlanStaleness(t *testing.T) {
	p := samplePlan(t)
	src := SourceOf("federation.yaml", []byte("spec: {}"))
	var buf bytes.Buffer
	if err := (&Saved{Plan: p, Source: src}).Write(&buf); err != nil {
		t.Fatal(err)
	}
	saved, err := ReadSaved(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	live := []Resource{
		res("gcp:projects/host/global/networks/vpc", map[string]any{"autoCreateSubnetworks": false, "routingMode": "REGIONAL"}, owned),
	}
	// The live state the plan was made from, unchanged, is fresh.
	if err := saved.CheckFresh(src, p.Live); err != nil {
		t.Errorf("unchanged inputs refused: %v", err)
	}
	err = saved.CheckFresh(SourceOf("federation.yaml", []byte("spec: {x: 1}")), fingerprintOf(live))
	stale, ok := err.(*StaleError)
	if !ok {
		t.Fatalf("want *StaleError, got %v", err)
	}
	want := []string{
		"federation file federation.yaml changed",
		"gcp:projects/host/global/firewalls/allow-ssh was deleted",
		"gcp:projects/host/global/firewalls/asmfed-x-old was deleted",
		"gke:projects/svc/locations/us-west2/clusters/c1 was deleted",
		"gke:projects/svc/locations/us-west2/clusters/c2 was deleted",
	}
	if diff := cmp.Diff(want, stale.Reasons); diff != "" {
		t.Errorf("stale reasons (-want +got):\n%s", diff)
	}
	changed := fingerprintOf([]Resource{res("gcp:projects/host/global/networks/vpc", map[string]any{"routingMode": "GLOBAL"}, owned)})
	if d := fingerprintOf(live).Differences(changed); len(d) != 1 || d[0] != "gcp:projects/host/global/networks/vpc changed" {
		t.Errorf("differences: %v", d)
	}

	if _, err := ReadSaved(strings.NewReader(`{"formatVersion":"2.0","changes":[]}`)); err == nil || !strings.Contains(err.Error(), "format version 2.0") {
		t.Errorf("future format accepted: %v", err)
	}
	if _, err := ReadSaved(strings.NewReader(`{"hello":1}`)); err == nil {
		t.Error("non-plan accepted")
	}
}

func TestMerge(t *testing.T) {
	gcpPlan, err := Diff([]Resource{res("gcp:projects/p/global/networks/n", map[string]any{"a": 1})}, nil, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live := []Resource{res("k8s:c1/Namespace/old", map[string]any{"x": 1}, owned)}
	kubePlan, err := Diff(nil, live, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := Merge("f", gcpPlan, nil, kubePlan)
	if m.Summary != (Summary{Add: 1, Destroy: 1}) || len(m.Changes) != 2 || m.Changes[0].Address.Layer() != "gcp" {
		t.Errorf("merged: %+v", m)
	}
	if m.Live.Digest != fingerprintOf(live).Digest {
		t.Errorf("the merged fingerprint must equal one taken over all live resources")
	}
}

func TestLongValuesAreCut(t *testing.T) {
	long := strings.Repeat("x", 5000)
	p, err := Diff([]Resource{res("k8s:c1/istio-system/ConfigMap/istio", map[string]any{"data": map[string]any{"mesh": long}})}, nil, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var text, js bytes.Buffer
	if err := (TextRenderer{}).Render(&text, p); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text.String(), long) || !strings.Contains(text.String(), "bytes in all; plan -o json shows everything") {
		t.Errorf("a 5000-byte value is not cut in text:\n%.400s", text.String())
	}
	if err := (JSONRenderer{}).Render(&js, p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), long) {
		t.Error("JSON must keep the whole value")
	}
}

// A plan that could not cover a cluster never says the federation matches: it lists the cluster
// with the address tried, the cause and the fix, in text and in JSON.
func TestRenderUnreachable(t *testing.T) {
	r := res("gcp:projects/p/global/networks/n", map[string]any{"a": 1}, owned)
	p, err := Diff([]Resource{r}, []Resource{r}, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Unreachable = []Unreachable{{Cluster: "c1", Via: "privateEndpoint", Address: "https://10.0.0.2", Cause: "no answer within 15s (timeout)", Fix: "run from inside the VPC"}}
	var b bytes.Buffer
	if err := (TextRenderer{}).Render(&b, p); err != nil {
		t.Fatal(err)
	}
	want := `No changes in what could be planned; the clusters below could not be.

# not planned: clusters that exist but did not answer
  ! c1 (via privateEndpoint) at https://10.0.0.2
      cause: no answer within 15s (timeout)
      fix: run from inside the VPC
`
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	b.Reset()
	if err := (JSONRenderer{}).Render(&b, p); err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back.Unreachable) != 1 || back.Unreachable[0] != p.Unreachable[0] {
		t.Errorf("JSON round trip: %v %+v", err, back.Unreachable)
	}
}

// TestNoOpBeforeAndAfter holds a no-op's before and after to the live and desired fields as the
// saved plan's JSON shows them, whether one map stands for both (the same fields) or not (live
// fields desired leaves out, which never differ).
func TestNoOpBeforeAndAfter(t *testing.T) {
	const a = "gcp:projects/p/global/things/x"
	tests := []struct {
		name                string
		live, desired       Resource
		wantBefore, wantAft string
		shared              bool
	}{
		{name: "same fields",
			live:       res(a, map[string]any{"n": int64(3), "tags": []string{"a"}}, owned),
			desired:    res(a, map[string]any{"n": 3, "tags": []any{"a"}}),
			wantBefore: `{"n":3,"tags":["a"]}`, wantAft: `{"n":3,"tags":["a"]}`, shared: true},
		{name: "a live field desired leaves out",
			live:       res(a, map[string]any{"n": 3, "other": "x"}, owned),
			desired:    res(a, map[string]any{"n": 3}),
			wantBefore: `{"n":3,"other":"x"}`, wantAft: `{"n":3}`},
		{name: "a desired field live lacks, compared as null",
			live:       res(a, map[string]any{"n": 3}, owned),
			desired:    res(a, map[string]any{"n": 3, "unset": nil}),
			wantBefore: `{"n":3}`, wantAft: `{"n":3,"unset":null}`},
		{name: "sensitive fields redacted in both",
			live:       res(a, map[string]any{"key": "secret"}, owned, sensitive("key")),
			desired:    res(a, map[string]any{"key": "secret"}, sensitive("key")),
			wantBefore: `{"key":"(sensitive sha256:c1980264fc22)"}`, wantAft: `{"key":"(sensitive sha256:c1980264fc22)"}`, shared: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Diff([]Resource{tt.desired}, []Resource{tt.live}, DiffOptions{Federation: "f"})
			if err != nil {
				t.Fatal(err)
			}
			c := p.Changes[0]
			if c.Action != NoOp {
				t.Fatalf("action = %s, want no-op", c.Action)
			}
			before, _ := json.Marshal(c.Before)
			after, _ := json.Marshal(c.After)
			if diff := cmp.Diff(tt.wantBefore, string(before)); diff != "" {
				t.Errorf("before (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantAft, string(after)); diff != "" {
				t.Errorf("after (-want +got):\n%s", diff)
			}
			if shared := sameMap(c.Before, c.After); shared != tt.shared {
				t.Errorf("before and after one map = %v, want %v", shared, tt.shared)
			}
		})
	}
}

// sameMap reports whether a and b are one map: a key set in one shows in the other.
func sameMap(a, b map[string]any) bool {
	if a == nil || b == nil {
		return false
	}
	const probe = "\x00probe"
	a[probe] = true
	_, same := b[probe]
	delete(a, probe)
	return same
}

package verify

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

func clusters(names ...string) []v1alpha1.Cluster {
	out := make([]v1alpha1.Cluster, len(names))
	for i, n := range names {
		out[i] = v1alpha1.Cluster{Name: n}
	}
	return out
}

func TestClustersExist(t *testing.T) {
	tests := []struct {
		name     string
		clusters []string
		notReady []string
		want     []Finding
	}{
		{name: "no clusters", want: nil},
		{name: "all running", clusters: []string{"c1", "c2"}, want: []Finding{
			{Subject: "c1", Status: OK, Message: "running and reachable"},
			{Subject: "c2", Status: OK, Message: "running and reachable"},
		}},
		{name: "one not ready, in file order", clusters: []string{"c2", "c1"}, notReady: []string{"c1"}, want: []Finding{
			{Subject: "c2", Status: OK, Message: "running and reachable"},
			{Subject: "c1", Status: Fail, Message: "the cluster does not exist or is not running",
				Hint: "run kubectl asmfed apply, or wait for GKE to finish creating it"},
		}},
		{name: "a not-ready name outside the file is ignored", clusters: []string{"c1"}, notReady: []string{"old"}, want: []Finding{
			{Subject: "c1", Status: OK, Message: "running and reachable"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &Env{Federation: &v1alpha1.Federation{Spec: v1alpha1.FederationSpec{Clusters: clusters(tt.clusters...)}}, NotReady: tt.notReady}
			if diff := cmp.Diff(tt.want, clustersExist(context.Background(), env)); diff != "" {
				t.Errorf("clustersExist (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConverged(t *testing.T) {
	tests := []struct {
		name    string
		pending *plan.Plan
		want    []Finding
	}{
		{name: "nothing to do", pending: &plan.Plan{}, want: []Finding{{Status: OK, Message: "apply has nothing left to do"}}},
		{name: "changes left", pending: &plan.Plan{Summary: plan.Summary{Add: 1, Change: 2, Replace: 3, Destroy: 4}},
			want: []Finding{{Status: Warn, Message: "apply would still add 1, change 2, replace 3 and destroy 4 resources; 0 conflicts",
				Hint: "kubectl asmfed plan shows them; kubectl asmfed apply carries them out"}}},
		{name: "only conflicts", pending: &plan.Plan{Conflicts: []plan.Conflict{{}}},
			want: []Finding{{Status: Warn, Message: "apply would still add 0, change 0, replace 0 and destroy 0 resources; 1 conflicts",
				Hint: "kubectl asmfed plan shows them; kubectl asmfed apply carries them out"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, converged(context.Background(), &Env{Pending: tt.pending})); diff != "" {
				t.Errorf("converged (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("no plan", func(t *testing.T) {
		r := Run(context.Background(), &Env{}, []Check{byID(t, "ASMFED-PRE-002")})
		if len(r.Results) != 1 || r.Results[0].Status != Skipped || r.Results[0].Message != "no plan was made" {
			t.Errorf("without a plan: %+v", r.Results)
		}
	})
}

// byID is the check of Checks() with that ID.
func byID(t *testing.T, id string) Check {
	t.Helper()
	for _, c := range Checks() {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no check %s", id)
	return Check{}
}

func TestManagedMesh(t *testing.T) {
	const describeHint = "see the conditions' documentation links in gcloud container fleet mesh describe"
	tests := []struct {
		name         string
		controlPlane string
		states       map[string]MeshState
		want         []Finding
	}{
		{name: "in-cluster control plane is skipped", controlPlane: v1alpha1.ControlPlaneInCluster,
			want: []Finding{{Status: Skipped, Message: "in-cluster control plane"}}},
		{name: "not enrolled", controlPlane: v1alpha1.ControlPlaneManaged,
			want: []Finding{{Subject: "c1", Status: Fail, Message: "no servicemesh state: the cluster is not enrolled", Hint: "kubectl asmfed apply enrols it"}}},
		{name: "active", controlPlane: v1alpha1.ControlPlaneManaged, states: map[string]MeshState{"c1": {ControlPlane: "ACTIVE", DataPlane: "ACTIVE"}},
			want: []Finding{{Subject: "c1", Status: OK, Message: "control plane and data plane ACTIVE"}}},
		{name: "data plane provisioning", controlPlane: v1alpha1.ControlPlaneManaged, states: map[string]MeshState{"c1": {ControlPlane: "ACTIVE", DataPlane: "PROVISIONING"}},
			want: []Finding{{Subject: "c1", Status: Warn, Message: "control plane ACTIVE, data plane PROVISIONING", Hint: "provisioning takes several minutes; verify again later"}}},
		{name: "failed without conditions", controlPlane: v1alpha1.ControlPlaneManaged, states: map[string]MeshState{"c1": {ControlPlane: "FAILED_PRECONDITION", DataPlane: "DISABLED"}},
			want: []Finding{{Subject: "c1", Status: Fail, Message: "control plane FAILED_PRECONDITION, data plane DISABLED", Hint: describeHint}}},
		{name: "failed with conditions", controlPlane: v1alpha1.ControlPlaneManaged,
			states: map[string]MeshState{"c1": {ControlPlane: "STALLED", DataPlane: "ACTIVE", Conditions: []string{"ERROR A: a", "WARNING B: b"}}},
			want:   []Finding{{Subject: "c1", Status: Fail, Message: "control plane STALLED, data plane ACTIVE: ERROR A: a; WARNING B: b", Hint: describeHint}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &v1alpha1.Federation{Spec: v1alpha1.FederationSpec{Clusters: clusters("c1"), Mesh: v1alpha1.Mesh{ControlPlane: tt.controlPlane}}}
			if diff := cmp.Diff(tt.want, managedMesh(context.Background(), &Env{Federation: f, MeshStates: tt.states})); diff != "" {
				t.Errorf("managedMesh (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunCountsAndLabels(t *testing.T) {
	checks := []Check{
		{ID: "A-X-1", Name: "first", Run: findings(Finding{Status: OK}, Finding{Status: Warn})},
		{ID: "B-X-1", Name: "second", Run: findings(Finding{Status: OK}, Finding{Status: Skipped})},
		{ID: "C-Y-1", Name: "third", Run: findings(Finding{Status: Fail, Check: "ignored"}, Finding{Status: Skipped}, Finding{Status: Fail})},
		{ID: "D-Y-1", Name: "fourth", Run: findings(Finding{Status: Skipped})},
	}
	r := Run(context.Background(), &Env{}, checks)
	doc := func(id string) string { return "docs/verify.md#" + strings.ToLower(id) }
	want := &Report{
		Results: []Finding{
			{Check: "A-X-1", Name: "first", Status: OK}, {Check: "A-X-1", Name: "first", Status: Warn},
			{Check: "B-X-1", Name: "second", Status: OK}, {Check: "B-X-1", Name: "second", Status: Skipped},
			{Check: "C-Y-1", Name: "third", Status: Fail}, {Check: "C-Y-1", Name: "third", Status: Skipped},
			{Check: "C-Y-1", Name: "third", Status: Fail},
			{Check: "D-Y-1", Name: "fourth", Status: Skipped},
		},
		Checks: []CheckResult{
			{ID: "A-X-1", Name: "first", Group: "X", Doc: doc("A-X-1"), Status: Warn},
			{ID: "B-X-1", Name: "second", Group: "X", Doc: doc("B-X-1"), Status: OK},
			{ID: "C-Y-1", Name: "third", Group: "Y", Doc: doc("C-Y-1"), Status: Fail},
			{ID: "D-Y-1", Name: "fourth", Group: "Y", Doc: doc("D-Y-1"), Status: Skipped},
		},
		Counts: Counts{OK: 2, Warn: 1, Fail: 2, Skipped: 3, Checks: CheckCounts{Total: 4, OK: 1, Warn: 1, Fail: 1, Skipped: 1}},
	}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("Run (-want +got):\n%s", diff)
	}
	if !r.Failed() {
		t.Error("Failed() = false with two failures")
	}
	if empty := Run(context.Background(), &Env{}, nil); empty.Failed() || empty.Results == nil || empty.Checks == nil {
		t.Errorf("no checks: %+v, want empty, non-nil lists that did not fail", empty)
	}
}

func TestUnstructuredBytes(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name    string
		obj     map[string]any
		key     string
		want    []byte
		wantOK  bool
		wantErr bool
	}{
		{name: "present", obj: map[string]any{"data": map[string]any{"token": b64([]byte("abc"))}}, key: "token", want: []byte("abc"), wantOK: true},
		{name: "empty value", obj: map[string]any{"data": map[string]any{"token": ""}}, key: "token", want: []byte{}, wantOK: true},
		{name: "missing key", obj: map[string]any{"data": map[string]any{"other": b64([]byte("x"))}}, key: "token"},
		{name: "no data", obj: map[string]any{}, key: "token"},
		{name: "data of the wrong type", obj: map[string]any{"data": "nope"}, key: "token"},
		{name: "value of the wrong type", obj: map[string]any{"data": map[string]any{"token": 3}}, key: "token"},
		{name: "not base64", obj: map[string]any{"data": map[string]any{"token": "%%%"}}, key: "token", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := unstructuredBytes(tt.obj, tt.key)
			if (err != nil) != tt.wantErr || ok != tt.wantOK {
				t.Fatalf("unstructuredBytes = %q, %v, %v; want ok=%v err=%v", got, ok, err, tt.wantOK, tt.wantErr)
			}
			if !tt.wantErr {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("bytes (-want +got):\n%s", diff)
				}
			}
		})
	}
}

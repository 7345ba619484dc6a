package gcpfake_test

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"google.golang.org/api/gkehub/v1"
	"google.golang.org/api/option"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
)

func hubService(t *testing.T, srv *gcpfake.Server) *gkehub.Service {
	t.Helper()
	svc, err := gkehub.NewService(context.Background(), option.WithEndpoint(srv.URL()+"/gkehub/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// waitHub polls a GKE Hub operation the way the discovery clients do.
func waitHub(t *testing.T, svc *gkehub.Service, op *gkehub.Operation, err error) *gkehub.Operation {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "operation "+op.Name, func() error {
		if op.Done {
			return nil
		}
		next, err := svc.Projects.Locations.Operations.Get(op.Name).Do()
		if err != nil {
			return err
		}
		if op = next; !op.Done {
			return errors.New("still running")
		}
		return nil
	})
	if op.Error != nil {
		t.Fatalf("operation %s failed: %v", op.Name, op.Error.Message)
	}
	return op
}

var memberKey = regexp.MustCompile(`^projects/[0-9]{12}/locations/global/memberships/m1$`)

func meshState(t *testing.T, f *gkehub.Feature) *gkehub.ServiceMeshMembershipState {
	t.Helper()
	for k, st := range f.MembershipStates {
		if memberKey.MatchString(k) {
			return st.Servicemesh
		}
	}
	t.Fatalf("no membership state for m1 keyed by project number in %v", f.MembershipStates)
	return nil
}

// TestHubServiceMeshFeature drives the fleet servicemesh feature with the
// official discovery client: enable, automatic management for one
// membership, PROVISIONING until the simulated control plane is up, then
// ACTIVE with conditions; errors for duplicates and unknown memberships.
func TestHubServiceMeshFeature(t *testing.T) {
	clock := gcpfake.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	srv := gcpfake.Start(t, gcpfake.WithClock(clock),
		gcpfake.WithLatency(&gcpfake.Latency{Op: map[string]time.Duration{"Servicemesh/ManagedControlPlane": 8 * time.Minute}}))
	svc := hubService(t, srv)
	const parent = "projects/demo/locations/global"
	const name = parent + "/features/servicemesh"

	op, err := svc.Projects.Locations.Memberships.Create(parent, &gkehub.Membership{Description: "m1"}).MembershipId("m1").Do()
	waitHub(t, svc, op, err)

	op, err = svc.Projects.Locations.Features.Create(parent, &gkehub.Feature{}).FeatureId("servicemesh").Do()
	waitHub(t, svc, op, err)
	if _, err := svc.Projects.Locations.Features.Create(parent, &gkehub.Feature{}).FeatureId("servicemesh").Do(); httpCode(err) != 409 {
		t.Errorf("second create: %v, want 409", err)
	}
	if _, err := svc.Projects.Locations.Features.Create(parent, &gkehub.Feature{}).FeatureId("nosuchfeature").Do(); httpCode(err) != 400 {
		t.Errorf("unknown feature: %v, want 400", err)
	}

	f, err := svc.Projects.Locations.Features.Get(name).Do()
	if err != nil {
		t.Fatal(err)
	}
	if f.ResourceState.State != "ACTIVE" {
		t.Errorf("resourceState = %v, want ACTIVE", f.ResourceState.State)
	}
	if st := meshState(t, f); st.ControlPlaneManagement.State != "DISABLED" {
		t.Errorf("before opting in: control plane %v, want DISABLED", st.ControlPlaneManagement.State)
	}

	patch := &gkehub.Feature{MembershipSpecs: map[string]gkehub.MembershipFeatureSpec{
		"projects/demo/locations/global/memberships/m1": {Mesh: &gkehub.ServiceMeshMembershipSpec{Management: "MANAGEMENT_AUTOMATIC"}},
	}}
	op, err = svc.Projects.Locations.Features.Patch(name, patch).UpdateMask("membershipSpecs").Do()
	waitHub(t, svc, op, err)

	f, err = svc.Projects.Locations.Features.Get(name).Do()
	if err != nil {
		t.Fatal(err)
	}
	for k, spec := range f.MembershipSpecs {
		if !memberKey.MatchString(k) || spec.Mesh.Management != "MANAGEMENT_AUTOMATIC" {
			t.Errorf("membershipSpecs[%s] = %+v, want MANAGEMENT_AUTOMATIC keyed by project number", k, spec.Mesh)
		}
	}
	st := meshState(t, f)
	if st.ControlPlaneManagement.State != "PROVISIONING" || st.DataPlaneManagement.State != "PROVISIONING" {
		t.Errorf("right after opting in: control plane %s, data plane %s, want PROVISIONING", st.ControlPlaneManagement.State, st.DataPlaneManagement.State)
	}

	clock.Advance(8 * time.Minute)
	f, err = svc.Projects.Locations.Features.Get(name).Do()
	if err != nil {
		t.Fatal(err)
	}
	st = meshState(t, f)
	if st.ControlPlaneManagement.State != "ACTIVE" || st.DataPlaneManagement.State != "ACTIVE" {
		t.Errorf("after provisioning: control plane %s, data plane %s, want ACTIVE", st.ControlPlaneManagement.State, st.DataPlaneManagement.State)
	}
	if st.ControlPlaneManagement.Implementation != "TRAFFIC_DIRECTOR" || len(st.Conditions) == 0 || st.Conditions[0].Severity != "INFO" {
		t.Errorf("active state = %+v, conditions %+v", st.ControlPlaneManagement, st.Conditions)
	}

	list, err := svc.Projects.Locations.Features.List(parent).Do()
	if err != nil || len(list.Resources) != 1 || list.Resources[0].Name != name {
		t.Errorf("list = %+v, %v", list, err)
	}

	bad := &gkehub.Feature{MembershipSpecs: map[string]gkehub.MembershipFeatureSpec{
		"projects/demo/locations/global/memberships/ghost": {Mesh: &gkehub.ServiceMeshMembershipSpec{Management: "MANAGEMENT_AUTOMATIC"}},
	}}
	if _, err := svc.Projects.Locations.Features.Patch(name, bad).UpdateMask("membershipSpecs").Do(); httpCode(err) != 400 {
		t.Errorf("patch with unknown membership: %v, want 400", err)
	}

	manual := &gkehub.Feature{MembershipSpecs: map[string]gkehub.MembershipFeatureSpec{
		"projects/demo/locations/global/memberships/m1": {Mesh: &gkehub.ServiceMeshMembershipSpec{Management: "MANAGEMENT_MANUAL"}},
	}}
	op, err = svc.Projects.Locations.Features.Patch(name, manual).UpdateMask("membership_specs").Do()
	waitHub(t, svc, op, err)
	f, _ = svc.Projects.Locations.Features.Get(name).Do()
	if st := meshState(t, f); st.ControlPlaneManagement.State != "DISABLED" {
		t.Errorf("after MANAGEMENT_MANUAL: control plane %s, want DISABLED", st.ControlPlaneManagement.State)
	}

	op, err = svc.Projects.Locations.Features.Delete(name).Do()
	waitHub(t, svc, op, err)
	if _, err := svc.Projects.Locations.Features.Get(name).Do(); httpCode(err) != 404 {
		t.Errorf("get after delete: %v, want 404", err)
	}
	if n := srv.Calls("GkeHub/UpdateFeature"); n != 3 {
		t.Errorf("GkeHub/UpdateFeature calls = %d, want 3", n)
	}
}

// TestHubFeaturePersists checks that features, which the simulator
// describes with runtime descriptors, survive a restart with a state dir.
func TestHubFeaturePersists(t *testing.T) {
	dir := t.TempDir()
	srv, err := gcpfake.New(gcpfake.WithStateDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	svc := hubService(t, srv)
	op, err := svc.Projects.Locations.Memberships.Create("projects/demo/locations/global", &gkehub.Membership{}).MembershipId("m1").Do()
	waitHub(t, svc, op, err)
	op, err = svc.Projects.Locations.Features.Create("projects/demo/locations/global", &gkehub.Feature{MembershipSpecs: map[string]gkehub.MembershipFeatureSpec{
		"projects/demo/locations/global/memberships/m1": {Mesh: &gkehub.ServiceMeshMembershipSpec{Management: "MANAGEMENT_AUTOMATIC"}},
	}}).FeatureId("servicemesh").Do()
	waitHub(t, svc, op, err)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	srv2 := gcpfake.Start(t, gcpfake.WithStateDir(dir))
	f, err := hubService(t, srv2).Projects.Locations.Features.Get("projects/demo/locations/global/features/servicemesh").Do()
	if err != nil {
		t.Fatal(err)
	}
	if st := meshState(t, f); st.ControlPlaneManagement.State != "ACTIVE" {
		t.Errorf("after restart: control plane %s, want ACTIVE", st.ControlPlaneManagement.State)
	}
}

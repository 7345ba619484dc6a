package gcpfake_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	serviceusage "cloud.google.com/go/serviceusage/apiv1"
	"cloud.google.com/go/serviceusage/apiv1/serviceusagepb"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

func httpCode(err error) int {
	var g *googleapi.Error
	if errors.As(err, &g) {
		return g.Code
	}
	return 0
}

func mustInsertNetwork(t *testing.T, ctx context.Context, nets *compute.NetworksClient, name string) {
	t.Helper()
	op, err := nets.Insert(ctx, &computepb.InsertNetworkRequest{Project: "demo", NetworkResource: &computepb.Network{
		Name: proto.String(name), AutoCreateSubnetworks: proto.Bool(false)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestComputeRESTClients(t *testing.T) {
	srv := gcpfake.Start(t)
	ctx := context.Background()
	nets, err := compute.NewNetworksRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer nets.Close()
	subs, _ := compute.NewSubnetworksRESTClient(ctx, srv.ClientOptions()...)
	defer subs.Close()
	fws, _ := compute.NewFirewallsRESTClient(ctx, srv.ClientOptions()...)
	defer fws.Close()

	mustInsertNetwork(t, ctx, nets, "mesh")
	op, err := subs.Insert(ctx, &computepb.InsertSubnetworkRequest{Project: "demo", Region: "us-west2", SubnetworkResource: &computepb.Subnetwork{
		Name: proto.String("s1"), Network: proto.String("https://anything.example/compute/v1/projects/demo/global/networks/mesh"),
		IpCidrRange:       proto.String("10.0.0.0/20"),
		SecondaryIpRanges: []*computepb.SubnetworkSecondaryRange{{RangeName: proto.String("pods"), IpCidrRange: proto.String("10.4.0.0/14")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("overlap is rejected with a field message", func(t *testing.T) {
		_, err := subs.Insert(ctx, &computepb.InsertSubnetworkRequest{Project: "demo", Region: "us-east1", SubnetworkResource: &computepb.Subnetwork{
			Name: proto.String("s2"), Network: proto.String("projects/demo/global/networks/mesh"), IpCidrRange: proto.String("10.5.0.0/20")}})
		if httpCode(err) != 400 || !strings.Contains(err.Error(), "conflicts with existing subnetwork 's1'") {
			t.Fatalf("err = %v, want 400 conflict", err)
		}
	})
	t.Run("stale fingerprint is refused with 412", func(t *testing.T) {
		sn, err := subs.Get(ctx, &computepb.GetSubnetworkRequest{Project: "demo", Region: "us-west2", Subnetwork: "s1"})
		if err != nil {
			t.Fatal(err)
		}
		patch := &computepb.Subnetwork{Fingerprint: sn.Fingerprint, PrivateIpGoogleAccess: proto.Bool(true)}
		op, err := subs.Patch(ctx, &computepb.PatchSubnetworkRequest{Project: "demo", Region: "us-west2", Subnetwork: "s1", SubnetworkResource: patch})
		if err != nil {
			t.Fatal(err)
		}
		if err := op.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		_, err = subs.Patch(ctx, &computepb.PatchSubnetworkRequest{Project: "demo", Region: "us-west2", Subnetwork: "s1", SubnetworkResource: patch})
		if httpCode(err) != 412 {
			t.Fatalf("err = %v, want 412", err)
		}
	})
	t.Run("firewall defaults, duplicate and missing", func(t *testing.T) {
		fw := &computepb.Firewall{Name: proto.String("mesh-webhook"), Network: proto.String("projects/demo/global/networks/mesh"),
			Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"15017"}}}}
		op, err := fws.Insert(ctx, &computepb.InsertFirewallRequest{Project: "demo", FirewallResource: fw})
		if err != nil {
			t.Fatal(err)
		}
		if err := op.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := fws.Get(ctx, &computepb.GetFirewallRequest{Project: "demo", Firewall: "mesh-webhook"})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetPriority() != 1000 || got.GetDirection() != "INGRESS" || got.GetSourceRanges()[0] != "0.0.0.0/0" ||
			got.GetSelfLink() != "https://www.googleapis.com/compute/v1/projects/demo/global/firewalls/mesh-webhook" {
			t.Errorf("defaults not applied: %v", got)
		}
		if _, err := fws.Insert(ctx, &computepb.InsertFirewallRequest{Project: "demo", FirewallResource: fw}); httpCode(err) != 409 {
			t.Errorf("duplicate: err = %v, want 409", err)
		}
		if _, err := fws.Get(ctx, &computepb.GetFirewallRequest{Project: "demo", Firewall: "nope"}); httpCode(err) != 404 {
			t.Errorf("missing: err = %v, want 404", err)
		}
	})
	t.Run("network in use cannot be deleted", func(t *testing.T) {
		_, err := nets.Delete(ctx, &computepb.DeleteNetworkRequest{Project: "demo", Network: "mesh"})
		if httpCode(err) != 400 || !strings.Contains(err.Error(), "is already being used by") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("aggregated list", func(t *testing.T) {
		it := subs.AggregatedList(ctx, &computepb.AggregatedListSubnetworksRequest{Project: "demo"})
		n := 0
		for {
			pair, err := it.Next()
			if err != nil {
				break
			}
			n += len(pair.Value.Subnetworks)
		}
		if n != 7 { // six default auto subnets plus s1
			t.Errorf("aggregated subnets = %d, want 7", n)
		}
	})
}

func TestComputeOperationLifecycleOnFakeClock(t *testing.T) {
	clock := gcpfake.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := gcpfake.Start(t, gcpfake.WithClock(clock), gcpfake.WithLatency(&gcpfake.Latency{Op: map[string]time.Duration{"*": 10 * time.Second}}))
	ctx := context.Background()
	fws, _ := compute.NewFirewallsRESTClient(ctx, srv.ClientOptions()...)
	defer fws.Close()
	ops, _ := compute.NewGlobalOperationsRESTClient(ctx, srv.ClientOptions()...)
	defer ops.Close()
	fw := &computepb.Firewall{Name: proto.String("a"), Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp")}}}
	op, err := fws.Insert(ctx, &computepb.InsertFirewallRequest{Project: "demo", FirewallResource: fw})
	if err != nil {
		t.Fatal(err)
	}
	get := func() computepb.Operation_Status {
		o, err := ops.Get(ctx, &computepb.GetGlobalOperationRequest{Project: "demo", Operation: op.Name()})
		if err != nil {
			t.Fatal(err)
		}
		return o.GetStatus()
	}
	if s := get(); s != computepb.Operation_PENDING {
		t.Errorf("status = %v, want PENDING", s)
	}
	if _, err := fws.Insert(ctx, &computepb.InsertFirewallRequest{Project: "demo", FirewallResource: fw}); httpCode(err) != 409 {
		t.Errorf("insert while in flight: err = %v, want 409", err)
	}
	if _, err := fws.Get(ctx, &computepb.GetFirewallRequest{Project: "demo", Firewall: "a"}); httpCode(err) != 404 {
		t.Errorf("resource visible before DONE: err = %v", err)
	}
	clock.Advance(3 * time.Second)
	if s := get(); s != computepb.Operation_RUNNING {
		t.Errorf("status = %v, want RUNNING", s)
	}
	clock.Advance(10 * time.Second)
	if s := get(); s != computepb.Operation_DONE {
		t.Errorf("status = %v, want DONE", s)
	}
	if _, err := fws.Get(ctx, &computepb.GetFirewallRequest{Project: "demo", Firewall: "a"}); err != nil {
		t.Errorf("resource after DONE: %v", err)
	}

	// A fault at completion fails the operation the way quota errors do,
	// with httpErrorStatusCode set so Wait reports it.
	srv.SetLatency(nil)
	srv.InjectFault(gcpfake.Fault{Method: "Firewalls/Insert", HTTP: 403, Message: "Quota 'FIREWALLS' exceeded.", Times: 1, AtCompletion: true})
	fw.Name = proto.String("b")
	op, err = fws.Insert(ctx, &computepb.InsertFirewallRequest{Project: "demo", FirewallResource: fw})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx); err == nil || !strings.Contains(err.Error(), "Quota") {
		t.Errorf("Wait = %v, want the quota error", err)
	}
	if _, err := fws.Get(ctx, &computepb.GetFirewallRequest{Project: "demo", Firewall: "b"}); httpCode(err) != 404 {
		t.Errorf("failed insert left a resource: %v", err)
	}
	// A call fault surfaces on insert (no retries there) and counts.
	srv.InjectFault(gcpfake.Fault{Method: "Firewalls/Insert", HTTP: 503, Times: 1})
	if _, err := fws.Insert(ctx, &computepb.InsertFirewallRequest{Project: "demo", FirewallResource: fw}); httpCode(err) != 503 {
		t.Errorf("err = %v, want 503", err)
	}
	if n := srv.Calls("Firewalls/Insert"); n != 4 {
		t.Errorf("Firewalls/Insert calls = %d, want 4", n)
	}
}

func TestContainerGRPCAndREST(t *testing.T) {
	clock := gcpfake.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := gcpfake.Start(t, gcpfake.WithClock(clock), gcpfake.WithLatency(&gcpfake.Latency{Op: map[string]time.Duration{"ClusterManager/CreateCluster": 5 * time.Minute}}))
	ctx := context.Background()
	grpcCM, err := container.NewClusterManagerClient(ctx, srv.GRPCClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer grpcCM.Close()
	restCM, err := container.NewClusterManagerRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer restCM.Close()

	op, err := grpcCM.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: "projects/demo/locations/us-central1", Cluster: &containerpb.Cluster{
		Name: "c1", ResourceLabels: map[string]string{"mesh_id": "m"},
		PrivateClusterConfig:   &containerpb.PrivateClusterConfig{EnablePrivateNodes: true, MasterIpv4CidrBlock: "172.16.0.16/28"},
		WorkloadIdentityConfig: &containerpb.WorkloadIdentityConfig{WorkloadPool: "demo.svc.id.goog"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := restCM.GetCluster(ctx, &containerpb.GetClusterRequest{Name: "projects/demo/locations/us-central1/clusters/c1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != containerpb.Cluster_PROVISIONING || c.Endpoint == "" || c.MasterAuth.GetClusterCaCertificate() == "" || len(c.NodePools) != 1 {
		t.Errorf("cluster while provisioning: status %v endpoint %q pools %d", c.Status, c.Endpoint, len(c.NodePools))
	}
	if _, err := grpcCM.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: "projects/demo/locations/us-central1", Cluster: &containerpb.Cluster{Name: "c1"}}); status.Code(err) != codes.AlreadyExists {
		t.Errorf("duplicate while provisioning: %v", err)
	}
	_, err = restCM.SetLabels(ctx, &containerpb.SetLabelsRequest{Name: "projects/demo/locations/us-central1/clusters/c1", LabelFingerprint: c.LabelFingerprint})
	if httpCode(err) != 400 || !strings.Contains(err.Error(), "incompatible operation") {
		t.Errorf("SetLabels while provisioning: %v", err)
	}
	clock.Advance(5 * time.Minute)
	opName := "projects/demo/locations/us-central1/operations/" + op.Name
	done, err := restCM.GetOperation(ctx, &containerpb.GetOperationRequest{Name: opName})
	if err != nil || done.Status != containerpb.Operation_DONE {
		t.Fatalf("operation = %v, %v", done, err)
	}
	list, err := grpcCM.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/demo/locations/-"})
	if err != nil || len(list.Clusters) != 1 || list.Clusters[0].Status != containerpb.Cluster_RUNNING {
		t.Fatalf("list = %v, %v", list, err)
	}
	if _, err := restCM.SetLabels(ctx, &containerpb.SetLabelsRequest{Name: "projects/demo/locations/us-central1/clusters/c1", LabelFingerprint: "stale"}); httpCode(err) != 400 {
		t.Errorf("stale label fingerprint: %v", err)
	}
	_, err = grpcCM.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: "projects/demo/locations/us-central1", Cluster: &containerpb.Cluster{
		Name: "c2", WorkloadIdentityConfig: &containerpb.WorkloadIdentityConfig{WorkloadPool: "other.svc.id.goog"}}})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad workload pool: %v", err)
	}
	_, err = restCM.GetCluster(ctx, &containerpb.GetClusterRequest{Name: "projects/demo/locations/us-central1/clusters/nope"})
	if httpCode(err) != 404 {
		t.Errorf("missing cluster: %v", err)
	}
}

func TestServiceUsageAndIAMPolicyEtags(t *testing.T) {
	srv := gcpfake.Start(t)
	ctx := context.Background()
	su, err := serviceusage.NewRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close()
	op, err := su.EnableService(ctx, &serviceusagepb.EnableServiceRequest{Name: "projects/demo/services/mesh.googleapis.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	svc, err := su.GetService(ctx, &serviceusagepb.GetServiceRequest{Name: "projects/demo/services/mesh.googleapis.com"})
	if err != nil || svc.State != serviceusagepb.State_ENABLED {
		t.Fatalf("service = %v, %v", svc, err)
	}

	rm, err := resourcemanager.NewProjectsRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	p, err := rm.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/demo"})
	if err != nil || p.ProjectId != "demo" || !strings.HasPrefix(p.Name, "projects/") {
		t.Fatalf("project = %v, %v", p, err)
	}
	pol, err := rm.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: "projects/demo"})
	if err != nil {
		t.Fatal(err)
	}
	pol.Bindings = append(pol.Bindings, &iampb.Binding{Role: "roles/container.viewer", Members: []string{"serviceAccount:x@demo.iam.gserviceaccount.com"}})
	if _, err := rm.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/demo", Policy: pol}); err != nil {
		t.Fatal(err)
	}
	// The same read-modify-write again carries a stale etag.
	if _, err := rm.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/demo", Policy: pol}); httpCode(err) != 409 {
		t.Errorf("stale etag: %v, want 409", err)
	}
}

func TestAdminEndpointAndPersistence(t *testing.T) {
	dir := t.TempDir()
	srv := gcpfake.Start(t, gcpfake.WithStateDir(dir))
	ctx := context.Background()
	nets, _ := compute.NewNetworksRESTClient(ctx, srv.ClientOptions()...)
	defer nets.Close()
	mustInsertNetwork(t, ctx, nets, "persisted")

	resp, err := http.Post(srv.URL()+"/_fake/faults", "application/json", strings.NewReader(`{"method":"Networks/Get","code":"PERMISSION_DENIED","message":"denied","times":1}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("post fault: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := nets.Get(ctx, &computepb.GetNetworkRequest{Project: "demo", Network: "persisted"}); httpCode(err) != 403 {
		t.Errorf("fault: %v, want 403", err)
	}
	if _, err := nets.Get(ctx, &computepb.GetNetworkRequest{Project: "demo", Network: "persisted"}); err != nil {
		t.Errorf("fault should fire once: %v", err)
	}
	resp, err = http.Get(srv.URL() + "/_fake/counters")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if srv.Calls("Networks/Get") != 2 {
		t.Errorf("Networks/Get = %d, want 2", srv.Calls("Networks/Get"))
	}
	srv.Close()

	again := gcpfake.Start(t, gcpfake.WithStateDir(dir))
	nets2, _ := compute.NewNetworksRESTClient(ctx, again.ClientOptions()...)
	defer nets2.Close()
	if _, err := nets2.Get(ctx, &computepb.GetNetworkRequest{Project: "demo", Network: "persisted"}); err != nil {
		t.Errorf("after restart: %v", err)
	}
}

// GKE accepts 50 master authorized networks on a cluster with a public endpoint and 100 with only
// a private one: a create past the limit is refused, and so is an update that makes the endpoint
// public while the cluster holds more than 50.
func TestAuthorizedNetworksLimit(t *testing.T) {
	srv := gcpfake.Start(t)
	ctx := context.Background()
	cm, err := container.NewClusterManagerRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close()
	networks := func(n int) *containerpb.MasterAuthorizedNetworksConfig {
		m := &containerpb.MasterAuthorizedNetworksConfig{Enabled: true}
		for i := range n {
			m.CidrBlocks = append(m.CidrBlocks, &containerpb.MasterAuthorizedNetworksConfig_CidrBlock{CidrBlock: fmt.Sprintf("10.%d.0.0/16", i)})
		}
		return m
	}
	create := func(name string, private bool, n int, cp string) error {
		op, err := cm.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: "projects/demo/locations/us-central1", Cluster: &containerpb.Cluster{
			Name:                           name,
			PrivateClusterConfig:           &containerpb.PrivateClusterConfig{EnablePrivateNodes: true, EnablePrivateEndpoint: private, MasterIpv4CidrBlock: cp},
			MasterAuthorizedNetworksConfig: networks(n),
		}})
		if err != nil {
			return err
		}
		for op.Status != containerpb.Operation_DONE {
			if op, err = cm.GetOperation(ctx, &containerpb.GetOperationRequest{Name: "projects/demo/locations/us-central1/operations/" + op.Name}); err != nil {
				return err
			}
		}
		return nil
	}
	if err := create("public-51", false, 51, "172.16.0.0/28"); httpCode(err) != 400 || !strings.Contains(err.Error(), "Too many authorized networks: 51 (at most 50") {
		t.Errorf("a public endpoint with 51 authorized networks: %v", err)
	}
	if err := create("public-50", false, 50, "172.16.0.16/28"); err != nil {
		t.Errorf("a public endpoint with 50 authorized networks: %v", err)
	}
	if err := create("private-100", true, 100, "172.16.0.32/28"); err != nil {
		t.Fatalf("a private endpoint with 100 authorized networks: %v", err)
	}
	_, err = cm.UpdateCluster(ctx, &containerpb.UpdateClusterRequest{Name: "projects/demo/locations/us-central1/clusters/private-100",
		Update: &containerpb.ClusterUpdate{DesiredEnablePrivateEndpoint: proto.Bool(false)}})
	if httpCode(err) != 400 || !strings.Contains(err.Error(), "Too many authorized networks: 100 (at most 50") {
		t.Errorf("making the endpoint public with 100 authorized networks: %v", err)
	}
}

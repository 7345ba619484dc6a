package gcpfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	serviceusage "cloud.google.com/go/serviceusage/apiv1"
	"cloud.google.com/go/serviceusage/apiv1/serviceusagepb"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

// asAPIError is the APIError the clients return (REST clients already
// wrap), or one parsed from a plain gRPC status.
func asAPIError(err error) (*apierror.APIError, bool) {
	var ae *apierror.APIError
	if errors.As(err, &ae) {
		return ae, true
	}
	return apierror.FromError(err)
}

func doJSON(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	json.Unmarshal(b, &v)
	return resp.StatusCode, v
}

// TestServiceEnforcement: with WithServiceEnforcement an API answers 403
// with Google's SERVICE_DISABLED body until the project enables it.
func TestServiceEnforcement(t *testing.T) {
	srv := gcpfake.Start(t, gcpfake.WithServiceEnforcement())
	ctx := context.Background()

	code, body := doJSON(t, "POST", srv.URL()+"/v1/projects/demo/locations/us-west2/clusters", `{"cluster":{"name":"c1","initialNodeCount":1}}`)
	if code != 403 {
		t.Fatalf("create cluster before enabling: %d %v", code, body)
	}
	want(t, body, "error.code", 403)
	want(t, body, "error.status", "PERMISSION_DENIED")
	want(t, body, "error.details.0.@type", "type.googleapis.com/google.rpc.ErrorInfo")
	want(t, body, "error.details.0.reason", "SERVICE_DISABLED")
	want(t, body, "error.details.0.domain", "googleapis.com")
	want(t, body, "error.details.0.metadata.service", "container.googleapis.com")
	if msg, _ := field(body, "error.message").(string); !strings.Contains(msg, "container.googleapis.com has not been used in project") {
		t.Errorf("message = %q", msg)
	}

	// Compute is enabled on a new project; its errors carry no status.
	gke, err := container.NewClusterManagerRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer gke.Close()
	create := func() error {
		_, err := gke.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: "projects/demo/locations/us-west2",
			Cluster: &containerpb.Cluster{Name: "c1", InitialNodeCount: 1}})
		return err
	}
	err = create()
	ae, ok := asAPIError(err)
	if !ok || ae.Reason() != "SERVICE_DISABLED" || ae.Metadata()["service"] != "container.googleapis.com" || httpCode(err) != 403 {
		t.Fatalf("Go client error = %v (ok %v, reason %q, service %q, code %d), want 403 with reason SERVICE_DISABLED", err, ok, ae.Reason(), ae.Metadata()["service"], httpCode(err))
	}

	// Over gRPC the same ErrorInfo travels as a status detail.
	grpcGKE, err := container.NewClusterManagerClient(ctx, srv.GRPCClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer grpcGKE.Close()
	_, err = grpcGKE.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: "projects/demo/locations/us-west2",
		Cluster: &containerpb.Cluster{Name: "c1", InitialNodeCount: 1}})
	if ae, ok = asAPIError(err); !ok || ae.Reason() != "SERVICE_DISABLED" {
		t.Errorf("gRPC error = %v, want reason SERVICE_DISABLED", err)
	}

	su, err := serviceusage.NewRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close()
	op, err := su.EnableService(ctx, &serviceusagepb.EnableServiceRequest{Name: "projects/demo/services/container.googleapis.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := create(); err != nil {
		t.Errorf("create cluster after enabling: %v", err)
	}
}

// TestSubnetIAMPolicyEtag: subnet policies use optimistic concurrency; a
// policy written from a stale read is refused with 412.
func TestSubnetIAMPolicyEtag(t *testing.T) {
	srv := gcpfake.Start(t)
	ctx := context.Background()
	subs, err := compute.NewSubnetworksRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer subs.Close()
	get := func() *computepb.Policy {
		t.Helper()
		p, err := subs.GetIamPolicy(ctx, &computepb.GetIamPolicySubnetworkRequest{Project: "demo", Region: "us-west2", Resource: "default"})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	set := func(etag string, member string) (*computepb.Policy, error) {
		return subs.SetIamPolicy(ctx, &computepb.SetIamPolicySubnetworkRequest{Project: "demo", Region: "us-west2", Resource: "default",
			RegionSetPolicyRequestResource: &computepb.RegionSetPolicyRequest{Policy: &computepb.Policy{Etag: proto.String(etag),
				Bindings: []*computepb.Binding{{Role: proto.String("roles/compute.networkUser"), Members: []string{member}}}}}})
	}
	first := get()
	if first.GetEtag() == "" {
		t.Fatal("empty etag on a fresh policy")
	}
	p, err := set(first.GetEtag(), "serviceAccount:a@demo.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	if p.GetEtag() == first.GetEtag() {
		t.Error("etag did not change on write")
	}
	if got := get(); got.GetEtag() != p.GetEtag() || got.Bindings[0].Members[0] != "serviceAccount:a@demo.iam.gserviceaccount.com" {
		t.Errorf("read back %v, want the written policy", got)
	}
	if _, err := set(first.GetEtag(), "serviceAccount:b@demo.iam.gserviceaccount.com"); httpCode(err) != 412 {
		t.Errorf("write with stale etag: %v, want 412", err)
	}
	if got := get(); got.Bindings[0].Members[0] != "serviceAccount:a@demo.iam.gserviceaccount.com" {
		t.Errorf("stale write changed the policy: %v", got)
	}
	if _, err := subs.GetIamPolicy(ctx, &computepb.GetIamPolicySubnetworkRequest{Project: "demo", Region: "us-west2", Resource: "nope"}); httpCode(err) != 404 {
		t.Errorf("policy of a missing subnet: %v, want 404", err)
	}
}

// TestRealisticLatency: the preset delays calls and stretches operations
// by the scale; a GKE cluster takes minutes of simulated time.
func TestRealisticLatency(t *testing.T) {
	l := gcpfake.RealisticLatency(1)
	if l.Op["ClusterManager/CreateCluster"] < 3*time.Minute || l.Call["*"] <= 0 {
		t.Fatalf("realistic preset looks wrong: %+v", l)
	}
	clock := gcpfake.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := gcpfake.Start(t, gcpfake.WithClock(clock), gcpfake.WithLatency(gcpfake.RealisticLatency(0.5)))
	ctx := context.Background()
	fws, err := compute.NewFirewallsRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer fws.Close()
	start := time.Now()
	op, err := fws.Insert(ctx, &computepb.InsertFirewallRequest{Project: "demo", FirewallResource: &computepb.Firewall{
		Name: proto.String("fw"), Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("call took %v, want at least 60ms (120ms × 0.5)", d)
	}
	if op.Proto().GetStatus() != computepb.Operation_PENDING {
		t.Errorf("op status %v, want PENDING", op.Proto().GetStatus())
	}
	clock.Advance(3 * time.Second) // 8s × 0.5 = 4s
	if err := op.Poll(ctx); err != nil || op.Done() {
		t.Errorf("after 3s: done=%v err=%v, want still running", op.Done(), err)
	}
	clock.Advance(time.Second)
	if err := op.Poll(ctx); err != nil || !op.Done() {
		t.Errorf("after 4s: done=%v err=%v, want done", op.Done(), err)
	}
}

// TestAdminLatencyAndClock drives /_fake/latency, /_fake/clock/advance and
// /_fake/healthz the way scripts do.
func TestAdminLatencyAndClock(t *testing.T) {
	t.Run("wall clock", func(t *testing.T) {
		srv := gcpfake.Start(t)
		if code, _ := doJSON(t, "POST", srv.URL()+"/_fake/clock/advance?by=5m", ""); code != 409 {
			t.Errorf("advance on the wall clock: %d, want 409", code)
		}
		if code, _ := doJSON(t, "PUT", srv.URL()+"/_fake/latency", `{"preset":"bogus"}`); code != 400 {
			t.Errorf("unknown preset: %d, want 400", code)
		}
		if code, _ := doJSON(t, "GET", srv.URL()+"/_fake/latency", ""); code != 405 {
			t.Errorf("GET latency: %d, want 405", code)
		}
		code, v := doJSON(t, "PUT", srv.URL()+"/_fake/latency", `{"preset":"realistic","scale":0.5}`)
		if code != 200 || v["scale"] != 0.5 {
			t.Fatalf("set latency: %d %v", code, v)
		}
		start := time.Now()
		doJSON(t, "GET", srv.URL()+"/compute/v1/projects/demo/global/networks", "")
		if d := time.Since(start); d < 60*time.Millisecond {
			t.Errorf("call with realistic latency took %v, want ≥ 60ms", d)
		}
		doJSON(t, "PUT", srv.URL()+"/_fake/latency", `{"preset":"none"}`)
		start = time.Now()
		doJSON(t, "GET", srv.URL()+"/compute/v1/projects/demo/global/networks", "")
		if d := time.Since(start); d > 50*time.Millisecond {
			t.Errorf("call with no latency took %v", d)
		}
	})
	t.Run("fake clock", func(t *testing.T) {
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		srv := gcpfake.Start(t, gcpfake.WithClock(gcpfake.NewFakeClock(t0)),
			gcpfake.WithLatency(&gcpfake.Latency{Op: map[string]time.Duration{"ClusterManager/CreateCluster": 6 * time.Minute}}))
		code, _ := doJSON(t, "POST", srv.URL()+"/v1/projects/demo/locations/us-west2/clusters", `{"cluster":{"name":"c1","initialNodeCount":1}}`)
		if code != 200 {
			t.Fatalf("create cluster: %d", code)
		}
		_, c := doJSON(t, "GET", srv.URL()+"/v1/projects/demo/locations/us-west2/clusters/c1", "")
		want(t, c, "status", "PROVISIONING")
		if code, _ := doJSON(t, "POST", srv.URL()+"/_fake/clock/advance?by=bogus", ""); code != 400 {
			t.Errorf("bad duration: %d, want 400", code)
		}
		code, v := doJSON(t, "POST", srv.URL()+"/_fake/clock/advance?by=6m", "")
		if code != 200 {
			t.Fatalf("advance: %d", code)
		}
		if now, _ := time.Parse(time.RFC3339, v["now"].(string)); !now.Equal(t0.Add(6 * time.Minute)) {
			t.Errorf("now = %v, want %v", v["now"], t0.Add(6*time.Minute))
		}
		_, c = doJSON(t, "GET", srv.URL()+"/v1/projects/demo/locations/us-west2/clusters/c1", "")
		want(t, c, "status", "RUNNING")
		_, h := doJSON(t, "GET", srv.URL()+"/_fake/healthz", "")
		want(t, h, "ok", true)
	})
}

package engine_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// answering is an API server that answers every read.
func answering(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"kube-system"}}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// refusing is a server that answers every call with status and body.
func refusing(t *testing.T, status int, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// silent accepts connections and never answers, as a private endpoint seen from outside its VPC
// drops them.
func silent(t *testing.T) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	return "http://" + lis.Addr().String()
}

// closed is an address nothing listens at.
func closed(t *testing.T) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return "http://" + addr
}

func twoClusters(c1, c2 *fedtest.ClusterBuilder) *v1alpha1.Federation {
	return fedtest.New("mesh").
		Cluster(c1.Ranges("10.10.0.0/24", "10.100.0.0/16", "172.16.0.0/24", "192.168.0.0/28")).
		Cluster(c2.Ranges("10.10.1.0/24", "10.101.0.0/16", "172.16.1.0/24", "192.168.1.0/28")).
		Admin("admins", "10.0.0.0/24").
		Build()
}

func running(name string) gcplayer.ClusterAccess {
	return gcplayer.ClusterAccess{Name: name, Status: "RUNNING", Endpoint: "10.0.0.1", PrivateEndpoint: "10.0.0.1"}
}

// Which clusters the cluster side can work on: those that exist, run and answer the way the file
// says to reach them. A cluster that is not created or not running, or whose way in the plan is
// still creating, is waited for; a kubeconfig context is asked even when GKE does not report its
// cluster. Only a configuration that cannot be built is an error.
func TestReachable(t *testing.T) {
	gatewayAPI := plan.APIAddress(fedtest.DefaultFleetProject, "connectgateway.googleapis.com")
	tests := []struct {
		name         string
		c1, c2       *fedtest.ClusterBuilder
		access       map[string]gcplayer.ClusterAccess
		creates      []plan.Address
		hosts        map[string]string // where each cluster's configuration points; default: answering
		configErr    error
		wantHosts    []string
		wantNotReady []string
		wantWaiting  map[string]string
		wantErr      bool
	}{
		{name: "both running and answering", access: map[string]gcplayer.ClusterAccess{"c1": running("c1"), "c2": running("c2")},
			wantHosts: []string{"c1", "c2"}},
		{name: "one missing, one provisioning", access: map[string]gcplayer.ClusterAccess{"c2": {Name: "c2", Status: "PROVISIONING", Endpoint: "10.0.0.2"}},
			wantNotReady: []string{"c1", "c2"}},
		{name: "running without an endpoint yet", access: map[string]gcplayer.ClusterAccess{"c1": running("c1"), "c2": {Name: "c2", Status: "RUNNING"}},
			wantHosts: []string{"c1"}, wantNotReady: []string{"c2"}},
		{name: "the membership the gateway goes through is created by the plan",
			access:    map[string]gcplayer.ClusterAccess{"c1": running("c1"), "c2": running("c2")},
			creates:   []plan.Address{plan.MembershipAddress(fedtest.DefaultFleetProject, "global", "c2")},
			wantHosts: []string{"c1"}, wantNotReady: []string{"c2"},
			wantWaiting: map[string]string{"c2": "its fleet membership, which the Connect Gateway goes through, is created by this plan"}},
		{name: "the gateway's API is enabled by the plan",
			access: map[string]gcplayer.ClusterAccess{"c1": running("c1"), "c2": running("c2")}, creates: []plan.Address{gatewayAPI},
			wantNotReady: []string{"c1", "c2"}, wantWaiting: map[string]string{
				"c1": "the Connect Gateway API (connectgateway.googleapis.com) is enabled by this plan",
				"c2": "the Connect Gateway API (connectgateway.googleapis.com) is enabled by this plan"}},
		{name: "private endpoints wait for neither", c1: fedtest.Cluster("c1").Access(v1alpha1.AccessPrivateEndpoint),
			c2:     fedtest.Cluster("c2").Access(v1alpha1.AccessPrivateEndpoint),
			access: map[string]gcplayer.ClusterAccess{"c1": running("c1"), "c2": running("c2")}, creates: []plan.Address{gatewayAPI},
			wantHosts: []string{"c1", "c2"}},
		{name: "a kubeconfig context reaches a cluster GKE does not report", c2: fedtest.Cluster("c2").KubeconfigContext("ctx"),
			access: map[string]gcplayer.ClusterAccess{"c1": running("c1")}, wantHosts: []string{"c1", "c2"}},
		{name: "a kubeconfig context of a cluster not created yet does not answer", c2: fedtest.Cluster("c2").KubeconfigContext("ctx"),
			access: map[string]gcplayer.ClusterAccess{"c1": running("c1")}, hosts: map[string]string{"c2": "closed"},
			wantHosts: []string{"c1"}, wantNotReady: []string{"c2"}},
		{name: "a configuration that fails is an error", access: map[string]gcplayer.ClusterAccess{"c1": running("c1")}, configErr: errors.New("no token"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c1, c2 := tt.c1, tt.c2
			if c1 == nil {
				c1 = fedtest.Cluster("c1")
			}
			if c2 == nil {
				c2 = fedtest.Cluster("c2")
			}
			d, err := federation.Compile(twoClusters(c1, c2), federation.Facts{})
			if err != nil {
				t.Fatal(err)
			}
			cloud := &gcplayer.CloudPlan{Clusters: tt.access, Plan: &plan.Plan{}}
			for _, a := range tt.creates {
				cloud.Plan.Changes = append(cloud.Plan.Changes, plan.Change{Address: a, Action: plan.Create})
			}
			hosts := map[string]string{}
			opts := engine.ClusterOptions{ReachTimeout: time.Second, Config: func(c federation.ClusterDesired, _ gcplayer.ClusterAccess) (*rest.Config, error) {
				if tt.configErr != nil {
					return nil, tt.configErr
				}
				if tt.hosts[c.Name] == "closed" {
					hosts[c.Name] = closed(t)
				} else {
					hosts[c.Name] = answering(t)
				}
				return &rest.Config{Host: hosts[c.Name]}, nil
			}}
			r, err := engine.Reachable(context.Background(), d, cloud, opts)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for name, c := range r.Configs {
				if c.Host != hosts[name] {
					t.Errorf("%s is reached at %s, want %s", name, c.Host, hosts[name])
				}
				got = append(got, name)
			}
			if diff := cmp.Diff(tt.wantHosts, sorted(got)); diff != "" {
				t.Errorf("reachable (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNotReady, r.NotReady); diff != "" {
				t.Errorf("not ready (-want +got):\n%s", diff)
			}
			if tt.wantWaiting == nil {
				tt.wantWaiting = map[string]string{}
			}
			if diff := cmp.Diff(tt.wantWaiting, r.Waiting); diff != "" {
				t.Errorf("waiting (-want +got):\n%s", diff)
			}
			if len(r.Unreachable) > 0 {
				t.Errorf("unreachable: %v", r.Unreachable)
			}
		})
	}
}

func sorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Sorted(slices.Values(s))
}

const (
	deniedGet = `{"error":{"code":403,"message":"Permission 'gkehub.gateway.get' denied on resource '//gkehub.googleapis.com/projects/123/locations/global/memberships/c2' (or it may not exist).","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"IAM_PERMISSION_DENIED","domain":"connectgateway.googleapis.com","metadata":{"permission":"gkehub.gateway.get","resource":"projects/123/locations/global/memberships/c2"}}]}}`
	disabled  = `{"error":{"code":403,"message":"connectgateway.googleapis.com has not been used in project 123 before or it is disabled.","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"SERVICE_DISABLED","domain":"googleapis.com","metadata":{"service":"connectgateway.googleapis.com","consumer":"projects/123"}}]}}`
	noMember  = `{"error":{"code":404,"message":"Resource 'projects/123/locations/global/memberships/c2' was not found","status":"NOT_FOUND"}}`
	rbac      = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"namespaces \"kube-system\" is forbidden: User \"alice@example.com\" cannot get resource \"namespaces\" in API group \"\" in the namespace \"kube-system\"","reason":"Forbidden","code":403}`
	expired   = `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`
)

// A cluster that runs but does not answer is explained: the address tried, the cause as the
// way in gives it (a timeout, a refused connection, the permission a 403 names, Kubernetes' own
// refusal), and the fix. Only the cluster that did not answer is refused.
func TestUnreachableIsExplained(t *testing.T) {
	tests := []struct {
		name      string
		via       string
		context   string
		server    func(t *testing.T) string
		wantCause []string
		wantFix   []string
	}{
		{name: "the gateway refuses a caller without gkehub.gateway.get", via: v1alpha1.AccessConnectGateway,
			server:    func(t *testing.T) string { return refusing(t, 403, deniedGet) },
			wantCause: []string{"403 PERMISSION_DENIED: the caller lacks gkehub.gateway.get on projects/123/locations/global/memberships/c2"},
			wantFix:   []string{"roles/gkehub.gatewayEditor on project " + fedtest.DefaultFleetProject, "roles/gkehub.gatewayReader is enough for plan and verify"}},
		{name: "the gateway's API is off", via: v1alpha1.AccessConnectGateway,
			server:    func(t *testing.T) string { return refusing(t, 403, disabled) },
			wantCause: []string{"403 SERVICE_DISABLED: connectgateway.googleapis.com is not enabled"},
			wantFix:   []string{"gcloud services enable connectgateway.googleapis.com --project " + fedtest.DefaultFleetProject}},
		{name: "the fleet has no membership for it", via: v1alpha1.AccessConnectGateway,
			server:    func(t *testing.T) string { return refusing(t, 404, noMember) },
			wantCause: []string{"404 NOT_FOUND: Resource 'projects/123/locations/global/memberships/c2' was not found"},
			wantFix:   []string{"no membership gcp:projects/" + fedtest.DefaultFleetProject + "/locations/global/memberships/c2 for c2: kubectl asmfed apply registers it"}},
		{name: "the credentials were refused", via: v1alpha1.AccessConnectGateway,
			server:    func(t *testing.T) string { return refusing(t, 401, expired) },
			wantCause: []string{"401 Unauthorized"}, wantFix: []string{"gcloud auth application-default login"}},
		{name: "Kubernetes refuses the caller", via: v1alpha1.AccessConnectGateway,
			server:    func(t *testing.T) string { return refusing(t, 403, rbac) },
			wantCause: []string{`403 from the cluster's API server: namespaces "kube-system" is forbidden: User "alice@example.com"`},
			wantFix:   []string{"roles/container.admin on project " + fedtest.DefaultFleetProject}},
		{name: "a private endpoint from outside the VPC", via: v1alpha1.AccessPrivateEndpoint, server: silent,
			wantCause: []string{"no answer within 500ms (timeout)"},
			wantFix:   []string{"inside VPC mesh-vpc", "master authorized networks of c2 (10.0.0.0/24, 10.100.0.0/16)", "spec.access.via: connectGateway"}},
		{name: "a public endpoint from an address it does not authorize", via: v1alpha1.AccessPublicEndpoint, server: silent,
			wantCause: []string{"(timeout)"},
			wantFix:   []string{"the caller's address is in none of them", "spec.admin.authorizedNetworks"}},
		{name: "a kubeconfig context whose server does not listen", via: v1alpha1.AccessKubeconfig, context: "ctx-2", server: closed,
			wantCause: []string{"connection refused"}, wantFix: []string{"kubeconfig context ctx-2", "gcloud container clusters get-credentials"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c2 := fedtest.Cluster("c2").Access(tt.via)
			if tt.via == v1alpha1.AccessPublicEndpoint {
				c2 = c2.PrivateEndpoint(false)
			}
			if tt.context != "" {
				c2 = c2.KubeconfigContext(tt.context)
			}
			d, err := federation.Compile(twoClusters(fedtest.Cluster("c1"), c2), federation.Facts{})
			if err != nil {
				t.Fatal(err)
			}
			hosts := map[string]string{"c1": answering(t), "c2": tt.server(t)}
			opts := engine.ClusterOptions{ReachTimeout: 500 * time.Millisecond, Config: func(c federation.ClusterDesired, _ gcplayer.ClusterAccess) (*rest.Config, error) {
				return &rest.Config{Host: hosts[c.Name]}, nil
			}}
			cloud := &gcplayer.CloudPlan{Clusters: map[string]gcplayer.ClusterAccess{"c1": running("c1"), "c2": running("c2")}, Plan: &plan.Plan{}}
			r, err := engine.Reachable(context.Background(), d, cloud, opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := r.Configs["c1"]; !ok || len(r.Configs) != 1 || len(r.NotReady) != 0 || len(r.Unreachable) != 1 {
				t.Fatalf("reachable %v, not ready %v, unreachable %v: want c1 reached and c2 unreachable", r.Configs, r.NotReady, r.Unreachable)
			}
			u := r.Unreachable[0]
			if u.Cluster != "c2" || u.Via != tt.via || u.Address != hosts["c2"] {
				t.Errorf("unreachable %s via %s at %s, want c2 via %s at %s", u.Cluster, u.Via, u.Address, tt.via, hosts["c2"])
			}
			for _, w := range tt.wantCause {
				if !strings.Contains(u.Cause, w) {
					t.Errorf("cause %q lacks %q", u.Cause, w)
				}
			}
			for _, w := range tt.wantFix {
				if !strings.Contains(u.Fix, w) {
					t.Errorf("fix %q lacks %q", u.Fix, w)
				}
			}
			if msg := u.Error(); !strings.Contains(msg, hosts["c2"]) || !strings.Contains(msg, u.Cause) || !strings.Contains(msg, "fix: "+u.Fix) {
				t.Errorf("error %q does not say the address, the cause and the fix", msg)
			}
		})
	}
}

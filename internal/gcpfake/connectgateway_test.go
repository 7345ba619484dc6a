package gcpfake_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/gkehub/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

// echoBackend backs every cluster with one TLS server that answers every Kubernetes read with
// a namespace and remembers what it was asked.
type echoBackend struct {
	srv *httptest.Server

	mu   sync.Mutex
	seen []string // "METHOD PATH?QUERY AUTHORIZATION"
}

func newEchoBackend(t *testing.T) *echoBackend {
	b := &echoBackend{}
	b.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.seen = append(b.seen, fmt.Sprintf("%s %s %s", r.Method, r.URL.RequestURI(), r.Header.Get("Authorization")))
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"default"}}`)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *echoBackend) Provision(context.Context, string, *containerpb.Cluster) (string, []byte, error) {
	return b.srv.URL, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.srv.Certificate().Raw}), nil
}

func (b *echoBackend) Release(string, string, string) {}

func (b *echoBackend) last() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.seen) == 0 {
		return ""
	}
	return b.seen[len(b.seen)-1]
}

// call asks the gateway with a bearer token (none when empty) and returns the status and body.
func call(t *testing.T, method, url, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader("{}"))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s %s: %d, body is not JSON: %s", method, url, resp.StatusCode, data)
	}
	return resp.StatusCode, v
}

// The simulated Connect Gateway passes a known caller's calls to the API server behind the
// membership's cluster, with the caller's token, and refuses the way the real one does: 401
// without a token it knows, 403 naming the permission a Denial took away, 404 for a membership
// the fleet does not have. GenerateCredentials writes the kubeconfig gcloud saves, and
// testIamPermissions tells the denials too.
func TestConnectGateway(t *testing.T) {
	b := newEchoBackend(t)
	srv := gcpfake.Start(t, gcpfake.WithClusterBackend(b))
	const principal = "user:alice@example.com"
	srv.AddCaller("alice-token", principal)
	cm := gkeClient(t, srv)
	if op := waitOp(t, cm, createC1(t, cm).Name); op.Error != nil {
		t.Fatal(op.Error)
	}
	hub := hubService(t, srv)
	op, err := hub.Projects.Locations.Memberships.Create("projects/demo/locations/global", &gkehub.Membership{
		Endpoint: &gkehub.MembershipEndpoint{GkeCluster: &gkehub.GkeCluster{ResourceLink: "//container.googleapis.com/" + c1}}}).MembershipId("c1").Do()
	waitHub(t, hub, op, err)
	_, project := doJSON(t, "GET", srv.URL()+"/v1/projects/demo", "")
	number := fmt.Sprint(project["projectNumber"])
	base := srv.URL() + gcpfake.GatewayPrefix + "/v1/projects/" + number + "/locations/global"
	c1URL := base + "/gkeMemberships/c1"

	tests := []struct {
		name      string
		method    string
		url       string
		token     string
		deny      []gcpfake.Denial
		code      int
		status    string
		message   string
		backend   string
		errorInfo map[string]any
	}{
		{name: "a known caller reaches the cluster", method: "GET", url: c1URL + "/api/v1/namespaces/default?resourceVersion=0", token: "alice-token",
			code: 200, backend: "GET /api/v1/namespaces/default?resourceVersion=0 Bearer alice-token"},
		{name: "writes pass too", method: "POST", url: c1URL + "/api/v1/namespaces", token: "alice-token", code: 200, backend: "POST /api/v1/namespaces Bearer alice-token"},
		{name: "no token", method: "GET", url: c1URL + "/api", code: 401, status: "UNAUTHENTICATED", message: "Request is missing required authentication credential",
			errorInfo: map[string]any{"reason": "CREDENTIALS_MISSING"}},
		{name: "a token nobody has", method: "GET", url: c1URL + "/api", token: "forged", code: 401, status: "UNAUTHENTICATED", message: "Request had invalid authentication credentials"},
		{name: "the caller lacks gkehub.gateway.get", method: "GET", url: c1URL + "/api", token: "alice-token", deny: []gcpfake.Denial{{Member: principal, Permission: "gkehub.gateway.get"}},
			code: 403, status: "PERMISSION_DENIED", message: "Permission 'gkehub.gateway.get' denied on resource '//gkehub.googleapis.com/projects/" + number + "/locations/global/memberships/c1' (or it may not exist).",
			errorInfo: map[string]any{"reason": "IAM_PERMISSION_DENIED", "domain": "connectgateway.googleapis.com",
				"metadata": map[string]any{"permission": "gkehub.gateway.get", "resource": "projects/" + number + "/locations/global/memberships/c1"}}},
		{name: "a reader cannot write", method: "POST", url: c1URL + "/api/v1/namespaces", token: "alice-token", deny: []gcpfake.Denial{{Permission: "gkehub.gateway.post"}},
			code: 403, status: "PERMISSION_DENIED", message: "Permission 'gkehub.gateway.post' denied"},
		{name: "a reader still reads", method: "GET", url: c1URL + "/api/v1/namespaces/default", token: "alice-token", deny: []gcpfake.Denial{{Permission: "gkehub.gateway.post"}},
			code: 200, backend: "GET /api/v1/namespaces/default Bearer alice-token"},
		{name: "someone else's denial", method: "GET", url: c1URL + "/api/v1/namespaces/default", token: "alice-token", deny: []gcpfake.Denial{{Member: "user:bob@example.com", Permission: "gkehub.gateway.get"}},
			code: 200, backend: "GET /api/v1/namespaces/default Bearer alice-token"},
		{name: "a membership the fleet does not have", method: "GET", url: base + "/gkeMemberships/c9/api", token: "alice-token",
			code: 404, status: "NOT_FOUND", message: "Resource 'projects/" + number + "/locations/global/memberships/c9' was not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ClearDenials()
			for _, d := range tt.deny {
				srv.DenyPermission(d)
			}
			before := b.last()
			code, body := call(t, tt.method, tt.url, tt.token)
			if code != tt.code {
				t.Fatalf("%s %s: %d %v, want %d", tt.method, tt.url, code, body, tt.code)
			}
			if tt.backend != "" {
				if got := b.last(); got != tt.backend {
					t.Errorf("the cluster was asked %q, want %q", got, tt.backend)
				}
				return
			}
			if b.last() != before {
				t.Errorf("a refused call reached the cluster: %q", b.last())
			}
			want(t, body, "error.code", tt.code)
			want(t, body, "error.status", tt.status)
			if msg, _ := field(body, "error.message").(string); !strings.HasPrefix(msg, tt.message) {
				t.Errorf("message %q, want it to start with %q", msg, tt.message)
			}
			for k, v := range tt.errorInfo {
				want(t, body, "error.details.0."+k, v)
			}
		})
	}
	srv.ClearDenials()

	// client-go through the gateway, as the plugin and kubectl use it.
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: c1URL, BearerToken: "alice-token"})
	if err != nil {
		t.Fatal(err)
	}
	if ns, err := cs.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{}); err != nil || ns.Name != "default" {
		t.Fatalf("client-go through the gateway: %v %v", ns, err)
	}

	t.Run("generateCredentials", func(t *testing.T) {
		code, body := call(t, "GET", base+"/memberships/c1:generateCredentials", "alice-token")
		if code != 200 {
			t.Fatalf("%d %v", code, body)
		}
		endpoint := fmt.Sprint(body["endpoint"])
		if !strings.HasPrefix(endpoint, "https://127.0.0.1:") || !strings.HasSuffix(endpoint, gcpfake.GatewayPrefix+"/v1/projects/"+number+"/locations/global/gkeMemberships/c1") {
			t.Errorf("endpoint %q, want the membership under the gateway's TLS address", endpoint)
		}
		raw, err := base64.StdEncoding.DecodeString(fmt.Sprint(body["kubeconfig"]))
		if err != nil {
			t.Fatal(err)
		}
		var kc map[string]any
		if err := yaml.Unmarshal(raw, &kc); err != nil {
			t.Fatal(err)
		}
		want(t, kc, "current-context", "connectgateway_demo_global_c1")
		want(t, kc, "clusters.0.cluster.server", endpoint)
		want(t, kc, "users.0.user.exec.command", "gke-gcloud-auth-plugin")
		ca, err := base64.StdEncoding.DecodeString(fmt.Sprint(field(kc, "clusters.0.cluster.certificate-authority-data")))
		if err != nil {
			t.Fatal(err)
		}
		// The kubeconfig's server, verified with its CA, is the gateway.
		cs, err := kubernetes.NewForConfig(&rest.Config{Host: endpoint, BearerToken: "alice-token", TLSClientConfig: rest.TLSClientConfig{CAData: ca}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{}); err != nil {
			t.Fatalf("the kubeconfig's server: %v", err)
		}
		if got := b.last(); got != "GET /api/v1/namespaces/default Bearer alice-token" {
			t.Errorf("the cluster was asked %q through the kubeconfig's server", got)
		}
		srv.DenyPermission(gcpfake.Denial{Permission: "gkehub.gateway.generateCredentials"})
		defer srv.ClearDenials()
		if code, _ := call(t, "GET", base+"/memberships/c1:generateCredentials", "alice-token"); code != 403 {
			t.Errorf("generateCredentials without the permission: %d, want 403", code)
		}
	})

	t.Run("testIamPermissions and the admin endpoint", func(t *testing.T) {
		ask := func(token string) []any {
			req, _ := http.NewRequest("POST", srv.URL()+"/v1/projects/demo:testIamPermissions",
				strings.NewReader(`{"permissions":["gkehub.gateway.get","gkehub.memberships.get"]}`))
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var v map[string]any
			json.NewDecoder(resp.Body).Decode(&v)
			got, _ := v["permissions"].([]any)
			return got
		}
		if got := ask("alice-token"); len(got) != 2 {
			t.Fatalf("granted %v, want both", got)
		}
		if code, _ := doJSON(t, "POST", srv.URL()+"/_fake/iam/denials", `{"member":"`+principal+`","permission":"gkehub.gateway.get"}`); code != 200 {
			t.Fatalf("add a denial: %d", code)
		}
		if got := ask("alice-token"); fmt.Sprint(got) != "[gkehub.memberships.get]" {
			t.Errorf("granted %v to the denied caller, want only gkehub.memberships.get", got)
		}
		if got := ask(""); len(got) != 2 {
			t.Errorf("granted %v to an anonymous caller the denial does not name, want both", got)
		}
		if code, _ := call(t, "GET", c1URL+"/api", "alice-token"); code != 403 {
			t.Errorf("the gateway after the admin denial: %d, want 403", code)
		}
		doJSON(t, "DELETE", srv.URL()+"/_fake/iam/denials", "")
		if got := ask("alice-token"); len(got) != 2 {
			t.Errorf("granted %v after the denials were cleared", got)
		}
	})
}

// Until the fleet project enables connectgateway.googleapis.com, the gateway answers 403
// SERVICE_DISABLED, as every API of a project that has not enabled it does.
func TestConnectGatewayNeedsItsAPI(t *testing.T) {
	srv := gcpfake.Start(t, gcpfake.WithServiceEnforcement())
	srv.AddCaller("alice-token", "user:alice@example.com")
	_, project := doJSON(t, "GET", srv.URL()+"/v1/projects/demo", "")
	url := fmt.Sprintf("%s%s/v1/projects/%v/locations/global/gkeMemberships/c1/api", srv.URL(), gcpfake.GatewayPrefix, project["projectNumber"])
	code, body := call(t, "GET", url, "alice-token")
	if code != 403 {
		t.Fatalf("%d %v, want 403", code, body)
	}
	want(t, body, "error.details.0.reason", "SERVICE_DISABLED")
	want(t, body, "error.details.0.metadata.service", "connectgateway.googleapis.com")
	if code, body := doJSON(t, "POST", srv.URL()+"/v1/projects/demo/services/connectgateway.googleapis.com:enable", ""); code != 200 {
		t.Fatalf("enable: %d %v", code, body)
	}
	if code, body := call(t, "GET", url, "alice-token"); code != 404 {
		t.Errorf("once enabled, for a membership the fleet does not have: %d %v, want 404", code, body)
	}
}

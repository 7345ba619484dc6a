package gcpfake_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
)

// fakeBackend stands a small TLS server on 127.0.0.1 behind every cluster it
// provisions, so "the endpoint is reachable with the CA the API returned" is
// checked for real. Provision can be held (until hold is closed or its
// context ends) or made to fail; every call is recorded.
type fakeBackend struct {
	hold chan struct{}
	fail error

	mu         sync.Mutex
	servers    map[string]*httptest.Server
	events     []string               // "provision c1", "cancelled c1", "release c1", in order
	clusters   []*containerpb.Cluster // what each Provision call was given
	inProgress int                    // Provision calls that have not returned
	started    chan struct{}          // receives once per Provision call, when it starts
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{servers: map[string]*httptest.Server{}, started: make(chan struct{}, 16)}
}

func (b *fakeBackend) record(e string) {
	b.mu.Lock()
	b.events = append(b.events, e)
	b.mu.Unlock()
}

func (b *fakeBackend) Events() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.events...)
}

func (b *fakeBackend) InProgress() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inProgress
}

func (b *fakeBackend) Provision(ctx context.Context, project string, cluster *containerpb.Cluster) (string, []byte, error) {
	name := cluster.GetName()
	b.mu.Lock()
	b.clusters = append(b.clusters, cluster)
	b.inProgress++
	b.events = append(b.events, "provision "+name)
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.inProgress--
		b.mu.Unlock()
	}()
	b.started <- struct{}{}
	if b.hold != nil {
		select {
		case <-b.hold:
		case <-ctx.Done():
			b.record("cancelled " + name)
			return "", nil, ctx.Err()
		}
	}
	if b.fail != nil {
		return "", nil, b.fail
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	b.mu.Lock()
	defer b.mu.Unlock()
	if old := b.servers[name]; old != nil {
		srv.Close()
		return "", nil, fmt.Errorf("cluster name %q: already in use", name)
	}
	b.servers[name] = srv
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return srv.URL, caPEM, nil
}

func (b *fakeBackend) Release(project, location, name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, "release "+name)
	if srv := b.servers[name]; srv != nil {
		srv.Close()
		delete(b.servers, name)
	}
}

// Close stops whatever servers are left.
func (b *fakeBackend) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, srv := range b.servers {
		srv.Close()
	}
}

// waitStarted waits until Provision has been called n more times.
func (b *fakeBackend) waitStarted(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for range n {
		select {
		case <-b.started:
		case <-deadline:
			t.Fatal("Provision was not called within 10s")
		}
	}
}

const (
	parent  = "projects/demo/locations/us-west2"
	c1      = parent + "/clusters/c1"
	opsPath = parent + "/operations/"
)

// gkeClient is a container REST client on srv, closed with the test.
func gkeClient(t *testing.T, srv *gcpfake.Server) *container.ClusterManagerClient {
	t.Helper()
	cm, err := container.NewClusterManagerRESTClient(context.Background(), srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cm.Close() })
	return cm
}

// waitOp polls a GKE operation until it is DONE, for at most 10 seconds.
func waitOp(t *testing.T, cm *container.ClusterManagerClient, name string) *containerpb.Operation {
	t.Helper()
	var op *containerpb.Operation
	testutil.Eventually(t, 10*time.Second, "operation "+name, func() error {
		var err error
		if op, err = cm.GetOperation(context.Background(), &containerpb.GetOperationRequest{Name: opsPath + name}); err != nil {
			return err
		}
		if op.Status != containerpb.Operation_DONE {
			return fmt.Errorf("still %v", op.Status)
		}
		return nil
	})
	return op
}

func getCluster(t *testing.T, cm *container.ClusterManagerClient) *containerpb.Cluster {
	t.Helper()
	c, err := cm.GetCluster(context.Background(), &containerpb.GetClusterRequest{Name: c1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// createC1 creates cluster c1 with a context that is cancelled as soon as
// the call returns, the way a killed client leaves.
func createC1(t *testing.T, cm *container.ClusterManagerClient) *containerpb.Operation {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	op, err := cm.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent,
		Cluster: &containerpb.Cluster{Name: "c1", InitialNodeCount: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// reachable checks that the cluster's endpoint answers over TLS verified
// with the CA the API returned.
func reachable(t *testing.T, c *containerpb.Cluster) {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(c.GetMasterAuth().GetClusterCaCertificate())
	if err != nil {
		t.Fatalf("clusterCaCertificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(der) {
		t.Fatalf("clusterCaCertificate holds no certificate")
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("https://" + c.Endpoint + "/readyz")
	if err != nil {
		t.Fatalf("endpoint %q: %v", c.Endpoint, err)
	}
	resp.Body.Close()
}

// A create returns its operation at once, with the cluster PROVISIONING; the
// operation, not the request, starts the control plane, so a caller that
// leaves right after the call does not stop it.
func TestCreateClusterOutlivesItsCaller(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		// hold keeps Provision running until the caller has gone.
		hold bool
		// clock and latency model a create that takes minutes.
		clock *gcpfake.FakeClock
	}{
		{name: "control plane starts at once"},
		{name: "control plane starts after the caller has gone", hold: true},
		{name: "operation completes on the fake clock", clock: gcpfake.NewFakeClock(t0)},
		{name: "operation waits for the control plane after its time", hold: true, clock: gcpfake.NewFakeClock(t0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newFakeBackend()
			defer b.Close()
			if tc.hold {
				b.hold = make(chan struct{})
			}
			opts := []gcpfake.Option{gcpfake.WithClusterBackend(b)}
			if tc.clock != nil {
				opts = append(opts, gcpfake.WithClock(tc.clock),
					gcpfake.WithLatency(&gcpfake.Latency{Op: map[string]time.Duration{"ClusterManager/CreateCluster": 6 * time.Minute}}))
			}
			srv := gcpfake.Start(t, opts...)
			cm := gkeClient(t, srv)

			op := createC1(t, cm)
			if op.Status == containerpb.Operation_DONE {
				t.Fatalf("create returned a finished operation")
			}
			b.waitStarted(t, 1)
			if tc.hold || tc.clock != nil {
				// Until the control plane is up and the operation's time
				// has come, the cluster is PROVISIONING with its pools.
				c := getCluster(t, cm)
				if c.Status != containerpb.Cluster_PROVISIONING || c.NodePools[0].Status != containerpb.NodePool_PROVISIONING {
					t.Errorf("after the call: cluster %v, pool %v; want PROVISIONING", c.Status, c.NodePools[0].Status)
				}
				if c.Endpoint != "" {
					t.Errorf("endpoint %q before the control plane is up", c.Endpoint)
				}
			}
			if tc.clock != nil {
				tc.clock.Advance(6 * time.Minute)
			}
			if tc.hold {
				if got := getCluster(t, cm).Status; got != containerpb.Cluster_PROVISIONING {
					t.Errorf("cluster %v while the control plane starts, want PROVISIONING", got)
				}
				close(b.hold)
			}
			done := waitOp(t, cm, op.Name)
			if done.Error != nil {
				t.Fatalf("operation failed: %v", done.Error)
			}
			c := getCluster(t, cm)
			if c.Status != containerpb.Cluster_RUNNING || c.NodePools[0].Status != containerpb.NodePool_RUNNING {
				t.Errorf("cluster %v, pool %v; want RUNNING", c.Status, c.NodePools[0].Status)
			}
			reachable(t, c)

			// The backend was given the cluster as created: its pools with their zones, and its
			// pod range.
			b.mu.Lock()
			given := b.clusters[0]
			b.mu.Unlock()
			if given.GetLocation() != "us-west2" || len(given.GetNodePools()) != 1 ||
				!cmp.Equal(given.NodePools[0].GetLocations(), c.NodePools[0].GetLocations()) || len(c.NodePools[0].GetLocations()) != 3 ||
				given.GetClusterIpv4Cidr() == "" || given.GetClusterIpv4Cidr() != c.GetClusterIpv4Cidr() {
				t.Errorf("Provision was given location %q, pools %v, pod range %q; the cluster has pools %v, pod range %q",
					given.GetLocation(), given.GetNodePools(), given.GetClusterIpv4Cidr(), c.GetNodePools(), c.GetClusterIpv4Cidr())
			}
		})
	}
}

// A control plane that fails to start fails the create operation and leaves
// the cluster in ERROR with a status message, as GKE reports it; deleting it
// then frees the name.
func TestProvisionFailure(t *testing.T) {
	b := newFakeBackend()
	defer b.Close()
	b.fail = errors.New("etcd is not answering")
	srv := gcpfake.Start(t, gcpfake.WithClusterBackend(b))
	cm := gkeClient(t, srv)

	op := waitOp(t, cm, createC1(t, cm).Name)
	if op.Error == nil || codes.Code(op.Error.Code) != codes.Internal || !strings.Contains(op.Error.Message, "etcd is not answering") {
		t.Errorf("operation error = %v, want INTERNAL naming the cause", op.Error)
	}
	if op.StatusMessage != op.GetError().GetMessage() {
		t.Errorf("operation statusMessage = %q, want the error message", op.StatusMessage)
	}
	c := getCluster(t, cm)
	if c.Status != containerpb.Cluster_ERROR || !strings.Contains(c.StatusMessage, "etcd is not answering") {
		t.Errorf("cluster %v %q, want ERROR with the cause", c.Status, c.StatusMessage)
	}
	if len(c.Conditions) != 1 || c.Conditions[0].Message != c.StatusMessage {
		t.Errorf("conditions = %v, want one with the status message", c.Conditions)
	}
	if c.NodePools[0].Status != containerpb.NodePool_ERROR {
		t.Errorf("node pool %v, want ERROR", c.NodePools[0].Status)
	}

	del, err := cm.DeleteCluster(context.Background(), &containerpb.DeleteClusterRequest{Name: c1})
	if err != nil {
		t.Fatal(err)
	}
	if op := waitOp(t, cm, del.Name); op.Error != nil {
		t.Fatalf("delete: %v", op.Error)
	}
	b.fail = nil
	if op := waitOp(t, cm, createC1(t, cm).Name); op.Error != nil {
		t.Fatalf("create again: %v", op.Error)
	}
	reachable(t, getCluster(t, cm))
	if diff := cmp.Diff([]string{"provision c1", "release c1", "provision c1"}, b.Events()); diff != "" {
		t.Errorf("backend calls (-want +got):\n%s", diff)
	}
}

// A second create of a name answers ALREADY_EXISTS in Google's shape, in
// whatever state the first is, and never reaches the backend.
func TestCreateClusterAlreadyExists(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, b *fakeBackend, cm *container.ClusterManagerClient)
	}{
		{name: "while provisioning", setup: func(t *testing.T, b *fakeBackend, cm *container.ClusterManagerClient) {
			b.hold = make(chan struct{})
			t.Cleanup(func() { close(b.hold) })
			createC1(t, cm)
			b.waitStarted(t, 1)
		}},
		{name: "running", setup: func(t *testing.T, b *fakeBackend, cm *container.ClusterManagerClient) {
			waitOp(t, cm, createC1(t, cm).Name)
			b.waitStarted(t, 1)
		}},
		{name: "in error", setup: func(t *testing.T, b *fakeBackend, cm *container.ClusterManagerClient) {
			b.fail = errors.New("no")
			waitOp(t, cm, createC1(t, cm).Name)
			b.waitStarted(t, 1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newFakeBackend()
			defer b.Close()
			srv := gcpfake.Start(t, gcpfake.WithClusterBackend(b))
			cm := gkeClient(t, srv)
			tc.setup(t, b, cm)

			code, body := doJSON(t, "POST", srv.URL()+"/v1/"+parent+"/clusters", `{"cluster":{"name":"c1","initialNodeCount":1}}`)
			if code != 409 {
				t.Fatalf("duplicate create: HTTP %d %v", code, body)
			}
			want(t, body, "error.code", 409)
			want(t, body, "error.status", "ALREADY_EXISTS")
			want(t, body, "error.message", "Already exists: projects/demo/locations/us-west2/clusters/c1.")

			grpcCM, err := container.NewClusterManagerClient(context.Background(), srv.GRPCClientOptions()...)
			if err != nil {
				t.Fatal(err)
			}
			defer grpcCM.Close()
			_, err = grpcCM.CreateCluster(context.Background(), &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "c1"}})
			if status.Code(err) != codes.AlreadyExists {
				t.Errorf("duplicate create over gRPC: %v, want AlreadyExists", err)
			}
			if diff := cmp.Diff([]string{"provision c1"}, b.Events()); diff != "" {
				t.Errorf("backend calls (-want +got):\n%s", diff)
			}
		})
	}
}

// Deleting a cluster releases its backend whatever state the cluster is in;
// a delete during provisioning stops the provisioning first, ends the create
// operation with an error, and the name can be used again once the delete
// operation is done.
func TestDeleteClusterReleasesBackend(t *testing.T) {
	for _, tc := range []struct {
		name       string
		hold, fail bool
		wantEvents []string
		createErr  codes.Code
	}{
		{name: "provisioning", hold: true, createErr: codes.Aborted,
			wantEvents: []string{"provision c1", "cancelled c1", "release c1", "provision c1"}},
		{name: "running",
			wantEvents: []string{"provision c1", "release c1", "provision c1"}},
		{name: "error", fail: true, createErr: codes.Internal,
			wantEvents: []string{"provision c1", "release c1", "provision c1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newFakeBackend()
			defer b.Close()
			if tc.hold {
				b.hold = make(chan struct{})
			}
			if tc.fail {
				b.fail = errors.New("no")
			}
			srv := gcpfake.Start(t, gcpfake.WithClusterBackend(b))
			cm := gkeClient(t, srv)
			create := createC1(t, cm)
			b.waitStarted(t, 1)
			if !tc.hold {
				waitOp(t, cm, create.Name)
			}

			del, err := cm.DeleteCluster(context.Background(), &containerpb.DeleteClusterRequest{Name: c1})
			if err != nil {
				t.Fatal(err)
			}
			if op := waitOp(t, cm, del.Name); op.Error != nil {
				t.Fatalf("delete: %v", op.Error)
			}
			if n := b.InProgress(); n != 0 {
				t.Errorf("%d Provision calls still running after the delete", n)
			}
			op := waitOp(t, cm, create.Name)
			if got := codes.Code(op.GetError().GetCode()); got != tc.createErr {
				t.Errorf("create operation error %v, want %v", op.GetError(), tc.createErr)
			}
			if _, err := cm.GetCluster(context.Background(), &containerpb.GetClusterRequest{Name: c1}); httpCode(err) != 404 {
				t.Errorf("cluster after delete: %v, want 404", err)
			}

			b.hold, b.fail = nil, nil
			again := createC1(t, cm)
			b.waitStarted(t, 1)
			if op := waitOp(t, cm, again.Name); op.Error != nil {
				t.Fatalf("create the name again: %v", op.Error)
			}
			reachable(t, getCluster(t, cm))
			if diff := cmp.Diff(tc.wantEvents, b.Events()); diff != "" {
				t.Errorf("backend calls (-want +got):\n%s", diff)
			}
		})
	}
}

// Close stops control planes that are still starting and returns once
// nothing runs in the background; a simulator started again on the same
// state resumes the create, which ends RUNNING.
func TestCloseWhileProvisioning(t *testing.T) {
	dir := t.TempDir()
	b := newFakeBackend()
	defer b.Close()
	b.hold = make(chan struct{})
	srv := gcpfake.Start(t, gcpfake.WithClusterBackend(b), gcpfake.WithStateDir(dir))
	cm := gkeClient(t, srv)
	op := createC1(t, cm)
	b.waitStarted(t, 1)

	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return within 10s while a control plane was starting")
	}
	if n := b.InProgress(); n != 0 {
		t.Fatalf("%d Provision calls still running after Close", n)
	}
	if diff := cmp.Diff([]string{"provision c1", "cancelled c1"}, b.Events()); diff != "" {
		t.Errorf("backend calls (-want +got):\n%s", diff)
	}

	b.hold = nil
	again := gcpfake.Start(t, gcpfake.WithClusterBackend(b), gcpfake.WithStateDir(dir))
	cm = gkeClient(t, again)
	if done := waitOp(t, cm, op.Name); done.Error != nil {
		t.Fatalf("resumed create: %v", done.Error)
	}
	c := getCluster(t, cm)
	if c.Status != containerpb.Cluster_RUNNING {
		t.Fatalf("cluster %v after the resumed create, want RUNNING", c.Status)
	}
	reachable(t, c)
}

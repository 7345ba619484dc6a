package gcpfake

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	resourcemanagerpb "cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Server is a running simulator: one port serving REST (gcloud, the REST
// clients) and gRPC (the gRPC clients), plus the /_fake/ admin endpoints.
type Server struct {
	st   *store
	ctl  controls
	gw   *gateway
	grpc *grpc.Server
	hs   *http.Server
	lis  net.Listener
	opts options
	// caPEM is the CA every simulated cluster reports until a backend
	// supplies real ones.
	caPEM []byte
	done  chan struct{}

	// bg lives as long as the Server: the context of work that operations
	// do outside the store (starting a cluster's control plane), which no
	// request may cancel. Close cancels it and waits for that work.
	bg     context.Context
	stopBg context.CancelFunc
	work   sync.WaitGroup
	// provisioning holds the control planes being started, by cluster key.
	// Guarded by the store lock.
	provisioning map[string]*provisioning
	// iam knows callers by their tokens, and the permissions taken away from them.
	iam iamState
	// pre holds the quota limits and organisation policies set for preflight checks.
	pre preflightState
	// gatewayListener serves the Connect Gateway over TLS, for kubeconfigs.
	gatewayListener
}

type options struct {
	clock            Clock
	latency          *Latency
	stateDir         string
	noDefaultNetwork bool
	enforceServices  bool
	backend          ClusterBackend
}

// Option configures a Server.
type Option func(*options)

// WithClock makes operations complete on c instead of the wall clock.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithLatency sets the latency model (default: none).
func WithLatency(l *Latency) Option { return func(o *options) { o.latency = l } }

// WithStateDir persists state to dir/state.json and reloads it on start.
func WithStateDir(dir string) Option { return func(o *options) { o.stateDir = dir } }

// WithoutDefaultNetwork skips the "default" auto-mode network that real
// projects are created with.
func WithoutDefaultNetwork() Option { return func(o *options) { o.noDefaultNetwork = true } }

// WithServiceEnforcement makes compute, container, gkehub and IAM calls fail
// with 403 SERVICE_DISABLED until the project enables the API, as on a
// fresh real project.
func WithServiceEnforcement() Option { return func(o *options) { o.enforceServices = true } }

// WithClusterBackend backs simulated GKE clusters with real endpoints.
func WithClusterBackend(b ClusterBackend) Option { return func(o *options) { o.backend = b } }

// ClusterBackend provides the control plane behind a simulated cluster.
//
// Provision is called by the operation that creates a cluster, after the
// create call has returned, on a context that ends only when the Server is
// closed or the cluster is deleted meanwhile; the operation completes when
// it returns. cluster is a copy of the cluster as created (its location,
// node pools with their zones and machine types, pod range), for a backend
// that gives it nodes. A Provision that fails must leave nothing behind.
//
// Release is called by the operation that deletes a cluster, whatever state
// the cluster is in, after any Provision for it has returned; so it may be
// called for a cluster whose Provision failed or was cancelled.
type ClusterBackend interface {
	Provision(ctx context.Context, project string, cluster *containerpb.Cluster) (endpoint string, caPEM []byte, err error)
	Release(project, location, name string)
}

// New builds a Server without listening; use Listen, or Start in tests.
func New(opts ...Option) (*Server, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if o.clock == nil {
		o.clock = realClock{}
	}
	s := &Server{opts: o, st: newStore(o.clock), done: make(chan struct{}), provisioning: map[string]*provisioning{}}
	s.bg, s.stopBg = context.WithCancel(context.Background())
	s.ctl.counters = map[string]int{}
	s.ctl.latency = o.latency
	if o.stateDir != "" {
		if err := os.MkdirAll(o.stateDir, 0o755); err != nil {
			return nil, err
		}
		s.st.dir = o.stateDir
		if err := s.st.load(); err != nil {
			return nil, fmt.Errorf("load state from %s: %w", o.stateDir, err)
		}
	}
	ca, err := selfSignedCA()
	if err != nil {
		return nil, err
	}
	s.caPEM = ca
	s.grpc = grpc.NewServer(grpc.UnaryInterceptor(s.interceptor))
	s.gw = newGateway(s.interceptor)
	if err := s.registerAll(); err != nil {
		return nil, err
	}
	s.st.mu.Lock()
	s.resumeBackendWork()
	s.st.mu.Unlock()
	return s, nil
}

// Listen starts serving on addr (host:port; port 0 picks a free one).
func (s *Server) Listen(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.lis = lis
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	s.hs = &http.Server{Handler: s, Protocols: p, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		if err := s.hs.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "gcpfake: serve: %v\n", err)
		}
	}()
	return nil
}

// Start runs a simulator on 127.0.0.1 for the duration of a test. t is a
// testing.TB; the package does not import testing, so that the sandbox
// command does not link it.
func Start(t interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}, opts ...Option) *Server {
	t.Helper()
	s, err := New(opts...)
	if err != nil {
		t.Fatalf("gcpfake: %v", err)
	}
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatalf("gcpfake: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Close stops serving, stops the work operations were doing in the
// background (control planes being started stop starting; their operations
// stay in flight in the saved state) and writes the state once more.
func (s *Server) Close() error {
	if s.hs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.hs.Shutdown(ctx)
		s.grpc.Stop()
		s.hs.Close()
		<-s.done
		s.hs = nil
	}
	s.stopBg()
	s.work.Wait()
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if s.st.dir != "" {
		return s.st.save()
	}
	return nil
}

// Addr is host:port of the listener (the gRPC endpoint).
func (s *Server) Addr() string { return s.lis.Addr().String() }

// URL is the REST base URL, e.g. http://127.0.0.1:PORT.
func (s *Server) URL() string { return "http://" + s.Addr() }

// ClientOptions point an official REST client at the simulator.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(s.URL()), option.WithoutAuthentication()}
}

// GRPCClientOptions point an official gRPC client at the simulator.
func (s *Server) GRPCClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.Addr()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// Now is the simulator's current time.
func (s *Server) Now() time.Time { return s.st.now() }

// ServeHTTP routes gRPC, admin and REST traffic that share the port. Only requests addressed to
// a loopback name are served: a web page the operator opens could otherwise reach the simulator's
// API and /_fake/ admin endpoints through a name it rebinds to 127.0.0.1 (DNS rebinding).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !loopbackHost(r.Host) {
		http.Error(w, fmt.Sprintf("gcpfake: Host %q is not a loopback name (127.0.0.1, localhost or [::1])", r.Host), http.StatusMisdirectedRequest)
		return
	}
	if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		s.grpc.ServeHTTP(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/_fake/") {
		s.admin(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, GatewayPrefix+"/") {
		s.connectGateway(w, r)
		return
	}
	if orgPolicyRoute.MatchString(r.URL.Path) {
		s.orgPolicy(w, r)
		return
	}
	if s.sqlAdmin(w, r) {
		return
	}
	if r.Method == http.MethodGet && rmV1Project.MatchString(r.URL.Path) {
		s.projectV1(w, r)
		return
	}
	s.gw.ServeHTTP(w, r)
}

// loopbackHost reports whether a Host header (or gRPC :authority) names a loopback address or
// localhost, with or without a port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

var rmV1Project = regexp.MustCompile(`^/(cloudresourcemanager/)?v1/projects/[a-z][-a-z0-9]{3,29}$`)

// projectV1 serves Resource Manager v1's project shape, which gcloud
// projects describe reads and which has no Go proto.
func (s *Server) projectV1(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	s.ctl.mu.Lock()
	s.ctl.counters["Projects/GetProjectV1"]++
	s.ctl.mu.Unlock()
	unlock := s.lock(id)
	p := s.st.get("rm/projects/" + id).(*resourcemanagerpb.Project)
	body := map[string]any{
		"projectNumber":  strings.TrimPrefix(p.Name, "projects/"),
		"projectId":      p.ProjectId,
		"lifecycleState": "ACTIVE",
		"name":           p.DisplayName,
		"createTime":     p.CreateTime.AsTime().Format(time.RFC3339Nano),
		"parent":         map[string]string{"type": "organization", "id": strings.TrimPrefix(p.Parent, "organizations/")},
	}
	unlock()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(body)
}

func selfSignedCA() ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gcpfake cluster CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func computeLink(fqn string) string {
	if fqn == "" || strings.HasPrefix(fqn, "https://") {
		return fqn
	}
	return "https://www.googleapis.com/compute/v1/" + fqn
}

func gkeLink(path string) string { return "https://container.googleapis.com/v1/" + path }

// canon strips whatever precedes "projects/" in a reference, because
// clients send links built on whatever endpoint they were pointed at.
func canon(ref string) string {
	if i := strings.Index(ref, "projects/"); i >= 0 {
		return ref[i:]
	}
	return ref
}

func isZone(loc string) bool { return strings.Count(loc, "-") == 2 }

func regionOf(loc string) string {
	if isZone(loc) {
		return loc[:strings.LastIndex(loc, "-")]
	}
	return loc
}

func zonesOrLocations(loc string) string {
	if isZone(loc) {
		return "zones"
	}
	return "locations"
}

// kindOf names the resource kind in compute error wording.
func kindOf(fqn string) string {
	parts := strings.Split(fqn, "/")
	if len(parts) < 2 {
		return "resource"
	}
	switch parts[len(parts)-2] {
	case "networks":
		return "network"
	case "subnetworks":
		return "subnetwork"
	case "firewalls":
		return "firewall"
	case "routers":
		return "router"
	}
	return "resource"
}

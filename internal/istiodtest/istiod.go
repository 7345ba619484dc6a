package istiodtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
)

// Namespace is the system namespace istiod runs "in" (POD_NAMESPACE): where it
// reads remote secrets and writes its CA Secret and leader-election locks.
const Namespace = "istio-system"

// Options configure one istiod. The zero value is ready to use.
type Options struct {
	// ClusterID is the cluster's ID in the mesh (--clusterID, CLUSTER_ID): the
	// key the peers' remote secrets are filed under. Default: the cluster's name.
	ClusterID string
	// Revision is the control-plane revision (REVISION); empty means the
	// default revision.
	Revision string
	// MeshConfig is the mesh configuration, as the `mesh` key of the istio
	// ConfigMap would hold it, written to a file and passed as --meshConfig.
	// Default: "{}", Istio's defaults.
	MeshConfig string
	// MeshNetworks is the meshNetworks configuration, passed as --networksConfig.
	// Default: "networks: {}".
	MeshNetworks string
	// RemoteClusterTimeout is PILOT_REMOTE_CLUSTER_TIMEOUT: how long istiod
	// waits for a remote cluster before it reports it "timeout", becomes
	// ready without it and, when a remote secret changed, drops the cluster
	// the old secret described. Default 5 s (istiod's own default is 30 s).
	RemoteClusterTimeout time.Duration
	// BinDir holds pilot-discovery-<IstioVersion>; empty means the cache.
	BinDir string
	// StartTimeout bounds Start, until /ready answers 200; default 60 s.
	StartTimeout time.Duration
	// Env is added to istiod's environment last, overriding the defaults.
	Env []string
}

// Istiod is one pilot-discovery process serving one local cluster. All its
// listeners are on 127.0.0.1.
type Istiod struct {
	Cluster   *testenv.Cluster
	ClusterID string
	// Dir is istiod's working directory: it resolves ./etc/cacerts,
	// ./var/run/secrets/… and ./var/lib/istio/inject against it. Only
	// ./etc/cacerts is filled, from the cluster's istio-system/cacerts Secret
	// as the Deployment's volume would be (see PluggedCA). It also holds
	// mesh.yaml, meshNetworks.yaml and istiod.log.
	Dir string
	// PluggedCA says whether the last start found istio-system/cacerts and
	// wrote its files to ./etc/cacerts, so that istiod signs with that
	// intermediate; without it istiod is its own CA with a self-signed root.
	PluggedCA bool
	// HTTPAddr serves /ready and the /debug endpoints (--httpAddr).
	HTTPAddr string
	// GRPCAddr is plain-text xDS (--grpcAddr), SecureGRPCAddr xDS and the CA
	// over mTLS (--secureGRPCAddr), HTTPSAddr the webhooks (--httpsAddr),
	// MonitoringAddr /metrics (--monitoringAddr), CtrlzAddr the ControlZ UI.
	GRPCAddr, SecureGRPCAddr, HTTPSAddr, MonitoringAddr, CtrlzAddr string
	// StartupTime is from launch to /ready answering 200.
	StartupTime time.Duration

	opts Options
	bin  string
	srv  *testenv.Server
	http *http.Client
}

const (
	defaultStartTimeout         = 60 * time.Second
	defaultRemoteClusterTimeout = 5 * time.Second
	stopGrace                   = 5 * time.Second
	portAttempts                = 3
)

// Start runs pilot-discovery for cluster c and returns once its /ready
// endpoint answers 200, which istiod does once the local cluster and every
// remote cluster have synced or timed out. The istio-system namespace must
// exist, and the Istio CRDs should be installed (InstallCRDs). The caller
// must call Stop.
func Start(ctx context.Context, c *testenv.Cluster, opts Options) (*Istiod, error) {
	bin, err := FindBinary(opts.BinDir)
	if err != nil {
		return nil, err
	}
	if opts.ClusterID == "" {
		opts.ClusterID = c.Name
	}
	if opts.MeshConfig == "" {
		opts.MeshConfig = "{}\n"
	}
	if opts.RemoteClusterTimeout <= 0 {
		opts.RemoteClusterTimeout = defaultRemoteClusterTimeout
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = defaultStartTimeout
	}
	dir := filepath.Join(c.Dir, "istiod")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create istiod directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mesh.yaml"), []byte(opts.MeshConfig), 0o600); err != nil {
		return nil, fmt.Errorf("write mesh config: %w", err)
	}
	if opts.MeshNetworks == "" {
		opts.MeshNetworks = "networks: {}\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "meshNetworks.yaml"), []byte(opts.MeshNetworks), 0o600); err != nil {
		return nil, fmt.Errorf("write mesh networks: %w", err)
	}
	i := &Istiod{
		Cluster:   c,
		ClusterID: opts.ClusterID,
		Dir:       dir,
		opts:      opts,
		bin:       bin,
		http:      &http.Client{Timeout: 10 * time.Second},
	}
	if err := i.start(ctx); err != nil {
		return nil, err
	}
	return i, nil
}

// start launches the process, retrying with fresh ports when one was taken
// between probing and binding.
func (i *Istiod) start(ctx context.Context) error {
	var err error
	for attempt := 1; attempt <= portAttempts; attempt++ {
		err = i.launch(ctx)
		if err == nil || !testenv.PortInUse(err) {
			return err
		}
	}
	return err
}

func (i *Istiod) launch(ctx context.Context) error {
	ports, err := testenv.FreePorts(6)
	if err != nil {
		return err
	}
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	i.HTTPAddr, i.HTTPSAddr, i.GRPCAddr = addr(ports[0]), addr(ports[1]), addr(ports[2])
	i.SecureGRPCAddr, i.MonitoringAddr, i.CtrlzAddr = addr(ports[3]), addr(ports[4]), addr(ports[5])
	if err := i.mountCACerts(ctx); err != nil {
		return err
	}
	args := Args(i.Cluster.Kubeconfig, i.ClusterID, i.Dir, ports)
	env := Env(i.ClusterID, i.opts.Revision, i.opts.RemoteClusterTimeout)
	env = append(env, i.opts.Env...)
	start := time.Now()
	srv, err := testenv.StartServer(i.bin, args, testenv.ServerOptions{
		Name:    i.Cluster.Name + "/istiod",
		LogPath: filepath.Join(i.Dir, "istiod.log"),
		Dir:     i.Dir,
		Env:     env,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, i.opts.StartTimeout)
	defer cancel()
	if err := srv.WaitReady(ctx, "ready", func(ctx context.Context) error {
		_, err := i.get(ctx, "/ready")
		return err
	}); err != nil {
		srv.Stop(stopGrace)
		return err
	}
	i.srv = srv
	i.StartupTime = time.Since(start)
	return nil
}

// CACertsSecret is the Secret in Namespace that holds a plug-in CA's intermediate; the
// istiod Deployment mounts it, optionally, at /etc/cacerts.
const CACertsSecret = "cacerts"

// mountCACerts does for the process what the Deployment's optional cacerts
// volume does for a pod: ./etc/cacerts holds the keys of the Secret, one file
// each, when it exists, and is empty when it does not. It runs before every
// launch, so a restart sees the Secret as it is then.
func (i *Istiod) mountCACerts(ctx context.Context) error {
	dir := filepath.Join(i.Dir, "etc", "cacerts")
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clear %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	sec, err := i.Cluster.Client().CoreV1().Secrets(Namespace).Get(ctx, CACertsSecret, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		i.PluggedCA = false
		return nil
	case err != nil:
		return fmt.Errorf("read %s/%s of %s: %w", Namespace, CACertsSecret, i.Cluster.Name, err)
	}
	for k, v := range sec.Data {
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(k)), v, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", k, err)
		}
	}
	i.PluggedCA = true
	return nil
}

// Args are pilot-discovery's arguments for one cluster: its admin kubeconfig
// and cluster ID, the mesh and networks files in dir, and ports (http, https,
// grpc, secure grpc, monitoring, ctrlz), every listener on 127.0.0.1.
func Args(kubeconfig, clusterID, dir string, ports []int) []string {
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	return []string{
		"discovery",
		"--kubeconfig", kubeconfig,
		"--clusterID", clusterID,
		"--domain", "cluster.local",
		"--meshConfig", filepath.Join(dir, "mesh.yaml"),
		"--networksConfig", filepath.Join(dir, "meshNetworks.yaml"),
		"--httpAddr", addr(ports[0]),
		"--httpsAddr", addr(ports[1]),
		"--grpcAddr", addr(ports[2]),
		"--secureGRPCAddr", addr(ports[3]),
		"--monitoringAddr", addr(ports[4]),
		"--ctrlz_address", "127.0.0.1",
		"--ctrlz_port", strconv.Itoa(ports[5]),
		"--shutdownDuration", "1s",
		"--log_output_level", "default:info",
	}
}

// Env is istiod's environment beyond the test's own (KUBECONFIG removed):
// what the Deployment's downward API and chart values would set, and the
// switches that let it run without a pod.
func Env(clusterID, revision string, remoteClusterTimeout time.Duration) []string {
	return []string{
		"POD_NAMESPACE=" + Namespace,
		"POD_NAME=istiod-" + clusterID + "-local",
		"CLUSTER_ID=" + clusterID,
		"REVISION=" + revision,
		// istiod is the CA: with the plug-in intermediate in ./etc/cacerts, or
		// with a self-signed istio-ca-secret without it; it signs its serving
		// certificate for this name too.
		"PILOT_CERT_PROVIDER=istiod",
		"ISTIOD_CUSTOM_HOST=localhost",
		// No webhook configurations exist to patch, and no status to write.
		"VALIDATION_WEBHOOK_CONFIG_NAME=",
		"INJECTION_WEBHOOK_CONFIG_NAME=",
		"PILOT_ENABLE_STATUS=false",
		"PILOT_REMOTE_CLUSTER_TIMEOUT=" + remoteClusterTimeout.String(),
	}
}

// PID is the process ID (and process group ID) of istiod.
func (i *Istiod) PID() int { return i.srv.PID() }

// Process names the istiod process, for leak checks.
func (i *Istiod) Process() testenv.Process { return i.srv.Process() }

// LogTail returns the last n lines of istiod's log.
func (i *Istiod) LogTail(n int) string { return i.srv.LogTail(n) }

// Stop ends istiod (SIGTERM to its process group, SIGKILL after 5 s) and
// returns once it has been reaped. It is safe to call more than once.
func (i *Istiod) Stop() {
	if i.srv != nil {
		i.srv.Stop(stopGrace)
	}
}

// Restart stops istiod and starts it again with the same options, as a pod
// restart would: it re-reads every remote secret and re-authenticates.
func (i *Istiod) Restart(ctx context.Context) error {
	i.Stop()
	i.srv = nil
	return i.start(ctx)
}

// StartT starts an istiod per cluster in parallel, each with opts (ClusterID
// defaults to each cluster's name), and stops them when t ends. It fails t
// when one does not become ready.
func StartT(t testenv.TB, clusters []*testenv.Cluster, opts Options) []*Istiod {
	t.Helper()
	out := make([]*Istiod, len(clusters))
	errs := make([]error, len(clusters))
	done := make(chan int)
	for n, c := range clusters {
		go func() {
			defer func() { done <- n }()
			out[n], errs[n] = Start(context.Background(), c, opts)
		}()
	}
	for range clusters {
		<-done
	}
	t.Cleanup(func() {
		for _, i := range out {
			if i != nil {
				i.Stop()
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("start istiod: %v", err)
	}
	return out
}

// get fetches path from the HTTP listener and returns the body of a 200.
func (i *Istiod) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+i.HTTPAddr+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := i.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

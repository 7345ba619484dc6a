package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const (
	// serviceCIDR is every cluster's Service range; serviceIP, its first
	// address, is the kubernetes Service and a SAN of the serving cert.
	serviceCIDR = "10.96.0.0/16"
	serviceIP   = "10.96.0.1"

	defaultStartTimeout = 3 * time.Minute
	stopGrace           = 5 * time.Second
	portAttempts        = 3
	tempPrefix          = "asmfed-testenv-"
	ownerFile           = "owner.pid"
)

// DefaultControllers are the kube-controller-manager controllers a cluster
// runs unless Options.Controllers says otherwise: default service accounts,
// token Secrets, namespace deletion, garbage collection of owned objects,
// the kube-root-ca.crt ConfigMap and the aggregated admin/edit/view roles.
// Nothing that needs nodes or pods to be scheduled.
func DefaultControllers() []string {
	return []string{
		"serviceaccount-controller",
		"serviceaccount-token-controller",
		"namespace-controller",
		"garbage-collector-controller",
		"root-ca-certificate-publisher-controller",
		"clusterrole-aggregation-controller",
	}
}

// Options configure an Environment. The zero value is ready to use.
type Options struct {
	// BinDir holds the binaries; empty means CacheDir()/bin.
	BinDir string
	// Dir holds the state (certificates, kubeconfigs, etcd data, logs).
	// Empty means a new temporary directory, removed by Stop.
	Dir string
	// StartTimeout bounds Start and each AddClusters call; default 3 min.
	StartTimeout time.Duration
	// Controllers overrides DefaultControllers for kube-controller-manager.
	Controllers []string
	// Keep leaves Dir in place after Stop (also set by ASMFED_TESTENV_KEEP=1).
	Keep bool
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
	// AdminToken, when set, is a static bearer token every API server accepts as a member of
	// system:masters: how the sandbox's clients authenticate, since GKE clients send a token.
	AdminToken string
	// Workloads gives every cluster what it takes for pods to run as far as
	// the API shows: a kube-scheduler, kwok (one fake kubelet for all of the
	// cluster's nodes, which also serves port-forward to local processes),
	// and the controllers of WorkloadControllers. Nodes are added with
	// Cluster.AddNodes. Needs kube-scheduler and kwok in the cache
	// (FindWorkloadBinaries).
	Workloads bool
	// ProbedPods, a label "key=value", selects the pods whose readiness kwok
	// does not fake (Workloads only): they start Running but not Ready, and
	// whoever runs a real process for one reports its readiness with
	// Cluster.SetPodReady. Empty: kwok makes every pod Ready at once.
	ProbedPods string
}

// Environment is one etcd shared by any number of clusters, each a
// kube-apiserver and kube-controller-manager with its own PKI, keeping its
// objects under its own etcd prefix (/<cluster>/registry). One etcd per
// environment, rather than per cluster, saves a process and ~40 MB per cluster
// and lets AddClusters add clusters cheaply at any time; clusters stay fully
// isolated because nothing reads across prefixes.
type Environment struct {
	bins    Binaries
	opts    Options
	dir     string
	ownDir  bool
	etcdURL string
	// ports is freePorts, replaced in tests to provoke port conflicts.
	ports func(n int) ([]int, error)

	mu       sync.Mutex
	stopped  bool
	procs    []*tracked
	clusters []*Cluster
	names    map[string]bool

	stopOnce sync.Once
	stopErr  error
}

// tracked is a process with its stop order: controller managers first, then
// API servers, then etcd.
type tracked struct {
	p    *process
	tier int
}

const (
	tierControllerManager = iota
	tierAPIServer
	tierEtcd
	tiers
)

// Process names one running server, for diagnostics and leak checks.
type Process struct {
	Name string // "etcd", "c1/kube-apiserver", "c1/kube-controller-manager"
	PID  int    // also the process group ID
}

// Start starts the environment's etcd and returns once it is healthy. Add
// clusters with AddClusters; always call Stop, even after an error from
// AddClusters.
func Start(ctx context.Context, opts Options) (*Environment, error) {
	return start(ctx, opts, freePorts)
}

// start is Start with the port chooser as a parameter, for tests.
func start(ctx context.Context, opts Options, ports func(n int) ([]int, error)) (_ *Environment, err error) {
	find := FindBinaries
	if opts.Workloads {
		find = FindWorkloadBinaries
	}
	bins, err := find(opts.BinDir)
	if err != nil {
		return nil, err
	}
	if opts.ProbedPods != "" {
		if !opts.Workloads {
			return nil, errors.New("ProbedPods needs Workloads")
		}
		if _, _, err := probedLabel(opts.ProbedPods); err != nil {
			return nil, err
		}
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = defaultStartTimeout
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if os.Getenv(EnvKeep) == "1" {
		opts.Keep = true
	}
	e := &Environment{bins: bins, opts: opts, dir: opts.Dir, names: map[string]bool{}, ports: ports}
	if e.dir == "" {
		removeStaleDirs()
		if e.dir, err = os.MkdirTemp("", tempPrefix); err != nil {
			return nil, fmt.Errorf("create state directory: %w", err)
		}
		e.ownDir = true
		if err := os.WriteFile(filepath.Join(e.dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
			os.RemoveAll(e.dir)
			return nil, fmt.Errorf("write state directory owner: %w", err)
		}
	} else if err := os.MkdirAll(e.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	if err := e.startEtcd(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Environment) startEtcd(ctx context.Context) error {
	start := time.Now()
	dataDir := filepath.Join(e.dir, "etcd")
	member := "testenv-" + strconv.Itoa(os.Getpid()) + "-" + filepath.Base(e.dir)
	for attempt := 1; ; attempt++ {
		ports, err := e.ports(2)
		if err != nil {
			return err
		}
		client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
		if err := os.RemoveAll(dataDir); err != nil {
			return fmt.Errorf("reset etcd data: %w", err)
		}
		p, err := startProcess("etcd", filepath.Join(e.dir, "etcd.log"), e.bins.Etcd,
			"--name="+member,
			"--data-dir="+dataDir,
			"--listen-client-urls="+client,
			"--advertise-client-urls="+client,
			"--listen-peer-urls="+peer,
			"--initial-advertise-peer-urls="+peer,
			"--initial-cluster="+member+"="+peer,
			"--unsafe-no-fsync",
			"--log-level=warn",
		)
		if err != nil {
			return err
		}
		if err := e.track(p, tierEtcd); err != nil {
			return err
		}
		err = p.waitReady(ctx, "healthy", func(ctx context.Context) error {
			// The member list names this etcd, so a server of someone else's
			// that holds the port cannot pass for it.
			return httpCheck(ctx, http.DefaultClient, http.MethodPost, client+"/v3/cluster/member/list", `"name":"`+member+`"`)
		})
		var inUse errPortInUse
		if errors.As(err, &inUse) && attempt < portAttempts {
			e.opts.Logf("testenv: etcd: port taken, retrying")
			continue
		}
		if err != nil {
			return err
		}
		e.etcdURL = client
		e.opts.Logf("testenv: etcd %s ready at %s in %s", EtcdVersion, client, time.Since(start).Round(time.Millisecond))
		return nil
	}
}

// track registers p for Stop; if the environment is already stopping, it
// stops p at once.
func (e *Environment) track(p *process, tier int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		p.stop(0)
		return errors.New("environment stopped while starting " + p.name)
	}
	e.procs = append(e.procs, &tracked{p: p, tier: tier})
	return nil
}

var clusterName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$`)

// AddClusters starts one cluster per name, in parallel, and returns them in
// the order given once every API server answers /readyz and every
// controller manager has created the default service account (and, with
// Options.Workloads, kube-scheduler and kwok answer their health checks).
// Names are lower-case DNS labels, unique in the environment; they name the
// kubeconfig context, cluster and user (<name>-admin), so kubeconfigs merge
// cleanly.
func (e *Environment) AddClusters(ctx context.Context, names ...string) ([]*Cluster, error) {
	specs := make([]ClusterSpec, len(names))
	for i, n := range names {
		specs[i] = ClusterSpec{Name: n}
	}
	return e.AddClusterSpecs(ctx, specs...)
}

// AddClusterSpecs is AddClusters with a description of each cluster.
func (e *Environment) AddClusterSpecs(ctx context.Context, specs ...ClusterSpec) ([]*Cluster, error) {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	e.mu.Lock()
	for i, n := range names {
		switch {
		case !clusterName.MatchString(n):
			e.mu.Unlock()
			return nil, fmt.Errorf("cluster name %q: want a lower-case DNS label of at most 40 characters", n)
		case e.names[n] || slices.Contains(names[:i], n):
			e.mu.Unlock()
			return nil, fmt.Errorf("cluster name %q: already in use in this environment", n)
		}
	}
	if e.stopped {
		e.mu.Unlock()
		return nil, errors.New("add clusters: environment stopped")
	}
	for _, n := range names {
		e.names[n] = true
	}
	e.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, e.opts.StartTimeout)
	defer cancel()
	clusters := make([]*Cluster, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, spec := range specs {
		wg.Go(func() {
			c, err := e.startCluster(ctx, spec)
			if err != nil {
				errs[i] = fmt.Errorf("start cluster %s: %w", spec.Name, err)
				return
			}
			clusters[i] = c
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.clusters = append(e.clusters, clusters...)
	e.mu.Unlock()
	return clusters, nil
}

func (e *Environment) startCluster(ctx context.Context, spec ClusterSpec) (*Cluster, error) {
	name := spec.Name
	start := time.Now()
	dir := filepath.Join(e.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	ca, err := newCA(name + "-ca")
	if err != nil {
		return nil, err
	}
	serving, err := servingCert(ca)
	if err != nil {
		return nil, err
	}
	admin, err := clientCert(ca, "admin", "system:masters")
	if err != nil {
		return nil, err
	}
	kcmCert, err := clientCert(ca, "system:kube-controller-manager", "system:masters")
	if err != nil {
		return nil, err
	}
	saKey, saKeyPEM, err := newKey()
	if err != nil {
		return nil, err
	}
	saPubPEM, err := publicKeyPEM(saKey)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"ca.crt":         ca.certPEM,
		"apiserver.crt":  serving.certPEM,
		"apiserver.key":  serving.keyPEM,
		"sa.key":         saKeyPEM,
		"sa.pub":         saPubPEM,
		"admin.crt":      admin.certPEM,
		"admin.key":      admin.keyPEM,
		"controller.crt": kcmCert.certPEM,
		"controller.key": kcmCert.keyPEM,
	}
	if e.opts.Workloads {
		// The API server dials kwok for port-forward and verifies its
		// certificate; kwok and the scheduler serve this one on loopback.
		kubeletClient, err := clientCert(ca, "kube-apiserver-kubelet-client")
		if err != nil {
			return nil, err
		}
		loopback, err := loopbackServingCert(ca, "testenv-loopback")
		if err != nil {
			return nil, err
		}
		files["kubelet-client.crt"], files["kubelet-client.key"] = kubeletClient.certPEM, kubeletClient.keyPEM
		files["loopback.crt"], files["loopback.key"] = loopback.certPEM, loopback.keyPEM
	}
	for f, data := range files {
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", f, err)
		}
	}
	pf := func(f string) string { return filepath.Join(dir, f) }

	c := &Cluster{Name: name, CAData: ca.certPEM, Dir: dir, ca: ca, admin: admin}
	adminTLS, err := tls.X509KeyPair(admin.certPEM, admin.keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load admin certificate: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	probe := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{adminTLS}},
	}}
	defer probe.CloseIdleConnections()

	for attempt := 1; ; attempt++ {
		ports, err := e.ports(1)
		if err != nil {
			return nil, err
		}
		c.Host = fmt.Sprintf("https://127.0.0.1:%d", ports[0])
		c.Issuer = c.Host
		args := []string{
			"--etcd-servers=" + e.etcdURL,
			"--etcd-prefix=/" + name + "/registry",
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			// 1.37 refuses a loopback advertise address with the endpoint
			// reconciler; the kubernetes Service then has no endpoints.
			"--endpoint-reconciler-type=none",
			"--secure-port=" + strconv.Itoa(ports[0]),
			"--tls-cert-file=" + pf("apiserver.crt"),
			"--tls-private-key-file=" + pf("apiserver.key"),
			"--client-ca-file=" + pf("ca.crt"),
			"--service-account-key-file=" + pf("sa.pub"),
			"--service-account-signing-key-file=" + pf("sa.key"),
			"--service-account-issuer=" + c.Issuer,
			"--service-cluster-ip-range=" + serviceCIDR,
			"--authorization-mode=RBAC",
			"--allow-privileged=true",
			"--profiling=false",
			"--cert-dir=" + pf("certs"),
		}
		if e.opts.Workloads {
			args = append(args,
				// A node's InternalIP is where kwok serves; the default order
				// would dial the node's hostname.
				"--kubelet-preferred-address-types=InternalIP",
				"--kubelet-certificate-authority="+pf("ca.crt"),
				"--kubelet-client-certificate="+pf("kubelet-client.crt"),
				"--kubelet-client-key="+pf("kubelet-client.key"),
			)
		}
		if e.opts.AdminToken != "" {
			// A static bearer token for the sandbox, where clients reach the cluster the way they
			// reach GKE: with a token rather than a client certificate.
			tokens := pf("tokens.csv")
			if err := os.WriteFile(tokens, []byte(e.opts.AdminToken+`,asmfed-sandbox-admin,asmfed-sandbox-admin,"system:masters"`+"\n"), 0o600); err != nil {
				return nil, fmt.Errorf("write token file: %w", err)
			}
			args = append(args, "--token-auth-file="+tokens)
		}
		p, err := startProcess(name+"/kube-apiserver", pf("kube-apiserver.log"), e.bins.APIServer, args...)
		if err != nil {
			return nil, err
		}
		if err := e.track(p, tierAPIServer); err != nil {
			return nil, err
		}
		c.apiserver = p
		err = p.waitReady(ctx, "ready", func(ctx context.Context) error {
			// The probe trusts only this cluster's CA, so another server on
			// the port fails the check.
			return httpCheck(ctx, probe, http.MethodGet, c.Host+"/readyz", "ok")
		})
		var inUse errPortInUse
		if errors.As(err, &inUse) && attempt < portAttempts {
			e.opts.Logf("testenv: %s: port taken, retrying", name)
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	apiReady := time.Since(start)

	c.Kubeconfig = pf("kubeconfig")
	if err := writeKubeconfig(c.Kubeconfig, name, name+"-admin", c.Host, ca.certPEM, admin); err != nil {
		return nil, err
	}
	if err := writeKubeconfig(pf("controller-manager.kubeconfig"), name, "controller-manager", c.Host, ca.certPEM, kcmCert); err != nil {
		return nil, err
	}
	if c.client, err = kubernetes.NewForConfig(c.RESTConfig()); err != nil {
		return nil, fmt.Errorf("client for %s: %w", c.Host, err)
	}
	if c.dynamic, err = dynamic.NewForConfig(c.RESTConfig()); err != nil {
		return nil, fmt.Errorf("client for %s: %w", c.Host, err)
	}

	controllers := e.opts.Controllers
	if len(controllers) == 0 {
		controllers = DefaultControllers()
	}
	if e.opts.Workloads {
		for _, ctl := range WorkloadControllers() {
			if !slices.Contains(controllers, ctl) {
				controllers = append(controllers, ctl)
			}
		}
	}
	p, err := startProcess(name+"/kube-controller-manager", pf("kube-controller-manager.log"), e.bins.ControllerManager,
		"--kubeconfig="+pf("controller-manager.kubeconfig"),
		// No serving port: nothing scrapes it, and no port can collide.
		"--secure-port=0",
		"--leader-elect=false",
		"--controllers="+strings.Join(controllers, ","),
		"--service-account-private-key-file="+pf("sa.key"),
		"--root-ca-file="+pf("ca.crt"),
		"--cluster-name="+name,
		"--profiling=false",
	)
	if err != nil {
		return nil, err
	}
	if err := e.track(p, tierControllerManager); err != nil {
		return nil, err
	}
	c.controllerManager = p
	if slices.Contains(controllers, "serviceaccount-controller") || slices.Contains(controllers, "serviceaccount") {
		err = p.waitReady(ctx, "creating the default service account", func(ctx context.Context) error {
			_, err := c.client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if e.opts.Workloads {
		c.PodCIDR = spec.PodCIDR
		if c.PodCIDR == "" {
			c.PodCIDR = DefaultPodCIDR
		}
		if err := e.startWorkloads(ctx, c, c.PodCIDR); err != nil {
			return nil, err
		}
	}
	c.StartupTime = time.Since(start)
	e.opts.Logf("testenv: cluster %s ready at %s (API server %s, with controllers %s)",
		name, c.Host, apiReady.Round(time.Millisecond), c.StartupTime.Round(time.Millisecond))
	return c, nil
}

func writeKubeconfig(path, cluster, user, host string, caPEM []byte, cred *keyPair) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cluster] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: cred.certPEM, ClientKeyData: cred.keyPEM}
	cfg.Contexts[cluster] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: user}
	cfg.CurrentContext = cluster
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// httpCheck sends a request (with an empty JSON body for POST) and wants
// 200 with want in the response body.
func httpCheck(ctx context.Context, client *http.Client, method, url, want string) error {
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(data), want) {
		return fmt.Errorf("%s %s: %s: %.200s", method, url, resp.Status, data)
	}
	return nil
}

// Clusters returns the clusters added so far, in order.
func (e *Environment) Clusters() []*Cluster {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.clusters)
}

// Dir is the state directory.
func (e *Environment) Dir() string { return e.dir }

// EtcdURL is the client URL of the shared etcd.
func (e *Environment) EtcdURL() string { return e.etcdURL }

// Processes lists every server process the environment started, running or not.
func (e *Environment) Processes() []Process {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Process, 0, len(e.procs))
	for _, t := range e.procs {
		out = append(out, Process{Name: t.p.name, PID: t.p.pid()})
	}
	return out
}

// Stop ends every process by process group (controller managers, then API
// servers, then etcd; SIGTERM, SIGKILL after 5 s), waits until each is
// reaped, and removes a temporary state directory unless Keep is set. It is
// safe to call more than once and concurrently with AddClusters.
func (e *Environment) Stop() error {
	e.stopOnce.Do(func() {
		e.mu.Lock()
		e.stopped = true
		procs := slices.Clone(e.procs)
		e.mu.Unlock()
		for tier := range tiers {
			var wg sync.WaitGroup
			for _, t := range procs {
				if t.tier == tier {
					wg.Go(func() { t.p.stop(stopGrace) })
				}
			}
			wg.Wait()
		}
		switch {
		case e.opts.Keep:
			e.opts.Logf("testenv: kept state (certificates, kubeconfigs, logs) in %s", e.dir)
		case e.ownDir:
			if err := os.RemoveAll(e.dir); err != nil {
				e.stopErr = fmt.Errorf("remove state directory: %w", err)
			}
		}
	})
	return e.stopErr
}

// removeStaleDirs deletes temporary state directories whose owning process
// is gone: what a test binary that was killed leaves behind. Its servers died
// with it (parent-death signal); only the files remain.
func removeStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 || alive(pid) {
			continue
		}
		os.RemoveAll(d)
	}
}

// Cluster is one local Kubernetes cluster: a kube-apiserver on 127.0.0.1
// with its own CA, service-account issuer and admin credentials, and a
// kube-controller-manager.
type Cluster struct {
	Name        string        // context, cluster and etcd prefix name
	Host        string        // https://127.0.0.1:<port>
	CAData      []byte        // PEM of the cluster CA, which signed the serving and client certs
	Kubeconfig  string        // admin kubeconfig (system:masters), context Name
	Issuer      string        // service-account token issuer (the Host URL)
	Dir         string        // certificates, kubeconfigs and logs
	StartupTime time.Duration // from launch to API server ready and default service account created (and workloads' servers healthy)
	PodCIDR     string        // where kwok takes pod IPs from (Options.Workloads)

	ca                *keyPair
	admin             *keyPair
	client            *kubernetes.Clientset
	dynamic           *dynamic.DynamicClient
	apiserver         *process
	controllerManager *process
	scheduler         *process // with Options.Workloads
	kwok              *process // with Options.Workloads
}

// RESTConfig is a new admin (system:masters) client configuration.
func (c *Cluster) RESTConfig() *rest.Config {
	return &rest.Config{
		Host: c.Host,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   c.CAData,
			CertData: c.admin.certPEM,
			KeyData:  c.admin.keyPEM,
		},
		QPS:   100,
		Burst: 200,
	}
}

// Client is an admin clientset.
func (c *Cluster) Client() kubernetes.Interface { return c.client }

// UserConfig is a client configuration authenticating as user in groups with
// a fresh client certificate from the cluster CA; what it may do is up to
// RBAC.
func (c *Cluster) UserConfig(user string, groups ...string) (*rest.Config, error) {
	kp, err := clientCert(c.ca, user, groups...)
	if err != nil {
		return nil, err
	}
	return &rest.Config{
		Host:            c.Host,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.CAData, CertData: kp.certPEM, KeyData: kp.keyPEM},
	}, nil
}

// TokenConfig is a client configuration that authenticates with a bearer
// token only, e.g. a service-account token.
func (c *Cluster) TokenConfig(token string) *rest.Config {
	return &rest.Config{
		Host:            c.Host,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.CAData},
	}
}

// Processes lists the cluster's server processes.
func (c *Cluster) Processes() []Process {
	var out []Process
	for _, p := range []*process{c.apiserver, c.controllerManager, c.scheduler, c.kwok} {
		if p != nil {
			out = append(out, Process{Name: p.name, PID: p.pid()})
		}
	}
	return out
}

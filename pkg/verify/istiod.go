package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/kube"
)

// Istiod is one replica of a cluster's istiod, reachable from this machine: what the checks that
// ask istiod what a sidecar receives connect to.
type Istiod struct {
	// Name names the replica: its pod.
	Name string
	// Dial opens a connection to one of the replica's ports: IstiodDebugPort, whose /debug/
	// endpoints answer callers on the pod's loopback, where a port-forward's connections arrive,
	// and IstiodXDSPort, TLS with the serving certificate istiod signs for
	// istiod.istio-system.svc and a bearer token of audience istio-ca.
	Dial func(ctx context.Context, port int) (net.Conn, error)
}

// The ports of istiod a port-forward reaches.
const (
	IstiodDebugPort = 15014
	IstiodXDSPort   = 15012
)

// istiodAudience is the audience istiod accepts service-account tokens for (TOKEN_AUDIENCES).
const istiodAudience = "istio-ca"

var needIstiod = Requirement{Name: "a reachable istiod", Unmet: func(env *Env) string {
	switch {
	case env.Federation.Spec.Mesh.ControlPlane == v1alpha1.ControlPlaneManaged:
		return "managed control plane: no istiod pod to reach"
	case env.Istiods == nil:
		return "istiod cannot be reached from here"
	}
	return ""
}}

// reachIstiods returns the replicas of cluster's istiod, sorted by name, or the finding that
// says why they cannot be reached: the cluster itself cannot be, or no replica runs (skipped),
// or reaching one failed.
func reachIstiods(ctx context.Context, env *Env, cluster string) ([]Istiod, *Finding) {
	if _, ok := env.Clusters[cluster]; !ok {
		return nil, &Finding{Subject: cluster, Status: Skipped, Message: "the cluster cannot be reached"}
	}
	ids, err := env.Istiods(ctx, cluster)
	var none *NoIstiodError
	switch {
	case errors.As(err, &none):
		return nil, &Finding{Subject: cluster, Status: Skipped, Message: err.Error()}
	case err != nil:
		return nil, &Finding{Subject: cluster, Status: Skipped, Message: "istiod cannot be reached: " + err.Error()}
	}
	ids = slices.Clone(ids) // shared by the checks running at once
	slices.SortFunc(ids, func(a, b Istiod) int { return strings.Compare(a.Name, b.Name) })
	return ids, nil
}

// NoIstiodError says that a cluster runs no replica of the federation's istiod.
type NoIstiodError struct {
	Cluster, Revision string
}

func (e *NoIstiodError) Error() string {
	return fmt.Sprintf("no Running istiod pod of revision %s in %s (kubectl -n %s get pods -l %s)",
		e.Revision, federation.IstioNamespace, federation.IstioNamespace, istiodSelector(e.Revision))
}

func istiodSelector(revision string) string { return "app=istiod,istio.io/rev=" + revision }

// PortForwardedIstiods reaches istiod as istioctl does: through a port-forward session from this
// machine with every Running pod of the federation's revision (app=istiod, istio.io/rev) in
// istio-system, which carries connections to its debug and xDS ports. A cluster's sessions are
// opened the first time a check asks for them and kept until Close, so every check uses the same.
type PortForwardedIstiods struct {
	clusters map[string]*rest.Config
	revision string

	mu   sync.Mutex
	open map[string]*forwarded
}

type forwarded struct {
	once     sync.Once
	ids      []Istiod
	forwards []*kube.Forward
	err      error
}

// NewPortForwardedIstiods reaches the istiods of revision in the clusters given.
func NewPortForwardedIstiods(clusters map[string]*rest.Config, revision string) *PortForwardedIstiods {
	return &PortForwardedIstiods{clusters: clusters, revision: revision, open: map[string]*forwarded{}}
}

// Istiods is Env.Istiods.
func (p *PortForwardedIstiods) Istiods(ctx context.Context, cluster string) ([]Istiod, error) {
	p.mu.Lock()
	f, ok := p.open[cluster]
	if !ok {
		f = &forwarded{}
		p.open[cluster] = f
	}
	p.mu.Unlock()
	f.once.Do(func() { f.ids, f.forwards, f.err = p.forward(ctx, cluster) })
	return f.ids, f.err
}

func (p *PortForwardedIstiods) forward(ctx context.Context, cluster string) ([]Istiod, []*kube.Forward, error) {
	cfg, ok := p.clusters[cluster]
	if !ok {
		return nil, nil, fmt.Errorf("cluster %s cannot be reached", cluster)
	}
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	pods, err := k.CoreV1().Pods(federation.IstioNamespace).List(ctx, metav1.ListOptions{LabelSelector: istiodSelector(p.revision)})
	if err != nil {
		return nil, nil, fmt.Errorf("list istiod pods: %w", err)
	}
	var ids []Istiod
	var forwards []*kube.Forward
	for _, pod := range pods.Items {
		if pod.Status.Phase != corev1.PodRunning || pod.DeletionTimestamp != nil {
			continue
		}
		fw, err := kube.PortForward(ctx, cfg, pod.Namespace, pod.Name)
		if err != nil {
			for _, f := range forwards {
				f.Close()
			}
			return nil, nil, err
		}
		forwards = append(forwards, fw)
		ids = append(ids, Istiod{Name: pod.Name, Dial: fw.Dial})
	}
	if len(ids) == 0 {
		return nil, nil, &NoIstiodError{Cluster: cluster, Revision: p.revision}
	}
	return ids, forwards, nil
}

// Close ends every port-forward session.
func (p *PortForwardedIstiods) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.open {
		f.once.Do(func() {}) // waits for forwards still being opened, to close them too
		for _, fw := range f.forwards {
			fw.Close()
		}
	}
	p.open = map[string]*forwarded{}
}

// debugGet fetches a /debug/ path from an istiod replica and decodes its JSON into v.
func debugGet(ctx context.Context, id Istiod, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, istiodAnswerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+id.Name+path, nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return id.Dial(ctx, IstiodDebugPort) },
		DisableKeepAlives: true,
	}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s of %s: %w", path, id.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s of %s: %w", path, id.Name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s of %s: %s", path, id.Name, resp.Status)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s of %s: %w", path, id.Name, err)
	}
	return nil
}

// istiodTrust is what verifies istiod's serving certificate: the federation's root with the
// plug-in CA, otherwise the root the cluster's control plane publishes in istio-system. Never
// skipped: a sidecar that trusted any istiod would get its configuration from anyone.
func istiodTrust(ctx context.Context, env *Env, cluster string) (*tls.Config, error) {
	pool := x509.NewCertPool()
	ca := env.Federation.Spec.Mesh.CA
	if ca.Mode == v1alpha1.CAPlugin {
		data, err := v1alpha1.ReadFile(v1alpha1.ResolvePath(env.BaseDir, ca.RootCertFile))
		if err != nil {
			return nil, fmt.Errorf("read the root certificate: %w", err)
		}
		root, err := parseCert(data)
		if err != nil {
			return nil, fmt.Errorf("the root certificate: %w", err)
		}
		pool.AddCert(root)
	} else {
		k, err := kubernetes.NewForConfig(env.Clusters[cluster])
		if err != nil {
			return nil, err
		}
		cm, err := k.CoreV1().ConfigMaps(federation.IstioNamespace).Get(ctx, RootConfigMap, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("the root istiod publishes: %w", err)
		}
		if !pool.AppendCertsFromPEM([]byte(cm.Data[rootConfigMapKey])) {
			return nil, fmt.Errorf("%s/%s holds no certificate", federation.IstioNamespace, RootConfigMap)
		}
	}
	return &tls.Config{RootCAs: pool, ServerName: istiodServerName, MinVersion: tls.VersionTLS12}, nil
}

// sidecarToken is a token of audience istio-ca for account in namespace of cluster, as the
// kubelet projects into a pod for its sidecar: istiod accepts an xDS stream only from an
// identity of the namespace the sidecar claims. It lives 10 minutes, the least the API allows,
// and is never shown.
func sidecarToken(ctx context.Context, env *Env, cluster, namespace, account string) (string, error) {
	k, err := kubernetes.NewForConfig(env.Clusters[cluster])
	if err != nil {
		return "", err
	}
	ttl := int64((10 * time.Minute).Seconds())
	tr, err := k.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, account, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{istiodAudience}, ExpirationSeconds: &ttl},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("a token of audience %s for %s/%s: %w", istiodAudience, namespace, account, err)
	}
	return tr.Status.Token, nil
}

// connectSidecar is how sidecar s, in cluster, reaches replica id: over TLS verified against
// the federation's root, with a token of the namespace's account.
func connectSidecar(ctx context.Context, env *Env, cluster string, id Istiod, namespace, account string) (xdsConn, error) {
	tlsConf, err := istiodTrust(ctx, env, cluster)
	if err != nil {
		return xdsConn{}, err
	}
	token, err := sidecarToken(ctx, env, cluster, namespace, account)
	if err != nil {
		return xdsConn{}, err
	}
	return xdsConn{Name: id.Name, Dial: func(ctx context.Context) (net.Conn, error) { return id.Dial(ctx, IstiodXDSPort) }, TLS: tlsConf, Token: token}, nil
}

// probeSidecar is the synthetic sidecar of namespace in cluster.
func probeSidecar(env *Env, cluster, namespace string) sidecar {
	d := env.Derived
	s := sidecar{IP: sidecarIP, Namespace: namespace, Cluster: cluster, Network: d.Mesh.Network, IstioVersion: istioVersion(d.Mesh.Tag), MeshID: d.Mesh.MeshID}
	for _, c := range d.Clusters {
		if c.Name == cluster {
			s.Cluster = c.IstioClusterName
			if c.Network != "" {
				s.Network = c.Network
			}
		}
	}
	return s
}

// istioVersion is the ISTIO_VERSION a sidecar of image tag reports: the tag's leading version
// (1.31.0 of 1.31.0-distroless), or the tag as is.
func istioVersion(tag string) string {
	v, _, _ := strings.Cut(tag, "-")
	return v
}

package kube

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/impersonate"
	"google.golang.org/api/option"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"

	"github.com/asmfed/kubectl-asmfed/pkg/retry"
)

// Client rate limits. client-go's defaults (5 QPS, burst 10) would serialise a plan's parallel
// reads; an apply touches a few dozen objects per cluster.
const (
	DefaultQPS   = 50
	DefaultBurst = 100
)

// googleScope is the OAuth scope GKE accepts for Kubernetes API calls.
const googleScope = "https://www.googleapis.com/auth/cloud-platform"

// Endpoint is how to reach a cluster's API server directly, as the container API describes it:
// its address and CA, and a source of OAuth access tokens. It is all this package needs to know
// of GKE.
type Endpoint struct {
	// Host is the API server, e.g. https://10.0.0.2 or 10.0.0.2 (https is assumed).
	Host string
	// CAData is the PEM of the cluster CA (the container API's masterAuth.clusterCaCertificate,
	// base64-decoded). Empty only with SystemRoots.
	CAData []byte
	// SystemRoots trusts the system's certificate authorities instead of CAData: for a server
	// behind a public front end, such as the Connect Gateway.
	SystemRoots bool
	// TokenSource gives the bearer tokens; GoogleTokenSource for GKE.
	TokenSource oauth2.TokenSource
	// AllowLoopbackHTTP accepts http:// for a loopback address (127.0.0.0/8, ::1, localhost):
	// only the local simulator serves one. Any other http:// endpoint is refused, as the OAuth
	// token would travel in clear.
	AllowLoopbackHTTP bool
}

// ImpersonatedTokenSource gives tokens of service account sa, minted with the caller's
// Application Default Credentials (which need roles/iam.serviceAccountTokenCreator on sa), for
// GKE's Kubernetes API: the clusters see the calls --impersonate-service-account asks for, as
// Google Cloud does. opts reach the IAM Credentials client (tests).
func ImpersonatedTokenSource(ctx context.Context, sa string, opts ...option.ClientOption) (oauth2.TokenSource, error) {
	ts, err := impersonate.CredentialsTokenSource(ctx, impersonate.CredentialsConfig{TargetPrincipal: sa, Scopes: []string{googleScope}}, opts...)
	if err != nil {
		return nil, fmt.Errorf("impersonate %s for the Kubernetes API: %w (the caller needs roles/iam.serviceAccountTokenCreator on it)", sa, err)
	}
	return ts, nil
}

// GoogleTokenSource is the Application Default Credentials token source GKE accepts, the same
// credentials gcloud and the Google Cloud clients use, so no gke-gcloud-auth-plugin is needed.
func GoogleTokenSource(ctx context.Context) (oauth2.TokenSource, error) {
	ts, err := google.DefaultTokenSource(ctx, googleScope)
	if err != nil {
		return nil, fmt.Errorf("find Google credentials for the Kubernetes API: %w (hint: run `gcloud auth application-default login`)", err)
	}
	return ts, nil
}

// ConfigForEndpoint builds a client configuration from an Endpoint, with raised rate limits.
func ConfigForEndpoint(ep Endpoint) (*rest.Config, error) {
	if ep.Host == "" {
		return nil, errors.New("cluster endpoint has no address")
	}
	if len(ep.CAData) == 0 && !ep.SystemRoots {
		return nil, fmt.Errorf("cluster endpoint %s has no CA certificate", ep.Host)
	}
	if ep.TokenSource == nil {
		return nil, fmt.Errorf("cluster endpoint %s has no token source", ep.Host)
	}
	host := ep.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	if err := checkScheme(host, ep.AllowLoopbackHTTP); err != nil {
		return nil, err
	}
	ts := oauth2.ReuseTokenSource(nil, ep.TokenSource)
	cfg := &rest.Config{
		Host:            host,
		TLSClientConfig: rest.TLSClientConfig{CAData: ep.CAData},
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
			return &oauth2.Transport{Source: ts, Base: rt}
		},
	}
	return withRateLimits(cfg), nil
}

// checkScheme refuses an endpoint that would carry the bearer token in clear.
func checkScheme(host string, allowLoopbackHTTP bool) error {
	u, err := url.Parse(host)
	if err != nil || u.Host == "" {
		return fmt.Errorf("cluster endpoint %q is not a URL or address", host)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && allowLoopbackHTTP && IsLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("cluster endpoint %s is plain http: refusing to send the Google access token in clear (hint: the container API should report an address or an https URL; only the local simulator may use http on loopback)", host)
	}
	return fmt.Errorf("cluster endpoint %s: scheme %q is not https", host, u.Scheme)
}

// IsLoopback reports whether host (a name or address, without port) is localhost or a loopback
// address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// withRateLimits returns a copy of cfg with DefaultQPS and DefaultBurst unless it sets higher,
// and with 429 and 503 retried (WithRetries).
func withRateLimits(cfg *rest.Config) *rest.Config {
	c := WithRetries(cfg, retry.Policy{})
	if c.QPS < DefaultQPS {
		c.QPS = DefaultQPS
	}
	if c.Burst < DefaultBurst {
		c.Burst = DefaultBurst
	}
	return c
}

// MissingContextsError names kubeconfig contexts a federation refers to that do not exist.
type MissingContextsError struct {
	// Missing maps cluster names to the context they name.
	Missing map[string]string
	// Available are the contexts the kubeconfig has.
	Available []string
}

func (e *MissingContextsError) Error() string {
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(e.Missing)) {
		parts = append(parts, fmt.Sprintf("cluster %s names kubeconfig context %q", c, e.Missing[c]))
	}
	avail := "none"
	if len(e.Available) > 0 {
		avail = strings.Join(e.Available, ", ")
	}
	return fmt.Sprintf("%s, which the kubeconfig does not have (contexts: %s); hint: fix kubeconfigContext in the file, or pass --kubeconfig with the right file",
		strings.Join(parts, "; "), avail)
}

// ConfigsFromKubeconfig builds a client configuration per cluster from kubeconfig contexts
// (cluster name → context name). Every context is checked before any is used, and a
// *MissingContextsError names all that are missing. loader is the kubeconfig to read; nil means
// the default ($KUBECONFIG or ~/.kube/config).
func ConfigsFromKubeconfig(loader clientcmd.ClientConfigLoader, contexts map[string]string) (map[string]*rest.Config, error) {
	if loader == nil {
		loader = clientcmd.NewDefaultClientConfigLoadingRules()
	}
	raw, err := loader.Load()
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig: %w", err)
	}
	missing := map[string]string{}
	for cluster, ctxName := range contexts {
		if _, ok := raw.Contexts[ctxName]; !ok {
			missing[cluster] = ctxName
		}
	}
	if len(missing) > 0 {
		return nil, &MissingContextsError{Missing: missing, Available: slices.Sorted(maps.Keys(raw.Contexts))}
	}
	out := make(map[string]*rest.Config, len(contexts))
	for cluster, ctxName := range contexts {
		cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, ctxName, &clientcmd.ConfigOverrides{}, loader).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("kubeconfig context %q of cluster %s: %w", ctxName, cluster, err)
		}
		out[cluster] = withRateLimits(cfg)
	}
	return out, nil
}

// ClientSet holds a dynamic client per cluster.
type ClientSet struct {
	configs map[string]*rest.Config
	dynamic map[string]dynamic.Interface

	mu sync.Mutex
	// protobuf are the clients List reads built-in kinds with, by cluster and group version.
	protobuf map[string]*rest.RESTClient
}

// NewClientSet builds clients for every cluster (name → configuration).
func NewClientSet(configs map[string]*rest.Config) (*ClientSet, error) {
	cs := &ClientSet{configs: map[string]*rest.Config{}, dynamic: map[string]dynamic.Interface{}, protobuf: map[string]*rest.RESTClient{}}
	for name, cfg := range configs {
		if cfg == nil {
			return nil, fmt.Errorf("cluster %s: no client configuration", name)
		}
		c := withRateLimits(cfg)
		if c.RateLimiter == nil {
			// One limit for all of a cluster's clients (dynamic, and List's protobuf ones).
			c.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(c.QPS, c.Burst)
		}
		d, err := dynamic.NewForConfig(c)
		if err != nil {
			return nil, fmt.Errorf("client for cluster %s: %w", name, err)
		}
		cs.configs[name], cs.dynamic[name] = c, d
	}
	return cs, nil
}

// Config returns the configuration of a cluster, nil if unknown.
func (cs *ClientSet) Config(cluster string) *rest.Config { return cs.configs[cluster] }

// Dynamic returns the dynamic client of a cluster, nil if unknown.
func (cs *ClientSet) Dynamic(cluster string) dynamic.Interface { return cs.dynamic[cluster] }

package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/kube"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// clusterOptions tells the engine how the CLI reaches clusters, the way each cluster's
// access.via says: the kubeconfig context the file names (every one checked before any work, and
// used with its own credentials), or, with an OAuth token (the token file of
// ASMFED_GCP_ACCESS_TOKEN_FILE, else the service account of --impersonate-service-account, else
// Application Default Credentials), the Connect Gateway or the endpoint and CA GKE reports.
func (g *globalOptions) clusterOptions(ctx context.Context, f *v1alpha1.Federation, src *fileSource, cloud cloudFlags, rotate bool) (engine.ClusterOptions, error) {
	if err := cloud.check(g); err != nil {
		return engine.ClusterOptions{}, err
	}
	contexts := map[string]string{}
	for _, c := range f.Spec.Clusters {
		if c.Access.Via == v1alpha1.AccessKubeconfig {
			contexts[c.Name] = c.KubeconfigContext
		}
	}
	fromContexts := map[string]*rest.Config{}
	if len(contexts) > 0 {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if g.kube.KubeConfig != nil && *g.kube.KubeConfig != "" {
			rules.ExplicitPath = *g.kube.KubeConfig
		}
		var err error
		if fromContexts, err = kube.ConfigsFromKubeconfig(rules, contexts); err != nil {
			return engine.ClusterOptions{}, err
		}
	}
	var tokens oauth2.TokenSource
	tokenSource := func() (oauth2.TokenSource, error) {
		if tokens != nil {
			return tokens, nil
		}
		token, err := g.accessToken()
		if err != nil {
			return nil, err
		}
		if token != "" {
			tokens = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})
			return tokens, nil
		}
		if cloud.impersonate != "" {
			tokens, err = kube.ImpersonatedTokenSource(ctx, cloud.impersonate)
			return tokens, err
		}
		tokens, err = kube.GoogleTokenSource(ctx)
		return tokens, err
	}
	return engine.ClusterOptions{
		BaseDir:             src.baseDir(),
		RotateRemoteSecrets: rotate,
		Config: func(c federation.ClusterDesired, access gcplayer.ClusterAccess) (*rest.Config, error) {
			if c.Access.Via == v1alpha1.AccessKubeconfig {
				return fromContexts[c.Name], nil
			}
			ts, err := tokenSource()
			if err != nil {
				return nil, err
			}
			ep := kube.Endpoint{CAData: access.CAData, TokenSource: ts, AllowLoopbackHTTP: g.simulated()}
			switch c.Access.Via {
			case v1alpha1.AccessConnectGateway:
				ep = kube.Endpoint{Host: g.gatewayURL() + c.Access.GatewayPath, SystemRoots: true, TokenSource: ts, AllowLoopbackHTTP: g.simulated()}
			case v1alpha1.AccessPrivateEndpoint:
				ep.Host = access.PrivateEndpoint
			case v1alpha1.AccessPublicEndpoint:
				ep.Host = access.Endpoint
			default:
				return nil, fmt.Errorf("cluster %s: unknown access.via %q", c.Name, c.Access.Via)
			}
			return kube.ConfigForEndpoint(ep)
		},
	}, nil
}

// gatewayURL is the Connect Gateway's base URL: Google's, or under endpointEnv's when every
// Google API is pointed elsewhere (the sandbox serves the gateway under /connectgateway).
func (g *globalOptions) gatewayURL() string {
	if e := g.getenv(endpointEnv); e != "" {
		return strings.TrimSuffix(e, "/") + "/connectgateway"
	}
	return federation.ConnectGatewayURL
}

// simulated reports whether Google Cloud is the local simulator: endpointEnv names a loopback
// address. Only then may a cluster endpoint be plain http on loopback.
func (g *globalOptions) simulated() bool {
	u, err := url.Parse(g.getenv(endpointEnv))
	return err == nil && u.Host != "" && kube.IsLoopback(u.Hostname())
}

// session is what the commands that read live state start from: the checked federation, how
// to reach its clusters, and the engine.
type session struct {
	f     *v1alpha1.Federation
	copts engine.ClusterOptions
	eng   *engine.Engine
	close func()
}

// open prepares access to the clusters of the federation read from src (every kubeconfig context
// checked first) and builds the engine. Callers defer s.close().
func (g *globalOptions) open(ctx context.Context, f *v1alpha1.Federation, src *fileSource, cloud cloudFlags, rotate bool) (*session, error) {
	copts, err := g.clusterOptions(ctx, f, src, cloud, rotate)
	if err != nil {
		return nil, err
	}
	eng, closeFn, err := g.newEngine(ctx, cloud)
	if err != nil {
		return nil, err
	}
	return &session{f: f, copts: copts, eng: eng, close: closeFn}, nil
}

// planBoth plans both layers, saying so on stderr.
func (g *globalOptions) planBoth(ctx context.Context, eng *engine.Engine, f *v1alpha1.Federation, copts engine.ClusterOptions) (*engine.FullPlan, error) {
	fmt.Fprintf(g.streams.ErrOut, "Reading live state of %s...\n", f.Metadata.Name)
	fp, err := eng.PlanAll(ctx, f, copts)
	if err != nil {
		return nil, err
	}
	fp.Plan.FilesRead = v1alpha1.FileRefs(f, copts.BaseDir)
	return fp, nil
}

// render prints a plan for people.
func (g *globalOptions) render(w io.Writer, p *plan.Plan) error {
	return plan.TextRenderer{Color: g.color(w)}.Render(w, p)
}

package istiodtest

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/xds"
)

// Proxy describes a proxy to istiod the way its pilot-agent would: a sidecar of an application
// pod, or a gateway ("router").
type Proxy struct {
	// Type is "sidecar" or "router".
	Type string
	// IP, Pod and Namespace are the pod's.
	IP, Pod, Namespace string
	// Labels are the pod's labels, which Gateways and workload selectors match.
	Labels map[string]string
}

// ProxyConfig is what istiod sends a proxy, by resource name.
type ProxyConfig xds.Config

// Config connects to istiod's plain-text xDS as p would and returns its clusters, its listeners
// and the routes those listeners name: what the proxy would do with each connection.
func (i *Istiod) Config(ctx context.Context, p Proxy) (*ProxyConfig, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := grpc.NewClient(i.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	labels := map[string]any{}
	for k, v := range p.Labels {
		labels[k] = v
	}
	meta, err := structpb.NewStruct(map[string]any{
		"NAMESPACE": p.Namespace, "NAME": p.Pod, "CLUSTER_ID": i.ClusterID, "LABELS": labels,
		"ISTIO_VERSION": v1alpha1.DefaultIstioTag, "INTERCEPTION_MODE": "REDIRECT",
	})
	if err != nil {
		return nil, err
	}
	node := &corev3.Node{
		Id:       fmt.Sprintf("%s~%s~%s.%s~%s.svc.cluster.local", p.Type, p.IP, p.Pod, p.Namespace, p.Namespace),
		Metadata: meta,
	}
	cfg, err := xds.Fetch(ctx, conn, node)
	if err != nil {
		return nil, err
	}
	return (*ProxyConfig)(cfg), nil
}

// TCPDestination is the cluster the proxy sends a TCP or TLS connection to, on the listener
// named listener, for the SNI serverName ("" when the connection has none), and "" when no
// filter chain takes it.
func (c *ProxyConfig) TCPDestination(listener, serverName string) string {
	l := c.Listeners[listener]
	if l == nil {
		return ""
	}
	for _, fc := range l.FilterChains {
		names := fc.GetFilterChainMatch().GetServerNames()
		if serverName != "" && !matchesName(names, serverName) {
			continue
		}
		if cl := xds.TCPProxyCluster(fc); cl != "" {
			return cl
		}
	}
	return ""
}

// HTTPDestination is the cluster route configuration route sends a request for host to.
func (c *ProxyConfig) HTTPDestination(route, host string) string {
	rc := c.Routes[route]
	if rc == nil {
		return ""
	}
	for _, vh := range rc.VirtualHosts {
		if !matchesName(vh.Domains, host) {
			continue
		}
		for _, r := range vh.Routes {
			if cl := r.GetRoute().GetCluster(); cl != "" {
				return cl
			}
		}
	}
	return ""
}

func matchesName(names []string, name string) bool {
	for _, n := range names {
		if n == name || (strings.HasPrefix(n, "*.") && strings.HasSuffix(name, n[1:])) {
			return true
		}
	}
	return false
}

// Describe prints a listener for a failure message.
func (c *ProxyConfig) Describe(listener string) string {
	l := c.Listeners[listener]
	if l == nil {
		names := make([]string, 0, len(c.Listeners))
		for n := range c.Listeners {
			names = append(names, n)
		}
		return fmt.Sprintf("no listener %s (listeners: %v)", listener, names)
	}
	return prototext.Format(l)
}

package istiodtest

import (
	"context"
	"fmt"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
)

// Type URLs of the xDS resources a proxy asks for.
const (
	typeCluster  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	typeListener = "type.googleapis.com/envoy.config.listener.v3.Listener"
	typeRoute    = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
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
type ProxyConfig struct {
	Clusters  map[string]*clusterv3.Cluster
	Listeners map[string]*listenerv3.Listener
	Routes    map[string]*routev3.RouteConfiguration
}

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
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return nil, fmt.Errorf("open an xDS stream to istiod: %w", err)
	}
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
	out := &ProxyConfig{Clusters: map[string]*clusterv3.Cluster{}, Listeners: map[string]*listenerv3.Listener{}, Routes: map[string]*routev3.RouteConfiguration{}}
	ask := func(typeURL string, names []string, into func(*discoveryv3.DiscoveryResponse) error) error {
		if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: typeURL, ResourceNames: names}); err != nil {
			return fmt.Errorf("ask istiod for %s: %w", typeURL, err)
		}
		for {
			resp, err := stream.Recv()
			if err != nil {
				return fmt.Errorf("read istiod's %s: %w", typeURL, err)
			}
			// Acknowledge, so istiod does not wait on this type.
			if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resp.TypeUrl, ResourceNames: names,
				VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce}); err != nil {
				return err
			}
			if resp.TypeUrl == typeURL {
				return into(resp)
			}
		}
	}
	if err := ask(typeCluster, nil, func(r *discoveryv3.DiscoveryResponse) error {
		for _, a := range r.Resources {
			c := &clusterv3.Cluster{}
			if err := a.UnmarshalTo(c); err != nil {
				return err
			}
			out.Clusters[c.Name] = c
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := ask(typeListener, nil, func(r *discoveryv3.DiscoveryResponse) error {
		for _, a := range r.Resources {
			l := &listenerv3.Listener{}
			if err := a.UnmarshalTo(l); err != nil {
				return err
			}
			out.Listeners[l.Name] = l
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var routes []string
	for _, l := range out.Listeners {
		for _, fc := range l.FilterChains {
			for _, f := range fc.Filters {
				hcm := &hcmv3.HttpConnectionManager{}
				if f.GetTypedConfig() != nil && f.GetTypedConfig().UnmarshalTo(hcm) == nil && hcm.GetRds() != nil {
					routes = append(routes, hcm.GetRds().RouteConfigName)
				}
			}
		}
	}
	if len(routes) > 0 {
		if err := ask(typeRoute, routes, func(r *discoveryv3.DiscoveryResponse) error {
			for _, a := range r.Resources {
				rc := &routev3.RouteConfiguration{}
				if err := a.UnmarshalTo(rc); err != nil {
					return err
				}
				out.Routes[rc.Name] = rc
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
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
		for _, f := range fc.Filters {
			tp := &tcpproxyv3.TcpProxy{}
			if f.GetTypedConfig() != nil && f.GetTypedConfig().UnmarshalTo(tp) == nil && tp.GetCluster() != "" {
				return tp.GetCluster()
			}
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

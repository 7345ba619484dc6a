// Package xds asks istiod what it sends a proxy, over the aggregated discovery service (ADS) as
// Envoy speaks it: the proxy's node on the first request, every response acknowledged, with
// go-control-plane's protos. It dials nothing itself (the caller brings the gRPC connection,
// with its credentials) and links no Istio package.
package xds

import (
	"context"
	"fmt"
	"slices"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// The xDS resource types a proxy asks istiod for.
const (
	TypeListener = "type.googleapis.com/envoy.config.listener.v3.Listener"
	TypeCluster  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	TypeRoute    = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
	TypeEndpoint = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
)

// Config is what istiod sent a proxy, by resource name.
type Config struct {
	Listeners map[string]*listenerv3.Listener
	Clusters  map[string]*clusterv3.Cluster
	Routes    map[string]*routev3.RouteConfiguration
}

// Fetch opens an ADS stream on conn as the proxy node, asks, as Envoy does, for every cluster
// and listener, then for the route tables the listeners name, and returns once all three have
// arrived. ctx bounds it (with its outgoing metadata, such as a bearer token).
func Fetch(ctx context.Context, conn grpc.ClientConnInterface, node *corev3.Node) (*Config, error) {
	out := &Config{
		Listeners: map[string]*listenerv3.Listener{},
		Clusters:  map[string]*clusterv3.Cluster{},
		Routes:    map[string]*routev3.RouteConfiguration{},
	}
	err := stream(ctx, conn, node, func(st *session) error {
		if err := st.request(TypeCluster, nil); err != nil {
			return err
		}
		if err := st.request(TypeListener, nil); err != nil {
			return err
		}
		var routes []string
		asked := false
		for {
			got, err := st.receive()
			if err != nil {
				return err
			}
			switch got.TypeUrl {
			case TypeCluster:
				if err := decodeAll(got.Resources, out.Clusters, func(m *clusterv3.Cluster) string { return m.GetName() }); err != nil {
					return err
				}
			case TypeListener:
				if err := decodeAll(got.Resources, out.Listeners, func(m *listenerv3.Listener) string { return m.GetName() }); err != nil {
					return err
				}
				routes = RouteNames(out.Listeners)
				if len(routes) > 0 && !asked {
					if err := st.request(TypeRoute, routes); err != nil {
						return err
					}
					asked = true
				}
			case TypeRoute:
				if err := decodeAll(got.Resources, out.Routes, func(m *routev3.RouteConfiguration) string { return m.GetName() }); err != nil {
					return err
				}
			}
			if err := st.ack(got); err != nil {
				return err
			}
			if st.seen[TypeCluster] && st.seen[TypeListener] && (asked && st.seen[TypeRoute] || !asked && len(routes) == 0) {
				return nil
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Endpoints asks istiod, as the proxy node, for the endpoints of the named clusters (EDS).
func Endpoints(ctx context.Context, conn grpc.ClientConnInterface, node *corev3.Node, clusters []string) (map[string]*endpointv3.ClusterLoadAssignment, error) {
	out := map[string]*endpointv3.ClusterLoadAssignment{}
	err := stream(ctx, conn, node, func(st *session) error {
		if err := st.request(TypeEndpoint, clusters); err != nil {
			return err
		}
		for {
			got, err := st.receive()
			if err != nil {
				return err
			}
			if got.TypeUrl != TypeEndpoint {
				continue
			}
			return decodeAll(got.Resources, out, func(m *endpointv3.ClusterLoadAssignment) string { return m.GetClusterName() })
		}
	})
	return out, err
}

// session is one open ADS stream.
type session struct {
	stream grpc.BidiStreamingClient[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse]
	node   *corev3.Node
	sent   bool
	names  map[string][]string
	seen   map[string]bool
}

func (s *session) request(typeURL string, names []string) error {
	s.names[typeURL] = names
	return s.send(&discoveryv3.DiscoveryRequest{TypeUrl: typeURL, ResourceNames: names})
}

// ack acknowledges a response, as Envoy does, so istiod counts the proxy as in sync.
func (s *session) ack(r *discoveryv3.DiscoveryResponse) error {
	s.seen[r.TypeUrl] = true
	return s.send(&discoveryv3.DiscoveryRequest{TypeUrl: r.TypeUrl, ResourceNames: s.names[r.TypeUrl], VersionInfo: r.VersionInfo, ResponseNonce: r.Nonce})
}

func (s *session) send(r *discoveryv3.DiscoveryRequest) error {
	if !s.sent {
		r.Node = s.node // the first request of a stream carries the node
		s.sent = true
	}
	return s.stream.Send(r)
}

func (s *session) receive() (*discoveryv3.DiscoveryResponse, error) {
	r, err := s.stream.Recv()
	if err != nil {
		return nil, fmt.Errorf("receive from istiod: %w", err)
	}
	return r, nil
}

// stream opens an ADS stream on conn for node, runs talk on it and closes it.
func stream(ctx context.Context, conn grpc.ClientConnInterface, node *corev3.Node, talk func(*session) error) error {
	st, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return fmt.Errorf("open an xDS stream: %w", err)
	}
	defer st.CloseSend() //nolint:errcheck // the stream ends with the connection
	return talk(&session{stream: st, node: node, names: map[string][]string{}, seen: map[string]bool{}})
}

// decodeAll unmarshals resources into out by name.
func decodeAll[T any, P interface {
	*T
	proto.Message
}](resources []*anypb.Any, out map[string]P, name func(P) string) error {
	for _, r := range resources {
		m := P(new(T))
		if err := r.UnmarshalTo(m); err != nil {
			return fmt.Errorf("decode %s: %w", r.GetTypeUrl(), err)
		}
		out[name(m)] = m
	}
	return nil
}

// RouteNames are the route tables (RDS) the listeners' HTTP connection managers name, sorted.
func RouteNames(listeners map[string]*listenerv3.Listener) []string {
	var out []string
	for _, l := range listeners {
		for _, fc := range Chains(l) {
			for _, f := range fc.GetFilters() {
				var hcm hcmv3.HttpConnectionManager
				if f.GetTypedConfig().MessageIs(&hcm) && f.GetTypedConfig().UnmarshalTo(&hcm) == nil {
					if n := hcm.GetRds().GetRouteConfigName(); n != "" {
						out = append(out, n)
					}
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Chains are a listener's filter chains, its default chain last.
func Chains(l *listenerv3.Listener) []*listenerv3.FilterChain {
	out := slices.Clone(l.GetFilterChains())
	if d := l.GetDefaultFilterChain(); d != nil {
		out = append(out, d)
	}
	return out
}

// TCPProxyCluster is the cluster a filter chain's TCP proxy sends to, or "".
func TCPProxyCluster(fc *listenerv3.FilterChain) string {
	for _, f := range fc.GetFilters() {
		var tp tcpproxyv3.TcpProxy
		if f.GetTypedConfig().MessageIs(&tp) && f.GetTypedConfig().UnmarshalTo(&tp) == nil {
			return tp.GetCluster()
		}
	}
	return ""
}

package verify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// The xDS resource types a sidecar asks istiod for.
const (
	typeListener = "type.googleapis.com/envoy.config.listener.v3.Listener"
	typeCluster  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	typeRoute    = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
	typeEndpoint = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
)

// Names istiod gives what it generates for every sidecar (pilot/pkg/networking/util and
// pilot/pkg/model of the pinned Istio): the catch-all clusters, the listeners that capture
// traffic, and the virtual hosts that end an HTTP route table.
const (
	blackHoleCluster    = "BlackHoleCluster"
	passthroughCluster  = "PassthroughCluster"
	virtualOutbound     = "virtualOutbound"
	virtualInbound      = "virtualInbound"
	blockAllVirtualHost = "block_all"
	allowAnyVirtualHost = "allow_any"
	transportPlainText  = "raw_buffer"
	istiodServerName    = "istiod.istio-system.svc"
	xdsAuthorization    = "authorization"
	istiodAnswerTimeout = 20 * time.Second
)

// sidecar is a synthetic sidecar: the node a real Envoy would present to istiod, for a pod that
// does not exist. Its ID says what it is, so istiod's logs and /debug/syncz show it plainly.
type sidecar struct {
	// IP is the pod address it claims; it must be nobody's, so istiod attaches no workload to it.
	IP        string
	Namespace string
	// Cluster and Network are the cluster and network it claims to run in (CLUSTER_ID, NETWORK).
	Cluster, Network string
	// IstioVersion is ISTIO_VERSION: istiod generates for the proxy version it is told.
	IstioVersion string
	// MeshID is MESH_ID.
	MeshID string
}

// probeWorkload names the synthetic sidecar's pod in node IDs.
const probeWorkload = "asmfed-verify-probe"

// node is the sidecar as an Envoy node: ID sidecar~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local
// and the metadata a sidecar injected by istiod would send.
func (s sidecar) node() *corev3.Node {
	str := structpb.NewStringValue
	return &corev3.Node{
		Id:      fmt.Sprintf("sidecar~%s~%s.%s~%s.svc.cluster.local", s.IP, probeWorkload, s.Namespace, s.Namespace),
		Cluster: probeWorkload + "." + s.Namespace,
		Metadata: &structpb.Struct{Fields: map[string]*structpb.Value{
			"NAMESPACE":         str(s.Namespace),
			"CLUSTER_ID":        str(s.Cluster),
			"NETWORK":           str(s.Network),
			"ISTIO_VERSION":     str(s.IstioVersion),
			"MESH_ID":           str(s.MeshID),
			"INSTANCE_IPS":      str(s.IP),
			"INTERCEPTION_MODE": str("REDIRECT"),
			"WORKLOAD_NAME":     str(probeWorkload),
			"NAME":              str(probeWorkload),
		}},
		UserAgentName: "envoy",
	}
}

// xdsConn is how to open an ADS stream to one istiod: a connection to its secure xDS port, TLS
// verified against the federation's root, and a bearer token for the sidecar's namespace.
type xdsConn struct {
	// Name names the replica.
	Name  string
	Dial  func(ctx context.Context) (net.Conn, error)
	TLS   *tls.Config
	Token string
}

// sidecarConfig is what istiod sent a sidecar, by resource name.
type sidecarConfig struct {
	Listeners map[string]*listenerv3.Listener
	Clusters  map[string]*clusterv3.Cluster
	Routes    map[string]*routev3.RouteConfiguration
}

// fetchConfig connects s to istiod over ADS and asks, as Envoy does, for every cluster and
// listener, then for the route tables the listeners name. The stream ends when all three have
// arrived.
func fetchConfig(ctx context.Context, c xdsConn, s sidecar) (*sidecarConfig, error) {
	out := &sidecarConfig{
		Listeners: map[string]*listenerv3.Listener{},
		Clusters:  map[string]*clusterv3.Cluster{},
		Routes:    map[string]*routev3.RouteConfiguration{},
	}
	err := adsStream(ctx, c, s, func(st *adsSession) error {
		if err := st.request(typeCluster, nil); err != nil {
			return err
		}
		if err := st.request(typeListener, nil); err != nil {
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
			case typeCluster:
				if err := decodeAll(got.Resources, out.Clusters, func(m *clusterv3.Cluster) string { return m.GetName() }); err != nil {
					return err
				}
			case typeListener:
				if err := decodeAll(got.Resources, out.Listeners, func(m *listenerv3.Listener) string { return m.GetName() }); err != nil {
					return err
				}
				routes = routeNames(out.Listeners)
				if len(routes) > 0 && !asked {
					if err := st.request(typeRoute, routes); err != nil {
						return err
					}
					asked = true
				}
			case typeRoute:
				if err := decodeAll(got.Resources, out.Routes, func(m *routev3.RouteConfiguration) string { return m.GetName() }); err != nil {
					return err
				}
			}
			if err := st.ack(got); err != nil {
				return err
			}
			if st.seen[typeCluster] && st.seen[typeListener] && (asked && st.seen[typeRoute] || !asked && len(routes) == 0) {
				return nil
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// fetchEndpoints asks istiod for the endpoints of the named clusters (EDS) for sidecar s.
func fetchEndpoints(ctx context.Context, c xdsConn, s sidecar, clusters []string) (map[string]*endpointv3.ClusterLoadAssignment, error) {
	out := map[string]*endpointv3.ClusterLoadAssignment{}
	err := adsStream(ctx, c, s, func(st *adsSession) error {
		if err := st.request(typeEndpoint, clusters); err != nil {
			return err
		}
		for {
			got, err := st.receive()
			if err != nil {
				return err
			}
			if got.TypeUrl != typeEndpoint {
				continue
			}
			return decodeAll(got.Resources, out, func(m *endpointv3.ClusterLoadAssignment) string { return m.GetClusterName() })
		}
	})
	return out, err
}

// adsSession is one open ADS stream.
type adsSession struct {
	stream grpc.BidiStreamingClient[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse]
	node   *corev3.Node
	sent   bool
	names  map[string][]string
	seen   map[string]bool
}

func (s *adsSession) request(typeURL string, names []string) error {
	s.names[typeURL] = names
	return s.send(&discoveryv3.DiscoveryRequest{TypeUrl: typeURL, ResourceNames: names})
}

// ack acknowledges a response, as Envoy does, so istiod counts the sidecar as in sync.
func (s *adsSession) ack(r *discoveryv3.DiscoveryResponse) error {
	s.seen[r.TypeUrl] = true
	return s.send(&discoveryv3.DiscoveryRequest{TypeUrl: r.TypeUrl, ResourceNames: s.names[r.TypeUrl], VersionInfo: r.VersionInfo, ResponseNonce: r.Nonce})
}

func (s *adsSession) send(r *discoveryv3.DiscoveryRequest) error {
	if !s.sent {
		r.Node = s.node // the first request of a stream carries the node
		s.sent = true
	}
	return s.stream.Send(r)
}

func (s *adsSession) receive() (*discoveryv3.DiscoveryResponse, error) {
	r, err := s.stream.Recv()
	if err != nil {
		return nil, fmt.Errorf("receive from istiod: %w", err)
	}
	return r, nil
}

// adsStream opens an ADS stream for sidecar s, runs talk on it and closes it. It gives up after
// istiodAnswerTimeout unless ctx ends first.
func adsStream(ctx context.Context, c xdsConn, s sidecar, talk func(*adsSession) error) error {
	if c.TLS == nil {
		return errors.New("xDS without TLS: istiod would be trusted unverified")
	}
	conn, err := grpc.NewClient("passthrough:///"+c.Name, grpc.WithTransportCredentials(credentials.NewTLS(c.TLS)),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return c.Dial(ctx) }))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, istiodAnswerTimeout)
	defer cancel()
	if c.Token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, xdsAuthorization, "Bearer "+c.Token)
	}
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return fmt.Errorf("open an xDS stream: %w", err)
	}
	defer stream.CloseSend() //nolint:errcheck // the stream ends with the connection
	err = talk(&adsSession{stream: stream, node: s.node(), names: map[string][]string{}, seen: map[string]bool{}})
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("istiod did not answer within %s: %w", istiodAnswerTimeout, err)
	}
	return err
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

// routeNames are the route tables (RDS) the listeners' HTTP connection managers name, sorted.
func routeNames(listeners map[string]*listenerv3.Listener) []string {
	var out []string
	for _, l := range listeners {
		for _, fc := range allChains(l) {
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

// allChains are a listener's filter chains, its default chain last.
func allChains(l *listenerv3.Listener) []*listenerv3.FilterChain {
	out := slices.Clone(l.GetFilterChains())
	if d := l.GetDefaultFilterChain(); d != nil {
		out = append(out, d)
	}
	return out
}

// tcpProxyCluster is the cluster a filter chain's TCP proxy sends to, or "".
func tcpProxyCluster(fc *listenerv3.FilterChain) string {
	for _, f := range fc.GetFilters() {
		var tp tcpproxyv3.TcpProxy
		if f.GetTypedConfig().MessageIs(&tp) && f.GetTypedConfig().UnmarshalTo(&tp) == nil {
			return tp.GetCluster()
		}
	}
	return ""
}

// chainName names a filter chain in messages: its name, or its match.
func chainName(fc *listenerv3.FilterChain) string {
	if fc.GetName() != "" {
		return fc.GetName()
	}
	return strings.TrimSpace(fc.GetFilterChainMatch().String())
}

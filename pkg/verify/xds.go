package verify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/asmfed/kubectl-asmfed/pkg/xds"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"
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
type sidecarConfig = xds.Config

// fetchConfig asks istiod, as sidecar s, for its clusters, listeners and routes.
func fetchConfig(ctx context.Context, c xdsConn, s sidecar) (*sidecarConfig, error) {
	var out *sidecarConfig
	err := withIstiod(ctx, c, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		out, err = xds.Fetch(ctx, conn, s.node())
		return err
	})
	return out, err
}

// fetchEndpoints asks istiod for the endpoints of the named clusters (EDS) for sidecar s.
func fetchEndpoints(ctx context.Context, c xdsConn, s sidecar, clusters []string) (map[string]*endpointv3.ClusterLoadAssignment, error) {
	var out map[string]*endpointv3.ClusterLoadAssignment
	err := withIstiod(ctx, c, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		out, err = xds.Endpoints(ctx, conn, s.node(), clusters)
		return err
	})
	return out, err
}

// withIstiod connects to one istiod over TLS, with the sidecar's token, and runs talk. It gives
// up after istiodAnswerTimeout unless ctx ends first.
func withIstiod(ctx context.Context, c xdsConn, talk func(context.Context, *grpc.ClientConn) error) error {
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
	err = talk(ctx, conn)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("istiod did not answer within %s: %w", istiodAnswerTimeout, err)
	}
	return err
}

// chainName names a filter chain in messages: its name, or its match.
func chainName(fc *listenerv3.FilterChain) string {
	if fc.GetName() != "" {
		return fc.GetName()
	}
	return strings.TrimSpace(fc.GetFilterChainMatch().String())
}

package verify

import (
	"context"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/anypb"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
)

// The checks that ask istiod are skipped, saying why, when there is no istiod to ask.
func TestIstiodChecksSkipped(t *testing.T) {
	f, d := sample(t, "two-cluster-private")
	managed := *f
	managed.Spec.Mesh.ControlPlane = v1alpha1.ControlPlaneManaged
	for _, tt := range []struct {
		name string
		env  *Env
		want string
	}{
		{name: "managed control plane", env: &Env{Federation: &managed, Derived: d, Istiods: func(context.Context, string) ([]Istiod, error) { return nil, nil }},
			want: "managed control plane: no istiod pod to reach"},
		{name: "no way to reach istiod", env: &Env{Federation: f, Derived: d}, want: "istiod cannot be reached from here"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checks, err := Select(Checks(), []string{"ASMFED-MESH-00[234]", "ASMFED-EGRESS-*"}, nil)
			if err != nil || len(checks) != 4 {
				t.Fatalf("the istiod checks: %d, %v", len(checks), err)
			}
			r := Run(context.Background(), tt.env, checks)
			if len(r.Results) != 4 {
				t.Fatalf("%d findings, want one per check: %+v", len(r.Results), r.Results)
			}
			for _, f := range r.Results {
				if f.Status != Skipped || f.Message != tt.want {
					t.Errorf("%s: %s %q, want skipped %q", f.Check, f.Status, f.Message, tt.want)
				}
			}
		})
	}
}

func tcpChain(name, cluster string) *listenerv3.FilterChain {
	cfg, err := anypb.New(&tcpproxyv3.TcpProxy{StatPrefix: cluster, ClusterSpecifier: &tcpproxyv3.TcpProxy_Cluster{Cluster: cluster}})
	if err != nil {
		panic(err)
	}
	return &listenerv3.FilterChain{Name: name, Filters: []*listenerv3.Filter{{Name: "envoy.filters.network.tcp_proxy", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: cfg}}}}
}

// outbound is the virtualOutbound listener and route tables istiod generates (the shape of the
// pinned Istio's output, as TestSidecarsThroughIstiod sees it), with the catch-all cluster and
// the catch-all virtual host given.
func outbound(catchAll, lastHost string, clusters ...string) *sidecarConfig {
	cfg := &sidecarConfig{
		Listeners: map[string]*listenerv3.Listener{virtualOutbound: {Name: virtualOutbound, FilterChains: []*listenerv3.FilterChain{
			tcpChain("virtualOutbound-blackhole", blackHoleCluster), tcpChain("virtualOutbound-catchall-tcp", catchAll),
		}}},
		Routes: map[string]*routev3.RouteConfiguration{
			"80":    {Name: "80", VirtualHosts: []*routev3.VirtualHost{{Name: "web.shop.svc.cluster.local:80", Domains: []string{"web.shop.svc.cluster.local"}}, {Name: lastHost, Domains: []string{"*"}}}},
			"15014": {Name: "15014", VirtualHosts: []*routev3.VirtualHost{{Name: lastHost, Domains: []string{"*"}}}},
		},
		Clusters: map[string]*clusterv3.Cluster{},
	}
	for _, c := range clusters {
		cfg.Clusters[c] = &clusterv3.Cluster{Name: c}
	}
	return cfg
}

func TestJudgeEgress(t *testing.T) {
	allow := []v1alpha1.EgressRule{
		{Name: "googleapis", Hosts: []string{"www.googleapis.com"}, Ports: []v1alpha1.EgressPort{{Number: 443}}},
		{Name: "pypi", Hosts: []string{"pypi.org", "*.pythonhosted.org"}, Ports: []v1alpha1.EgressPort{{Number: 443}, {Number: 80}}},
	}
	every := []string{"outbound|443||www.googleapis.com", "outbound|443||pypi.org", "outbound|80||pypi.org", "outbound|443||*.pythonhosted.org", "outbound|80||*.pythonhosted.org"}
	for _, tt := range []struct {
		name  string
		cfg   *sidecarConfig
		allow []v1alpha1.EgressRule
		want  egressVerdict
	}{
		{name: "REGISTRY_ONLY with every allow-listed cluster", cfg: outbound(blackHoleCluster, blockAllVirtualHost, every...), allow: allow,
			want: egressVerdict{blockAll: 2, allowed: []string{"www.googleapis.com:443", "pypi.org:443", "pypi.org:80", "*.pythonhosted.org:443", "*.pythonhosted.org:80"}}},
		{name: "ALLOW_ANY: the fall-through chain and every catch-all route pass through", cfg: outbound(passthroughCluster, allowAnyVirtualHost),
			want: egressVerdict{passthrough: []string{
				"virtualOutbound chain virtualOutbound-catchall-tcp sends to PassthroughCluster",
				"route tables 15014, 80 end in allow_any"}}},
		{name: "a missing allow-listed cluster is named with its ServiceEntry", cfg: outbound(blackHoleCluster, blockAllVirtualHost, every[1:]...), allow: allow,
			want: egressVerdict{blockAll: 2, allowed: []string{"pypi.org:443", "pypi.org:80", "*.pythonhosted.org:443", "*.pythonhosted.org:80"},
				missing: []string{"www.googleapis.com:443 (ServiceEntry istio-system/asmfed-egress-googleapis)"}}},
		{name: "no outbound listener", cfg: &sidecarConfig{}, want: egressVerdict{noOutbound: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, judgeEgress(tt.cfg, tt.allow), cmp.AllowUnexported(egressVerdict{})); diff != "" {
				t.Errorf("judgeEgress (-want +got):\n%s", diff)
			}
		})
	}
}

// A probe namespace a crashed verify left is deleted by the next one once it is older than any
// running probe can be; a young one (another verify's, running) and other federations' stay.
func TestRemoveLeftoverProbes(t *testing.T) {
	ns := func(name string, age time.Duration, labels map[string]string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, CreationTimestamp: metav1.NewTime(time.Now().Add(-age))}}
	}
	k := fake.NewClientset(
		ns("asmfed-verify-old", time.Hour, map[string]string{ProbeLabel: "mesh"}),
		ns("asmfed-verify-running", time.Minute, map[string]string{ProbeLabel: "mesh"}),
		ns("asmfed-verify-other", time.Hour, map[string]string{ProbeLabel: "other-mesh"}),
		ns("shop", time.Hour, nil),
	)
	removeLeftoverProbes(context.Background(), k, "mesh")
	list, err := k.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range list.Items {
		got = append(got, n.Name)
	}
	if diff := cmp.Diff([]string{"asmfed-verify-other", "asmfed-verify-running", "shop"}, got); diff != "" {
		t.Errorf("namespaces left (-want +got):\n%s", diff)
	}
}

func TestSidecarNode(t *testing.T) {
	f, d := sample(t, "two-cluster-private")
	env := &Env{Federation: f, Derived: d}
	c := d.Clusters[1]
	n := probeSidecar(env, c.Name, "shop").node()
	if want := "sidecar~192.0.2.1~asmfed-verify-probe.shop~shop.svc.cluster.local"; n.GetId() != want {
		t.Errorf("node ID %q, want %q", n.GetId(), want)
	}
	md := n.GetMetadata().GetFields()
	for key, want := range map[string]string{"NAMESPACE": "shop", "CLUSTER_ID": c.IstioClusterName, "NETWORK": c.Network, "MESH_ID": d.Mesh.MeshID,
		"ISTIO_VERSION": istioVersion(d.Mesh.Tag)} {
		if got := md[key].GetStringValue(); got != want || got == "" {
			t.Errorf("metadata %s = %q, want %q", key, got, want)
		}
	}
	for tag, want := range map[string]string{"1.31.0": "1.31.0", "1.31.0-distroless": "1.31.0", "1.31.2-asm.3": "1.31.2"} {
		if got := istioVersion(tag); got != want {
			t.Errorf("istioVersion(%q) = %q, want %q", tag, got, want)
		}
	}
}

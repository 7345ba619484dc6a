package clusterlayer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/clusterlayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// BenchmarkPlan measures the cluster side's plan of a converged federation of n clusters, with
// 50 ms added to every API call, the calls one plan makes, the most heap it takes, and the heap
// the plan it returns holds.
//
// A hundred real API servers would not fit on one machine, so two real ones answer for all the
// clusters, each cluster through its own address (benchProxy): the clusters' namespaced objects
// are kept apart in namespaces of their own on the server (c07's istio-system is
// bench100-c07-istio-system there), and their cluster-scoped objects (namespaces, the reader
// ClusterRole and ClusterRoleBindings), the same in every cluster, are shared. Each cluster has
// its own client, with its own rate limit, as separate clusters do.
func BenchmarkPlan(b *testing.B) {
	outer := b
	servers := testenv.Clusters(b, 2)
	root := mustRoot(b)
	for _, n := range []int{1, 20, 100} {
		// The sub-benchmark's function runs more than once (b.N = 1 first); the federation is
		// set up the first time.
		var (
			proxy   *benchProxy
			configs map[string]*rest.Config
			d       *federation.Desired
			objects int
		)
		opts := clusterlayer.Options{CARoot: root}
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) {
			ctx := context.Background()
			if proxy == nil {
				proxy, configs, d, objects = setUpBench(ctx, b, outer.Cleanup, servers, n, opts)
			}
			proxy.latency.Store(int64(50 * time.Millisecond))
			calls := 0
			base := heapInUse()
			heap := testutil.StartHeapPeak(time.Millisecond)
			cpu := testutil.CPUTime()
			var r *clusterlayer.ClusterPlan
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r = nil // the previous plan is not held while the next is made
				var err error
				if r, err = clusterlayer.Plan(ctx, configs, d, opts); err != nil {
					b.Fatal(err)
				}
				if r.Plan.HasChanges() {
					b.Fatal("not converged")
				}
				calls += total(r.Calls)
			}
			b.StopTimer()
			// What a plan holds once made (its changes, and what apply needs of the objects).
			b.ReportMetric(float64(heapInUse()-base)/1e6, "held-MB")
			runtime.KeepAlive(r)
			b.ReportMetric(float64((testutil.CPUTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/plan")
			b.ReportMetric(float64(heap.Stop())/1e6, "peak-heap-MB")
			b.ReportMetric(float64(calls)/float64(b.N), "calls/plan")
			b.ReportMetric(float64(objects), "objects")
			if served := proxy.requests.Load(); served == 0 {
				b.Fatal("no request went through the proxy")
			}
		})
	}
}

// heapInUse is the heap's live bytes, after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// setUpBench applies a federation of n clusters answered by servers, and returns the
// configurations that reach them, the model and how many objects it has. The proxy it starts
// stops with cleanup.
func setUpBench(ctx context.Context, b *testing.B, cleanup func(func()), servers []*testenv.Cluster, n int, opts clusterlayer.Options) (*benchProxy, map[string]*rest.Config, *federation.Desired, int) {
	b.Helper()
	proxy := startBenchProxy(b, cleanup, fmt.Sprintf("bench%d-", n))
	configs := map[string]*rest.Config{}
	for i := 0; i < n; i++ {
		name := fedtest.GeneratedName(i)
		configs[name] = proxy.add(b, name, servers[i%len(servers)])
	}
	f := fedtest.Generated("bench", n, []string{"us-west2"}, []string{fedtest.DefaultFleetProject}).Build()
	f.Spec.Mesh.CA = v1alpha1.CA{Mode: v1alpha1.CAPlugin, RootCertFile: "root-cert.pem", RootKeyFile: "root-key.pem"}
	f.Spec.Namespaces = []v1alpha1.Namespace{{Name: "apps"}}
	v1alpha1.SetDefaults(f)
	d, err := federation.Compile(f, federation.Facts{})
	if err != nil {
		b.Fatal(err)
	}
	d = withoutIstioKinds(d)
	proxy.createNamespaces(ctx, b, federation.IstioNamespace, "apps")
	start := time.Now()
	r, err := clusterlayer.Plan(ctx, configs, d, opts)
	if err != nil {
		b.Fatal(err)
	}
	rep, err := clusterlayer.Apply(ctx, r, clusterlayer.ApplyOptions{Parallelism: 32})
	if err != nil || rep.Err() != nil {
		b.Fatalf("setup apply: %v %v", err, rep.Err())
	}
	b.Logf("%d clusters: %d objects applied in %s", n, r.Plan.Summary.Add, time.Since(start).Round(time.Millisecond))
	if r, err = clusterlayer.Plan(ctx, configs, d, opts); err != nil {
		b.Fatal(err)
	}
	if r.Plan.HasChanges() || len(r.Plan.Conflicts) > 0 {
		b.Fatalf("not converged after apply: %+v, %d conflicts", r.Plan.Summary, len(r.Plan.Conflicts))
	}
	return proxy, configs, d, len(r.Plan.Changes)
}

// withoutIstioKinds is d without the mesh policy and the gateway's credential, whose kinds come
// with Istio's CRDs, which the benchmark's servers do not have.
func withoutIstioKinds(d *federation.Desired) *federation.Desired {
	m := *d
	m.Clusters = slices.Clone(d.Clusters)
	for i := range m.Clusters {
		m.Clusters[i].Objects = slices.DeleteFunc(slices.Clone(m.Clusters[i].Objects), func(o federation.KubeObject) bool {
			_, istioKind := federation.CRDOf[o.Kind]
			return istioKind || o.Role == federation.RoleIngressCredential
		})
	}
	return &m
}

// benchProxy answers for many clusters with few real API servers: each cluster's requests
// (http://proxy/clusters/NAME/...) go to its server after latency, with every namespace of a
// namespaced object's path and body renamed to prefix+NAME-namespace.
type benchProxy struct {
	url      string
	prefix   string
	latency  atomic.Int64 // nanoseconds added to each request
	requests atomic.Int64
	clusters map[string]*testenv.Cluster
	rts      map[string]http.RoundTripper // by server host
}

func startBenchProxy(b *testing.B, cleanup func(func()), prefix string) *benchProxy {
	b.Helper()
	p := &benchProxy{prefix: prefix, clusters: map[string]*testenv.Cluster{}, rts: map[string]http.RoundTripper{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	rp := &httputil.ReverseProxy{Rewrite: p.rewrite, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return p.rts[r.URL.Host].RoundTrip(r)
	})}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		time.Sleep(time.Duration(p.latency.Load()))
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	cleanup(func() { _ = srv.Close() })
	p.url = "http://" + ln.Addr().String()
	return p
}

// add routes cluster to server and returns the configuration that reaches it.
func (p *benchProxy) add(b *testing.B, cluster string, server *testenv.Cluster) *rest.Config {
	b.Helper()
	p.clusters[cluster] = server
	u, err := url.Parse(server.Host)
	if err != nil {
		b.Fatal(err)
	}
	if p.rts[u.Host] == nil {
		if p.rts[u.Host], err = rest.TransportFor(server.RESTConfig()); err != nil {
			b.Fatal(err)
		}
	}
	return &rest.Config{Host: p.url + "/clusters/" + cluster}
}

// createNamespaces makes each cluster's own copy of the namespaces on its server.
func (p *benchProxy) createNamespaces(ctx context.Context, b *testing.B, names ...string) {
	b.Helper()
	for cluster, server := range p.clusters {
		for _, ns := range names {
			obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.namespace(cluster, ns)}}
			if _, err := server.Client().CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func (p *benchProxy) namespace(cluster, ns string) string { return p.prefix + cluster + "-" + ns }

func (p *benchProxy) rewrite(pr *httputil.ProxyRequest) {
	rest, _ := strings.CutPrefix(pr.In.URL.Path, "/clusters/")
	cluster, path, _ := strings.Cut(rest, "/")
	server := p.clusters[cluster]
	if server == nil {
		return // the server answers 404
	}
	target, _ := url.Parse(server.Host)
	pr.SetURL(target)
	pr.Out.URL.Path = p.namespacedPath(cluster, "/"+path)
	pr.Out.URL.RawPath = ""
	if pr.In.Body == nil || pr.In.ContentLength == 0 {
		return
	}
	body, err := io.ReadAll(pr.In.Body)
	if err != nil {
		return
	}
	var obj map[string]any
	if json.Unmarshal(body, &obj) == nil {
		if md, ok := obj["metadata"].(map[string]any); ok {
			if ns, ok := md["namespace"].(string); ok && ns != "" {
				md["namespace"] = p.namespace(cluster, ns)
				body, _ = json.Marshal(obj)
			}
		}
	}
	pr.Out.Body = io.NopCloser(bytes.NewReader(body))
	pr.Out.ContentLength = int64(len(body))
}

// namespacedPath renames the namespace of a path to a namespaced collection or object
// (/api/v1/namespaces/NS/secrets/...); a path to a namespace itself (/api/v1/namespaces/NS) is
// left alone.
func (p *benchProxy) namespacedPath(cluster, path string) string {
	before, after, found := strings.Cut(path, "/namespaces/")
	if !found {
		return path
	}
	ns, tail, more := strings.Cut(after, "/")
	if !more || tail == "" {
		return path
	}
	return before + "/namespaces/" + p.namespace(cluster, ns) + "/" + tail
}

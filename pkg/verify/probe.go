package verify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The probe is what ASMFED-MESH-003 writes into every cluster to see whether istiod merges a
// service's endpoints across clusters: a namespace of the same random name everywhere, holding
// a Service without selector, an EndpointSlice with one sentinel address per cluster and the
// ServiceAccount its synthetic sidecar authenticates as. It is deleted when the check ends.
const (
	// ProbeLabel marks the probe's namespaces with the federation's name, so that the next
	// verify recognises what a crashed one left behind.
	ProbeLabel = "asmfed.io/verify-probe"
	// probeName names the Service, its EndpointSlice, the ServiceAccount and the sidecar's pod.
	probeName            = probeWorkload
	probeNamespacePrefix = "asmfed-verify-"
	probePort            = 80
	// probeLeftoverAge is how old a probe namespace must be for verify to delete it as a
	// leftover: a probe lives for seconds, so an older one is not another verify's running probe.
	probeLeftoverAge = 10 * time.Minute
	// sidecarIP is the address synthetic sidecars claim: from TEST-NET-1 (RFC 5737), never
	// routed and nobody's, so istiod attaches no workload to them.
	sidecarIP = "192.0.2.1"
)

// probeAddress is the sentinel endpoint of the i-th cluster of the file, from TEST-NET-1 like
// sidecarIP: the endpoints say which cluster they came from, and nothing can ever answer there.
func probeAddress(i int) string { return fmt.Sprintf("192.0.2.%d", 10+i) }

// probe is the probe written into some clusters.
type probe struct {
	namespace string
	// addresses are the sentinel endpoint of each cluster the probe was written into.
	addresses map[string]string
	// clusters are those clusters, in the file's order.
	clusters []string
}

// host is the probe Service's name in the mesh, and cluster the name of its outbound cluster.
func (p *probe) host() string { return fmt.Sprintf("%s.%s.svc.cluster.local", probeName, p.namespace) }
func (p *probe) cluster() string {
	return fmt.Sprintf("outbound|%d||%s", probePort, p.host())
}

// writeProbe removes leftover probes and writes a new one into every reachable cluster. A
// cluster it cannot write to gets a failed finding.
func writeProbe(ctx context.Context, env *Env) (*probe, []Finding) {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	p := &probe{namespace: probeNamespacePrefix + hex.EncodeToString(suffix), addresses: map[string]string{}}
	type target struct {
		name  string
		index int
	}
	var targets []target
	for i, c := range env.Federation.Spec.Clusters {
		targets = append(targets, target{c.Name, i})
	}
	var mu sync.Mutex
	out := forEach(ctx, env, targets, func(ctx context.Context, t target) []Finding {
		cfg, ok := env.Clusters[t.name]
		if !ok {
			return nil // reported by the check
		}
		k, err := kubernetes.NewForConfig(cfg)
		if err == nil {
			removeLeftoverProbes(ctx, k, env.Federation.Metadata.Name)
			err = p.write(ctx, k, probeAddress(t.index), env.Federation.Metadata.Name)
		}
		if err != nil {
			return []Finding{{Subject: t.name, Status: Fail, Message: "write the probe: " + err.Error(),
				Hint: "verify needs to create a namespace, a Service, an EndpointSlice and a ServiceAccount, and to request tokens, in every cluster"}}
		}
		mu.Lock()
		p.addresses[t.name] = probeAddress(t.index)
		mu.Unlock()
		return nil
	})
	for _, c := range env.Federation.Spec.Clusters {
		if _, ok := p.addresses[c.Name]; ok {
			p.clusters = append(p.clusters, c.Name)
		}
	}
	return p, out
}

// write creates the probe's objects in one cluster.
func (p *probe) write(ctx context.Context, k kubernetes.Interface, address, fed string) error {
	labels := map[string]string{ProbeLabel: fed}
	meta := metav1.ObjectMeta{Name: probeName, Namespace: p.namespace, Labels: labels}
	if _, err := k.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.namespace, Labels: labels}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := k.CoreV1().ServiceAccounts(p.namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: meta}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := k.CoreV1().Services(p.namespace).Create(ctx, &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{
		Ports: []corev1.ServicePort{{Name: "http", Port: probePort, Protocol: corev1.ProtocolTCP}},
	}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	// The Service has no selector, so no controller writes its EndpointSlices: this one is
	// the probe's, as the EndpointSlice controller would write it for a ready pod.
	slice := meta
	slice.Labels = map[string]string{ProbeLabel: fed, discoveryv1.LabelServiceName: probeName, discoveryv1.LabelManagedBy: "asmfed-verify"}
	name, port, proto, ready := "http", int32(probePort), corev1.ProtocolTCP, true
	_, err := k.DiscoveryV1().EndpointSlices(p.namespace).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  slice,
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{address}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}},
	}, metav1.CreateOptions{})
	return err
}

// delete deletes the probe's namespace in every cluster it was written into, with a context of
// its own: the probe goes even when the check's context has ended.
func (p *probe) delete(ctx context.Context, env *Env) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	forEach(ctx, env, p.clusters, func(ctx context.Context, cluster string) []Finding {
		if k, err := kubernetes.NewForConfig(env.Clusters[cluster]); err == nil {
			_ = k.CoreV1().Namespaces().Delete(ctx, p.namespace, metav1.DeleteOptions{})
		}
		return nil
	})
}

// removeLeftoverProbes deletes the federation's probe namespaces older than probeLeftoverAge:
// those of a verify that could not clean up after itself.
func removeLeftoverProbes(ctx context.Context, k kubernetes.Interface, fed string) {
	list, err := k.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: ProbeLabel + "=" + fed})
	if err != nil {
		return
	}
	for _, ns := range list.Items {
		if ns.DeletionTimestamp == nil && time.Since(ns.CreationTimestamp.Time) > probeLeftoverAge {
			_ = k.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}) // gone already, or the next verify tries again
		}
	}
}

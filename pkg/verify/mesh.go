package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/xds"
)

// clusterStatus is one entry of istiod's /debug/clusterz: a cluster it reads services and
// endpoints from, the remote secret it came from (empty for its own) and how far it got.
type clusterStatus struct {
	ID         string `json:"id"`
	SecretName string `json:"secretName"`
	SyncStatus string `json:"syncStatus"`
}

const statusSynced = "synced"

// peersSynced asks every replica of every cluster's istiod which clusters it reads: each peer
// must be there, synced. A peer istiod has not synced contributes no services or endpoints.
func peersSynced(ctx context.Context, env *Env) []Finding {
	return forEach(ctx, env, env.Derived.Clusters, func(ctx context.Context, c federation.ClusterDesired) []Finding {
		ids, skip := reachIstiods(ctx, env, c.Name)
		if skip != nil {
			return []Finding{*skip}
		}
		var out []Finding
		for _, id := range ids {
			out = append(out, replicaPeers(ctx, env, c, id))
		}
		return out
	})
}

// replicaPeers judges one replica's /debug/clusterz.
func replicaPeers(ctx context.Context, env *Env, c federation.ClusterDesired, id Istiod) Finding {
	var statuses []clusterStatus
	if err := debugGet(ctx, id, "/debug/clusterz", &statuses); err != nil {
		return Finding{Subject: c.Name, Status: Fail, Message: err.Error(),
			Hint: "istiod serves /debug/clusterz on port 15014 to local callers: check the pod with kubectl -n istio-system describe pod " + id.Name}
	}
	byID := map[string]clusterStatus{}
	for _, s := range statuses {
		byID[s.ID] = s
	}
	var synced, problems []string
	for _, peer := range env.Derived.Clusters {
		if peer.Name == c.Name {
			continue
		}
		s, ok := byID[peer.IstioClusterName]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s is missing: istiod has no remote secret for it", peer.Name))
		case s.SyncStatus != statusSynced:
			problems = append(problems, fmt.Sprintf("%s is %s (from %s)", peer.Name, s.SyncStatus, s.SecretName))
		default:
			synced = append(synced, peer.Name)
		}
	}
	switch {
	case len(problems) > 0:
		return Finding{Subject: c.Name, Status: Fail, Message: fmt.Sprintf("%s: %s: its sidecars get none of that cluster's endpoints", id.Name, strings.Join(problems, "; ")),
			Hint: "istiod reads a peer with the remote secret istio-system/istio-remote-secret-<peer>: ASMFED-ACCESS-001 says whether the secret reaches the peer, ASMFED-NET-002 to ASMFED-NET-004 whether the path is open; kubectl asmfed apply rewrites a secret, which istiod picks up by itself"}
	case len(synced) == 0:
		return Finding{Subject: c.Name, Status: OK, Message: id.Name + ": no peer to read"}
	}
	return Finding{Subject: c.Name, Status: OK, Message: fmt.Sprintf("%s has %s synced", id.Name, strings.Join(synced, ", "))}
}

// crossClusterEndpoints connects a synthetic sidecar of the probe's namespace to every replica
// of every cluster's istiod: each must send, over EDS, the probe's endpoint in every cluster. The
// probe is written only when some istiod can be reached, and deleted when the check ends.
func crossClusterEndpoints(ctx context.Context, env *Env) []Finding {
	replicas := map[string][]Istiod{}
	var mu sync.Mutex
	out := forEach(ctx, env, env.Federation.Spec.Clusters, func(ctx context.Context, c v1alpha1.Cluster) []Finding {
		ids, skip := reachIstiods(ctx, env, c.Name)
		if skip != nil {
			return []Finding{*skip}
		}
		mu.Lock()
		replicas[c.Name] = ids
		mu.Unlock()
		return nil
	})
	if len(replicas) == 0 {
		return out
	}
	p, failed := writeProbe(ctx, env)
	defer p.delete(ctx, env)
	out = append(out, failed...)
	var asked []string
	for _, c := range p.clusters {
		if _, ok := replicas[c]; ok {
			asked = append(asked, c)
		}
	}
	return append(out, forEach(ctx, env, asked, func(ctx context.Context, cluster string) []Finding {
		var found []Finding
		for _, id := range replicas[cluster] {
			found = append(found, probeEndpoints(ctx, env, p, cluster, id))
		}
		return found
	})...)
}

// probeEndpoints asks one replica for the probe's endpoints until every cluster's has arrived,
// or the probe times out: istiod learns of a new Service in a peer through its watch, within a
// second or two on a healthy federation.
func probeEndpoints(ctx context.Context, env *Env, p *probe, cluster string, id Istiod) Finding {
	conn, err := connectSidecar(ctx, env, cluster, id, p.namespace, probeName)
	if err != nil {
		return Finding{Subject: cluster, Status: Fail, Message: id.Name + ": " + err.Error()}
	}
	s := probeSidecar(env, cluster, p.namespace)
	timeout := env.probeTimeout()
	deadline := time.Now().Add(timeout)
	for {
		cla, err := fetchEndpoints(ctx, conn, s, []string{p.cluster()})
		if err != nil {
			return Finding{Subject: cluster, Status: Fail, Message: fmt.Sprintf("%s: EDS for a sidecar in %s: %v", id.Name, p.namespace, err),
				Hint: "the sidecar connects over TLS, verified against the federation's root (ASMFED-TRUST-001), with a token of audience istio-ca"}
		}
		got := endpointAddresses(cla[p.cluster()])
		var have, missing []string
		for _, c := range p.clusters {
			if got[p.addresses[c]] {
				have = append(have, c)
			} else {
				missing = append(missing, fmt.Sprintf("%s (%s)", c, p.addresses[c]))
			}
		}
		if len(missing) == 0 {
			return Finding{Subject: cluster, Status: OK, Message: fmt.Sprintf("%s sends a sidecar the probe's endpoints in %s", id.Name, strings.Join(have, ", "))}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			msg := fmt.Sprintf("%s sends a sidecar no endpoint of %s after %s", id.Name, strings.Join(missing, ", "), timeout)
			if len(have) > 0 {
				msg += "; it does send those of " + strings.Join(have, ", ")
			}
			return Finding{Subject: cluster, Status: Fail, Message: msg,
				Hint: "istiod learns a peer's endpoints through the peer's remote secret: ASMFED-MESH-002 says whether it has the peer synced; clusters on different networks need an east-west gateway"}
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// endpointAddresses are the addresses of a load assignment's endpoints.
func endpointAddresses(cla *endpointv3.ClusterLoadAssignment) map[string]bool {
	out := map[string]bool{}
	for _, l := range cla.GetEndpoints() {
		for _, e := range l.GetLbEndpoints() {
			if a := e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress(); a != "" {
				out[a] = true
			}
		}
	}
	return out
}

func (env *Env) probeTimeout() time.Duration {
	if env.ProbeTimeout > 0 {
		return env.ProbeTimeout
	}
	return 30 * time.Second
}

// strictMTLS connects a synthetic sidecar of every application namespace to each cluster's
// istiod and reads its inbound listener: under STRICT every filter chain of virtualInbound
// matches TLS only; one that matches plain text (raw_buffer) means a sidecar there accepts
// connections without mutual TLS. The PeerAuthentications that weaken it are named.
func strictMTLS(ctx context.Context, env *Env) []Finding {
	if len(env.Federation.Spec.Namespaces) == 0 {
		return []Finding{{Status: Skipped, Message: "the file lists no namespace"}}
	}
	return perNamespace(ctx, env, func(ctx context.Context, cluster, ns string, cfg *sidecarConfig) Finding {
		subject := cluster + "/" + ns
		in, ok := cfg.Listeners[virtualInbound]
		if !ok {
			return Finding{Subject: subject, Status: Fail, Message: "istiod sends a sidecar in namespace " + ns + " no " + virtualInbound + " listener"}
		}
		var plain []string
		for _, fc := range xds.Chains(in) {
			if fc.GetFilterChainMatch().GetTransportProtocol() == transportPlainText {
				plain = append(plain, chainName(fc))
			}
		}
		if len(plain) == 0 {
			return Finding{Subject: subject, Status: OK, Message: fmt.Sprintf("a sidecar in namespace %s accepts mutual TLS only: no filter chain of %s matches plain text", ns, virtualInbound)}
		}
		slices.Sort(plain)
		msg := fmt.Sprintf("a sidecar in namespace %s accepts plain text (%s chains %s)", ns, virtualInbound, strings.Join(slices.Compact(plain), ", "))
		weak, err := weakeningPolicies(ctx, env, cluster, ns)
		if err != nil {
			return Finding{Subject: subject, Status: Fail, Message: msg + "; list PeerAuthentications: " + err.Error()}
		}
		if env.Federation.Spec.Mesh.MTLS == v1alpha1.MTLSPermissive && len(weak.namespace) == 0 {
			return Finding{Subject: subject, Status: Warn, Message: msg + ": mesh-wide mTLS is PERMISSIVE, as spec.mesh.mtls says",
				Hint: "set spec.mesh.mtls: STRICT once every client has a sidecar"}
		}
		who := slices.Concat(weak.namespace, weak.mesh)
		if len(who) == 0 {
			who = []string{"no PeerAuthentication verify can name (a policy with a selector does not apply to the synthetic sidecar)"}
		}
		hint := "kubectl asmfed apply restores the mesh-wide PeerAuthentication istio-system/default (STRICT)"
		if len(weak.namespace) > 0 {
			hint = "delete the namespace's PeerAuthentication or set its mtls.mode to STRICT; the file sets spec.mesh.mtls " + env.Federation.Spec.Mesh.MTLS + " for the whole mesh"
		}
		return Finding{Subject: subject, Status: Fail, Message: msg + ": " + strings.Join(who, "; "), Hint: hint}
	})
}

var peerAuthenticationsGVR = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}

// weakPolicies are the PeerAuthentications without a selector that leave a namespace short of
// STRICT: the namespace's own, and the mesh-wide one in istio-system (or its absence).
type weakPolicies struct {
	namespace, mesh []string
}

func weakeningPolicies(ctx context.Context, env *Env, cluster, ns string) (weakPolicies, error) {
	var w weakPolicies
	dyn, err := dynamic.NewForConfig(env.Clusters[cluster])
	if err != nil {
		return w, err
	}
	meshWide := 0
	for _, in := range []string{ns, federation.IstioNamespace} {
		list, err := dyn.Resource(peerAuthenticationsGVR).Namespace(in).List(ctx, metav1.ListOptions{})
		if err != nil {
			return w, err
		}
		for _, pa := range list.Items {
			spec, _ := pa.Object["spec"].(map[string]any)
			if _, selects := spec["selector"]; selects {
				continue
			}
			mtls, _ := spec["mtls"].(map[string]any)
			mode, _ := mtls["mode"].(string)
			where := fmt.Sprintf("PeerAuthentication %s/%s sets mtls.mode %s", in, pa.GetName(), orUnset(mode))
			switch {
			case in == federation.IstioNamespace:
				meshWide++
				if mode != v1alpha1.MTLSStrict {
					w.mesh = append(w.mesh, where+" for the whole mesh")
				}
			case mode == "PERMISSIVE" || mode == "DISABLE":
				w.namespace = append(w.namespace, where+" for the namespace")
			}
		}
	}
	if meshWide == 0 {
		w.mesh = append(w.mesh, "no mesh-wide PeerAuthentication in istio-system: Istio's default is PERMISSIVE")
	}
	slices.Sort(w.namespace)
	slices.Sort(w.mesh)
	return w, nil
}

func orUnset(mode string) string {
	if mode == "" {
		return "UNSET"
	}
	return mode
}

// perNamespace connects a synthetic sidecar of every application namespace of the file to the
// first replica of each cluster's istiod (the replicas of a cluster read the same API server),
// fetches what istiod sends it and judges it. Clusters are worked on in parallel.
func perNamespace(ctx context.Context, env *Env, judge func(ctx context.Context, cluster, ns string, cfg *sidecarConfig) Finding) []Finding {
	return forEach(ctx, env, env.Derived.Clusters, func(ctx context.Context, c federation.ClusterDesired) []Finding {
		ids, skip := reachIstiods(ctx, env, c.Name)
		if skip != nil {
			return []Finding{*skip}
		}
		id := ids[0]
		var out []Finding
		for _, ns := range env.Federation.Spec.Namespaces {
			subject := c.Name + "/" + ns.Name
			conn, err := connectSidecar(ctx, env, c.Name, id, ns.Name, "default")
			if err != nil {
				out = append(out, Finding{Subject: subject, Status: Fail, Message: id.Name + ": " + err.Error(), Hint: "kubectl asmfed apply creates the namespace"})
				continue
			}
			cfg, err := fetchConfig(ctx, conn, probeSidecar(env, c.Name, ns.Name))
			if err != nil {
				out = append(out, Finding{Subject: subject, Status: Fail, Message: fmt.Sprintf("%s: xDS for a sidecar in %s: %v", id.Name, ns.Name, err),
					Hint: "the sidecar connects over TLS, verified against the federation's root (ASMFED-TRUST-001), with a token of audience istio-ca"})
				continue
			}
			out = append(out, judge(ctx, c.Name, ns.Name, cfg))
		}
		return out
	})
}

package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/xds"
)

// registryOnly connects a synthetic sidecar of every application namespace to each cluster's
// istiod and reads what it would do with traffic to a host the mesh does not know: under
// REGISTRY_ONLY, every filter chain of virtualOutbound sends to BlackHoleCluster and every
// route table ends in the block_all virtual host; and every allow-listed host:port has its
// outbound cluster. Where the sidecar would pass traffic through instead, the finding names the
// object most likely responsible.
func registryOnly(ctx context.Context, env *Env) []Finding {
	if len(env.Federation.Spec.Namespaces) == 0 {
		return []Finding{{Status: Skipped, Message: "the file lists no namespace"}}
	}
	allow := env.Federation.Spec.Mesh.Egress.Allow
	return perNamespace(ctx, env, func(ctx context.Context, cluster, ns string, cfg *sidecarConfig) Finding {
		subject := cluster + "/" + ns
		v := judgeEgress(cfg, allow)
		if v.noOutbound {
			return Finding{Subject: subject, Status: Fail, Message: "istiod sends a sidecar in namespace " + ns + " no " + virtualOutbound + " listener"}
		}
		if len(v.passthrough) > 0 {
			who, hint := egressCulprit(ctx, env, cluster, ns)
			return Finding{Subject: subject, Status: Fail,
				Message: fmt.Sprintf("a sidecar in namespace %s lets traffic to any host out (%s): %s", ns, strings.Join(v.passthrough, "; "), who),
				Hint:    hint}
		}
		if len(v.missing) > 0 {
			return Finding{Subject: subject, Status: Fail,
				Message: fmt.Sprintf("a sidecar in namespace %s has no cluster for the allow-listed %s: traffic there is blocked", ns, strings.Join(v.missing, ", ")),
				Hint:    "kubectl asmfed apply recreates the ServiceEntry; a Sidecar in the namespace whose egress hosts leave the host out hides it too"}
		}
		msg := fmt.Sprintf("a sidecar in namespace %s gets REGISTRY_ONLY: %s falls through to %s", ns, virtualOutbound, blackHoleCluster)
		if v.blockAll > 0 {
			msg += fmt.Sprintf(", %d route tables end in %s", v.blockAll, blockAllVirtualHost)
		}
		if len(v.allowed) > 0 {
			msg += ", and every allow-listed destination has its cluster (" + strings.Join(v.allowed, ", ") + ")"
		}
		return Finding{Subject: subject, Status: OK, Message: msg}
	})
}

// egressVerdict is what a sidecar's configuration says of egress.
type egressVerdict struct {
	noOutbound bool
	// passthrough say where traffic to an unknown host is let out: filter chains and route
	// tables.
	passthrough []string
	// blockAll counts the route tables that end in block_all.
	blockAll int
	// allowed and missing are the allow-list's host:port with and without an outbound cluster.
	allowed, missing []string
}

// judgeEgress reads a sidecar's listeners, routes and clusters as istiod generated them. It
// does not evaluate Envoy's matching: it looks where istiod sends what nothing else matched.
func judgeEgress(cfg *sidecarConfig, allow []v1alpha1.EgressRule) egressVerdict {
	var v egressVerdict
	out, ok := cfg.Listeners[virtualOutbound]
	if !ok {
		v.noOutbound = true
		return v
	}
	for _, fc := range xds.Chains(out) {
		if c := xds.TCPProxyCluster(fc); c != "" && c != blackHoleCluster {
			v.passthrough = append(v.passthrough, fmt.Sprintf("%s chain %s sends to %s", virtualOutbound, chainName(fc), c))
		}
	}
	var open []string
	for _, name := range sortedKeys(cfg.Routes) {
		for _, vh := range cfg.Routes[name].GetVirtualHosts() {
			switch vh.GetName() {
			case allowAnyVirtualHost:
				open = append(open, name)
			case blockAllVirtualHost:
				v.blockAll++
			}
		}
	}
	if len(open) > 0 {
		v.passthrough = append(v.passthrough, fmt.Sprintf("route tables %s end in %s", strings.Join(open, ", "), allowAnyVirtualHost))
	}
	for _, rule := range allow {
		for _, h := range rule.Hosts {
			for _, p := range rule.Ports {
				hp := fmt.Sprintf("%s:%d", h, p.Number)
				if _, ok := cfg.Clusters[fmt.Sprintf("outbound|%d||%s", p.Number, h)]; ok {
					v.allowed = append(v.allowed, hp)
				} else {
					v.missing = append(v.missing, fmt.Sprintf("%s (ServiceEntry %s/%s)", hp, federation.IstioNamespace, egressServiceEntry(rule)))
				}
			}
		}
	}
	return v
}

// egressServiceEntry is the name of the ServiceEntry apply writes for an allow-list rule.
func egressServiceEntry(rule v1alpha1.EgressRule) string { return "asmfed-egress-" + rule.Name }

var sidecarsGVR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "sidecars"}

// egressCulprit names what most likely sets ALLOW_ANY for sidecars of namespace ns, in the order
// istiod applies it: a Sidecar without selector in the namespace, else one in the root namespace
// (istio-system), else the mesh config, from the file or from the ConfigMap istiod reads.
func egressCulprit(ctx context.Context, env *Env, cluster, ns string) (who, hint string) {
	dyn, err := dynamic.NewForConfig(env.Clusters[cluster])
	if err != nil {
		return err.Error(), ""
	}
	for _, in := range []string{ns, federation.IstioNamespace} {
		list, err := dyn.Resource(sidecarsGVR).Namespace(in).List(ctx, metav1.ListOptions{})
		if err != nil {
			return "list Sidecars in " + in + ": " + err.Error(), ""
		}
		var names []string
		for _, sc := range list.Items {
			spec, _ := sc.Object["spec"].(map[string]any)
			if _, selects := spec["workloadSelector"]; selects {
				continue
			}
			policy, _ := spec["outboundTrafficPolicy"].(map[string]any)
			if policy["mode"] == v1alpha1.EgressAllowAny {
				names = append(names, in+"/"+sc.GetName())
			}
		}
		if len(names) > 0 {
			slices.Sort(names)
			scope := "namespace " + ns
			if in == federation.IstioNamespace {
				scope = "every namespace without a Sidecar of its own (istio-system is the root namespace)"
			}
			return fmt.Sprintf("Sidecar %s sets outboundTrafficPolicy ALLOW_ANY for %s", strings.Join(names, ", "), scope),
				fmt.Sprintf("kubectl -n %s delete sidecar %s, or set its outboundTrafficPolicy.mode to REGISTRY_ONLY and list what it may reach in spec.mesh.egress.allow", in, strings.TrimPrefix(names[0], in+"/"))
		}
	}
	if env.Federation.Spec.Mesh.Egress.Mode == v1alpha1.EgressAllowAny {
		return "the file sets spec.mesh.egress.mode ALLOW_ANY",
			"set spec.mesh.egress.mode: REGISTRY_ONLY with the destinations workloads need in spec.mesh.egress.allow, then kubectl asmfed apply"
	}
	cm := "istio-" + env.Derived.Mesh.Revision
	if mode, err := meshOutboundMode(ctx, env, cluster, cm); err == nil && mode == v1alpha1.EgressAllowAny {
		return fmt.Sprintf("the mesh config in ConfigMap %s/%s sets outboundTrafficPolicy ALLOW_ANY, although the file says %s", federation.IstioNamespace, cm, env.Federation.Spec.Mesh.Egress.Mode),
			"kubectl asmfed apply rewrites the ConfigMap from the file; istiod reloads it by itself"
	}
	return "nothing verify can name sets ALLOW_ANY (a Sidecar with a workloadSelector does not apply to the synthetic sidecar)",
		"kubectl -n " + ns + " get sidecars, and istiod's mesh config: kubectl -n istio-system get configmap " + cm + " -o yaml"
}

// meshOutboundMode reads outboundTrafficPolicy.mode of the mesh config istiod reads (key mesh of
// the revision's ConfigMap); absent is ALLOW_ANY, Istio's default.
func meshOutboundMode(ctx context.Context, env *Env, cluster, name string) (string, error) {
	k, err := kubernetes.NewForConfig(env.Clusters[cluster])
	if err != nil {
		return "", err
	}
	cm, err := k.CoreV1().ConfigMaps(federation.IstioNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	var mesh struct {
		OutboundTrafficPolicy struct {
			Mode string `json:"mode"`
		} `json:"outboundTrafficPolicy"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["mesh"]), &mesh); err != nil {
		return "", err
	}
	if mesh.OutboundTrafficPolicy.Mode == "" {
		return v1alpha1.EgressAllowAny, nil
	}
	return mesh.OutboundTrafficPolicy.Mode, nil
}

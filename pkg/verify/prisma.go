package verify

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/vpcfw"
)

// needPrisma is met when the file asks for Prisma Cloud Defenders.
var needPrisma = Requirement{Name: "Prisma Cloud Defenders in the file", Unmet: func(env *Env) string {
	return unless(env.Federation.Spec.Addons.PrismaCloud != nil, "spec.addons.prismaCloud is not set")
}}

var serviceEntriesGVR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "serviceentries"}

// consoleProbeAddress stands for the Console on the internet (a documentation address): the
// firewall is asked whether the nodes may open a connection to an address outside the VPC.
var consoleProbeAddress = netip.MustParseAddr("203.0.113.10")

// defendersRunning checks, in every cluster, that the Defender DaemonSet runs one ready pod on
// every schedulable node: a node that is not cordoned and has no NoSchedule or NoExecute taint
// the DaemonSet's pods do not tolerate. The nodes are counted here rather than taken from the
// DaemonSet's status, which counts only the nodes its controller has already placed pods on.
func defendersRunning(ctx context.Context, env *Env) []Finding {
	return forEach(ctx, env, env.Derived.Clusters, func(ctx context.Context, cd federation.ClusterDesired) []Finding {
		var ds *federation.KubeObject
		for i, o := range cd.Objects {
			if o.Role == federation.RoleDaemonSet {
				ds = &cd.Objects[i]
			}
		}
		cfg, ok := env.Clusters[cd.Name]
		switch {
		case ds == nil:
			return []Finding{{Subject: cd.Name, Status: Skipped, Message: "the model has no Defender DaemonSet for " + cd.Name}}
		case !ok:
			return []Finding{{Subject: cd.Name, Status: Skipped, Message: cd.Name + " cannot be reached"}}
		}
		subject := cd.Name + "/" + ds.Namespace + "/" + ds.Name
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return []Finding{{Subject: subject, Status: Fail, Message: err.Error()}}
		}
		live, err := client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
		if err != nil {
			return []Finding{{Subject: subject, Status: Fail, Message: fmt.Sprintf("read DaemonSet %s/%s: %v", ds.Namespace, ds.Name, err),
				Hint: "kubectl asmfed apply creates it from spec.addons.prismaCloud.manifestFile"}}
		}
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return []Finding{{Subject: subject, Status: Fail, Message: "list nodes: " + err.Error()}}
		}
		pods, err := client.CoreV1().Pods(ds.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(live.Spec.Selector.MatchLabels).String()})
		if err != nil {
			return []Finding{{Subject: subject, Status: Fail, Message: "list the Defenders' pods: " + err.Error()}}
		}
		return []Finding{judgeDefenders(subject, live, nodes.Items, pods.Items)}
	})
}

// judgeDefenders compares the schedulable nodes with the nodes that run a ready pod of ds.
func judgeDefenders(subject string, ds *appsv1.DaemonSet, nodes []corev1.Node, pods []corev1.Pod) Finding {
	ready := map[string]bool{}
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Spec.NodeName == "" || !metav1.IsControlledBy(&p, ds) {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready[p.Spec.NodeName] = true
			}
		}
	}
	var want, missing []string
	for _, n := range nodes {
		if !schedulable(n, ds.Spec.Template.Spec.Tolerations) {
			continue
		}
		want = append(want, n.Name)
		if !ready[n.Name] {
			missing = append(missing, n.Name)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		return Finding{Subject: subject, Status: Fail,
			Message: fmt.Sprintf("%d of %d schedulable nodes run no ready Defender: %s", len(missing), len(want), strings.Join(missing, ", ")),
			Hint:    "kubectl -n " + ds.Namespace + " describe pods -l " + labels.SelectorFromSet(ds.Spec.Selector.MatchLabels).String() + " says why (image pull from the Prisma Cloud registry, the Console's certificates in the manifest's Secret, Pod Security)"}
	}
	if len(want) == 0 {
		return Finding{Subject: subject, Status: Warn, Message: "the cluster has no schedulable node for the Defenders: nothing is protected",
			Hint: "kubectl get nodes shows cordoned and not-ready nodes; the DaemonSet tolerates none of the taints of its nodes"}
	}
	return Finding{Subject: subject, Status: OK, Message: fmt.Sprintf("every one of the %d schedulable nodes runs a ready Defender", len(want))}
}

// daemonTolerations are the tolerations the DaemonSet controller adds to every pod it creates,
// beside the template's (NetworkUnavailable only for host-network pods, as Defenders are).
var daemonTolerations = []corev1.Toleration{
	{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
}

// schedulable reports whether a DaemonSet's pods with tolerations belong on a node: it is not
// cordoned, and they tolerate every NoSchedule and NoExecute taint of it, with the ones the
// DaemonSet controller adds.
func schedulable(n corev1.Node, tolerations []corev1.Toleration) bool {
	if n.Spec.Unschedulable {
		return false
	}
	tolerations = append(slices.Clone(tolerations), daemonTolerations...)
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		if !slices.ContainsFunc(tolerations, func(tol corev1.Toleration) bool { return tol.ToleratesTaint(klog.Background(), &t, false) }) {
			return false
		}
	}
	return true
}

// consoleAllowed checks that the Console address is an allowed destination: each cluster's live
// ServiceEntries in istio-system list it on 443, and where the network's firewall rules were
// read, no egress rule stops the nodes from reaching an address on the internet on 443 (the
// Defenders use the host network: the nodes' firewall, not the mesh, is their path).
func consoleAllowed(ctx context.Context, env *Env) []Finding {
	pc := env.Federation.Spec.Addons.PrismaCloud
	out := forEach(ctx, env, env.Derived.Clusters, func(ctx context.Context, cd federation.ClusterDesired) []Finding {
		cfg, ok := env.Clusters[cd.Name]
		if !ok {
			return []Finding{{Subject: cd.Name, Status: Skipped, Message: cd.Name + " cannot be reached"}}
		}
		subject := cd.Name + "/" + pc.ClusterAddress
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return []Finding{{Subject: subject, Status: Fail, Message: err.Error()}}
		}
		list, err := dyn.Resource(serviceEntriesGVR).Namespace(federation.IstioNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return []Finding{{Subject: subject, Status: Fail, Message: "list ServiceEntries in " + federation.IstioNamespace + ": " + err.Error(),
				Hint: "the ServiceEntry kind comes with Istio's CRDs: kubectl asmfed apply installs the control plane"}}
		}
		for _, se := range list.Items {
			hosts, _, _ := unstructured.NestedStringSlice(se.Object, "spec", "hosts")
			ports, _, _ := unstructured.NestedSlice(se.Object, "spec", "ports")
			on443 := slices.ContainsFunc(ports, func(p any) bool {
				m, _ := p.(map[string]any)
				n, _ := m["number"].(int64)
				return n == federation.PrismaConsolePort
			})
			if slices.Contains(hosts, pc.ClusterAddress) && on443 {
				return []Finding{{Subject: subject, Status: OK, Message: fmt.Sprintf("ServiceEntry %s/%s allows %s:%d", federation.IstioNamespace, se.GetName(), pc.ClusterAddress, federation.PrismaConsolePort)}}
			}
		}
		return []Finding{{Subject: subject, Status: Fail,
			Message: fmt.Sprintf("no ServiceEntry in %s allows %s:%d: the Console is not on the egress allow-list", federation.IstioNamespace, pc.ClusterAddress, federation.PrismaConsolePort),
			Hint:    "kubectl asmfed apply recreates " + federation.PrismaConsoleEntry}}
	})
	if env.Firewall == nil {
		return append(out, Finding{Subject: "firewall", Status: Skipped, Message: "the network's firewall rules were not read"})
	}
	for _, cd := range env.Derived.Clusters {
		v := vpcfw.Evaluate(env.Firewall, vpcfw.Connection{From: vpcfw.Instance{IP: nodeAddress(env.Derived, cd), Tags: cd.NodeTags}, To: vpcfw.Instance{IP: consoleProbeAddress},
			Protocol: "tcp", Port: federation.PrismaConsolePort}, vpcfw.Egress)
		f := Finding{Subject: cd.Name + "/firewall", Status: OK, Message: fmt.Sprintf("the nodes of %s may open tcp:%d to the internet: %s", cd.Name, federation.PrismaConsolePort, v.Reason)}
		if !v.Allowed {
			f.Status, f.Message = Fail, fmt.Sprintf("the nodes of %s cannot reach the Console on tcp:%d: %s", cd.Name, federation.PrismaConsolePort, v.Reason)
			f.Hint = "Defenders use the host network: allow egress on tcp:443 from the nodes' tags to the Console's addresses above " + v.Rule
		}
		out = append(out, f)
	}
	return out
}

// nodeAddress is an address of the cluster's node subnet, as the firewall sees a node.
func nodeAddress(d *federation.Desired, cd federation.ClusterDesired) netip.Addr {
	for _, sn := range d.Subnets {
		if sn.Address == cd.SubnetAddress {
			return nthAddr(sn.PrimaryRange, 2)
		}
	}
	return netip.IPv4Unspecified()
}

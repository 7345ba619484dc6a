package clusterlayer

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DaemonSetReady reports whether a DaemonSet's controller has seen its latest spec and every
// node it wants runs an updated, ready pod of it, and if not, how far it is.
func DaemonSetReady(u *unstructured.Unstructured) (bool, string) {
	generation := u.GetGeneration()
	observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	desired, _, _ := unstructured.NestedInt64(u.Object, "status", "desiredNumberScheduled")
	ready, _, _ := unstructured.NestedInt64(u.Object, "status", "numberReady")
	updated, _, _ := unstructured.NestedInt64(u.Object, "status", "updatedNumberScheduled")
	switch {
	case observed < generation:
		return false, "the DaemonSet controller has not seen its latest spec"
	case ready < desired || updated < desired:
		return false, fmt.Sprintf("%d of %d nodes run a ready pod (%d updated)", ready, desired, updated)
	}
	return true, fmt.Sprintf("%d of %d nodes run a ready pod", ready, desired)
}

// waitDaemonSet waits until an add-on's DaemonSet runs a ready pod on every node it wants;
// while it waits, and on timeout, the reason names the nodes whose pod is not ready and why.
func (a *applier) waitDaemonSet(ctx context.Context, o *object, progress func(string)) error {
	rf := o.ref
	return a.poll(ctx, "DaemonSet "+rf.Name+" in "+rf.Cluster+" to be ready", progress, func(ctx context.Context) (bool, string, error) {
		u, err := get(ctx, a.r.clients, rf)
		if err != nil {
			return false, "", err
		}
		done, why := DaemonSetReady(u)
		if done {
			return true, "", nil
		}
		pods, err := a.podsOf(ctx, rf, u)
		if err != nil {
			return false, "", err
		}
		desired, _, _ := unstructured.NestedInt64(u.Object, "status", "desiredNumberScheduled")
		if r := daemonPodsReason(pods, desired); r != "" {
			why += ": " + r
		}
		return false, why, nil
	})
}

// daemonPodsReason says, node by node, which of a DaemonSet's pods are not ready and why, and
// how many of the nodes it wants have no pod yet.
func daemonPodsReason(pods []corev1.Pod, desired int64) string {
	var reasons []string
	nodes := map[string]bool{}
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		node := p.Spec.NodeName
		if node == "" {
			node = "(not scheduled)"
		}
		nodes[node] = true
		if podReady(p) {
			continue
		}
		why := podsReason([]corev1.Pod{p})
		if strings.HasSuffix(why, "none ready yet") {
			why = fmt.Sprintf("pod %s is %s and not ready", p.Name, p.Status.Phase)
		}
		reasons = append(reasons, "node "+node+": "+why)
	}
	sort.Strings(reasons)
	if missing := desired - int64(len(nodes)); missing > 0 {
		reasons = append(reasons, fmt.Sprintf("%d of the nodes it wants have no pod yet", missing))
	}
	return strings.Join(reasons, "; ")
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

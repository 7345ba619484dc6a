package clusterlayer

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// maxNamedContents bounds how many objects a deleted namespace's warning names.
const maxNamedContents = 10

// madeByKubernetes are objects Kubernetes or Istio create in every namespace by themselves:
// deleting them with the namespace loses nothing.
var madeByKubernetes = map[string]bool{
	"ServiceAccount/default":       true,
	"ConfigMap/kube-root-ca.crt":   true,
	"ConfigMap/istio-ca-root-cert": true,
}

// derivedKinds are kinds whose objects are all derived from others (events, and the endpoints of
// Services, which the endpoints controller makes without an owner reference).
var derivedKinds = map[string]bool{"Event": true, "Endpoints": true}

// namespaceContents lists what a namespace the plan deletes holds that the federation does not
// own: deleting the namespace deletes it too. Objects Kubernetes made by itself, or that another
// object owns (a Deployment's ReplicaSets and pods), are left out: their owner is listed or goes
// with them. unread are the kinds that could not be listed.
func (r *ClusterPlan) namespaceContents(ctx context.Context, cluster, namespace string) (foreign []string, unread []string, err error) {
	kinds, err := r.namespacedKinds(cluster)
	if err != nil {
		return nil, nil, err
	}
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.ReadParallelism)
	for _, k := range kinds {
		g.Go(func() error {
			list, err := r.clients.Dynamic(cluster).Resource(k.gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
			mu.Lock()
			defer mu.Unlock()
			r.Calls[cluster]++
			if err != nil {
				unread = append(unread, k.gvr.Resource)
				return nil
			}
			for i := range list.Items {
				if name := k.name + "/" + list.Items[i].GetName(); !madeByKubernetes[name] && !derived(&list.Items[i]) && !owned(&list.Items[i], r.fed) {
					foreign = append(foreign, name)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	slices.Sort(foreign)
	slices.Sort(unread)
	return foreign, unread, nil
}

// namespacedKind is a kind objects of a namespace can be listed by.
type namespacedKind struct {
	gvr  schema.GroupVersionResource
	name string
}

// namespacedKinds are the kinds a namespace of the cluster can hold, from discovery, once per
// cluster and plan however many namespaces it deletes.
func (r *ClusterPlan) namespacedKinds(cluster string) ([]namespacedKind, error) {
	if kinds, ok := r.kinds[cluster]; ok {
		return kinds, nil
	}
	dc, err := discovery.NewDiscoveryClientForConfig(r.clients.Config(cluster))
	if err != nil {
		return nil, err
	}
	r.Calls[cluster]++
	lists, err := discovery.ServerPreferredNamespacedResources(dc)
	if err != nil && len(lists) == 0 {
		return nil, fmt.Errorf("cluster %s: discover the kinds a namespace holds: %w", cluster, err)
	}
	kinds := []namespacedKind{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, res := range l.APIResources {
			if strings.Contains(res.Name, "/") || !slices.Contains(res.Verbs, "list") || derivedKinds[res.Kind] {
				continue
			}
			kinds = append(kinds, namespacedKind{gv.WithResource(res.Name), res.Kind})
		}
	}
	if r.kinds == nil {
		r.kinds = map[string][]namespacedKind{}
	}
	r.kinds[cluster] = kinds
	return kinds, nil
}

// derived says whether another object owns u, and deleting its owner deletes it.
func derived(u *unstructured.Unstructured) bool { return len(u.GetOwnerReferences()) > 0 }

// protectedDeleteWarning says that a protected object, a namespace, goes with everything in it,
// naming what of it the federation does not own.
func (r *ClusterPlan) protectedDeleteWarning(ctx context.Context, addr plan.Address) (string, error) {
	l := r.live[addr]
	if l == nil || l.ref.Kind != "Namespace" {
		return fmt.Sprintf("%s will be deleted with everything in it (apply needs --allow-destroy)", addr), nil
	}
	foreign, unread, err := r.namespaceContents(ctx, l.ref.Cluster, l.ref.Name)
	if err != nil {
		return "", err
	}
	var held string
	switch n := len(foreign); {
	case n == 0:
		held = "it holds nothing the federation does not own"
	case n <= maxNamedContents:
		held = fmt.Sprintf("it holds what the federation does not own, deleted with it: %s", strings.Join(foreign, ", "))
	default:
		held = fmt.Sprintf("it holds %d objects the federation does not own, deleted with it: %s and %d more", n, strings.Join(foreign[:maxNamedContents], ", "), n-maxNamedContents)
	}
	if len(unread) > 0 {
		held += fmt.Sprintf(" (%s could not be listed)", strings.Join(unread, ", "))
	}
	return fmt.Sprintf("%s will be deleted with everything in it: %s (apply needs --allow-destroy)", addr, held), nil
}

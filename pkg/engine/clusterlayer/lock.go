package clusterlayer

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/pkg/engine/lock"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// Names of a cluster's lock.
const (
	// LeasePrefix starts the name of the Lease in istio-system that holds a federation's lock.
	LeasePrefix = "asmfed-lock-"
	// AnnotationLock carries the whole lock record on the Lease; the Lease's own fields say the
	// same for tools that read Leases.
	AnnotationLock = "asmfed.io/lock"
)

var (
	leaseGVR     = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}
	namespaceGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

// LockStores are the Leases that hold the federation's lock in each cluster the plan covers,
// sorted by cluster, so that every writer takes them in the same order.
func (r *ClusterPlan) LockStores() []lock.Store {
	var out []lock.Store
	for _, c := range slices.Sorted(maps.Keys(r.desiredByCluster)) {
		out = append(out, &leaseLock{client: r.clients.Dynamic(c), namespace: federation.IstioNamespace, cluster: c, fed: r.fed})
	}
	return out
}

// LeaseStore is the lock of federation fed in the cluster reached by cfg: a coordination.k8s.io/v1
// Lease istio-system/asmfed-lock-<fed>, written with its resourceVersion as precondition so that
// two writers can never both take it.
func LeaseStore(cfg *rest.Config, cluster, fed string) (lock.Store, error) {
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &leaseLock{client: client, namespace: federation.IstioNamespace, cluster: cluster, fed: fed}, nil
}

type leaseLock struct {
	client                  dynamic.Interface
	namespace, cluster, fed string
}

func (l *leaseLock) name() string { return LeasePrefix + l.fed }

func (l *leaseLock) Where() string {
	return fmt.Sprintf("Lease %s/%s of cluster %s", l.namespace, l.name(), l.cluster)
}

func (l *leaseLock) leases() dynamic.ResourceInterface {
	return l.client.Resource(leaseGVR).Namespace(l.namespace)
}

func (l *leaseLock) Read(ctx context.Context) (*lock.Record, string, error) {
	u, err := l.leases().Get(ctx, l.name(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	version := u.GetResourceVersion()
	if s, ok := u.GetAnnotations()[AnnotationLock]; ok && s != "" {
		rec, err := lock.Unmarshal(s)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", l.Where(), err)
		}
		return rec, version, nil
	}
	// A Lease written by something else: held by whatever its own fields say, while they say so.
	holder, _, _ := unstructured.NestedString(u.Object, "spec", "holderIdentity")
	if holder == "" {
		return nil, version, nil
	}
	rec := &lock.Record{Federation: l.fed, Holder: lock.Holder{User: holder}, ID: "lease:" + holder}
	secs, _, _ := unstructured.NestedInt64(u.Object, "spec", "leaseDurationSeconds")
	rec.TTLSeconds = secs
	for field, t := range map[string]*time.Time{"acquireTime": &rec.AcquiredAt, "renewTime": &rec.RenewedAt} {
		if s, _, _ := unstructured.NestedString(u.Object, "spec", field); s != "" {
			*t, _ = time.Parse(metav1.RFC3339Micro, s)
		}
	}
	return rec, version, nil
}

func (l *leaseLock) Write(ctx context.Context, rec *lock.Record, version string) error {
	var err error
	switch {
	case rec == nil && version == "":
		return nil
	case rec == nil:
		err = l.leases().Delete(ctx, l.name(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &version}})
		if apierrors.IsNotFound(err) {
			return nil
		}
	case version == "":
		_, err = l.leases().Create(ctx, l.lease(rec, ""), metav1.CreateOptions{FieldManager: FieldManager})
		if apierrors.IsNotFound(err) {
			// No istio-system yet: the lock is the first thing the federation puts in a cluster.
			if err = l.createNamespace(ctx); err == nil {
				_, err = l.leases().Create(ctx, l.lease(rec, ""), metav1.CreateOptions{FieldManager: FieldManager})
			}
		}
	default:
		_, err = l.leases().Update(ctx, l.lease(rec, version), metav1.UpdateOptions{FieldManager: FieldManager})
	}
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("%w: %w", lock.ErrConflict, err)
	}
	return err
}

func (l *leaseLock) lease(rec *lock.Record, version string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "coordination.k8s.io/v1",
		"kind":       "Lease",
		"metadata": map[string]any{
			"name":      l.name(),
			"namespace": l.namespace,
			"labels": map[string]any{
				federation.KubeLabelManagedBy:  federation.ManagedByValue,
				federation.KubeLabelFederation: l.fed,
			},
			"annotations": map[string]any{AnnotationLock: rec.Marshal()},
		},
		"spec": map[string]any{
			"holderIdentity":       rec.Holder.String() + " [" + rec.ID + "]",
			"leaseDurationSeconds": rec.TTLSeconds,
			"acquireTime":          rec.AcquiredAt.UTC().Format(metav1.RFC3339Micro),
			"renewTime":            rec.RenewedAt.UTC().Format(metav1.RFC3339Micro),
		},
	}}
	if version != "" {
		u.SetResourceVersion(version)
	}
	return u
}

// createNamespace makes the lock's namespace (istio-system) with the federation's ownership labels; the apply fills in
// the rest of it.
func (l *leaseLock) createNamespace(ctx context.Context) error {
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": l.namespace, "labels": map[string]any{
			federation.KubeLabelManagedBy: federation.ManagedByValue, federation.KubeLabelFederation: l.fed}},
	}}
	_, err := l.client.Resource(namespaceGVR).Create(ctx, ns, metav1.CreateOptions{FieldManager: FieldManager})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

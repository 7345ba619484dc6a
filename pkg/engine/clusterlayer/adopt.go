package clusterlayer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// keptManagers are the Kubernetes components whose fields an adoption leaves with them: they
// keep writing them (the token controller fills a token Secret, the controller manager annotates
// a Deployment's revision), so taking them over would only start a tug of war.
var keptManagers = []string{"kube-controller-manager", "kube-apiserver", "kube-scheduler", "kubelet"}

// adopt takes an object that exists without the federation's labels into its ownership. Before
// the tool's server-side apply, the fields every previous manager of the object owns (kubectl
// create, label and client-side apply; an install script's --server-side apply under its own
// field manager) are moved to the tool's apply entry and the previous entries removed, in one
// patch guarded by the object's resourceVersion. The apply that follows owns every field the
// object has: what the tool sets is set, and what the previous managers set and the tool does not
// is removed, so the object converges to the tool's apply as if the tool had created it. Fields of
// keptManagers and of subresources (status) are left as they are.
func (a *applier) adopt(ctx context.Context, c plan.Change, progress func(string)) error {
	o := a.r.desired[c.Address]
	if o == nil {
		return fmt.Errorf("no desired state")
	}
	cur, err := get(ctx, a.r.clients, o.ref)
	switch {
	case apierrors.IsNotFound(err):
		return a.write(ctx, c, progress) // deleted since the plan: created as the file wants it
	case err != nil:
		return readError(o.ref, err)
	}
	if !owned(cur, a.r.fed) {
		entries, taken, err := takeOverManagedFields(cur.GetManagedFields(), FieldManager, cur.GetAPIVersion(), time.Now())
		if err != nil {
			return fmt.Errorf("%s: read the field ownership of its previous managers: %w", c.Address, err)
		}
		if len(taken) > 0 {
			patch, err := json.Marshal([]map[string]any{
				{"op": "test", "path": "/metadata/resourceVersion", "value": cur.GetResourceVersion()},
				{"op": "replace", "path": "/metadata/managedFields", "value": entries},
			})
			if err != nil {
				return err
			}
			if _, err := a.resource(o.ref).Patch(ctx, o.ref.Name, types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
				return fmt.Errorf("%s: take field ownership from %s: %w", c.Address, strings.Join(taken, ", "), err)
			}
			progress("took the fields of " + strings.Join(taken, ", "))
		}
	}
	return a.write(ctx, c, progress)
}

// takeOverManagedFields returns the managed fields of an object with the field sets of every
// previous manager of the object itself (not of a subresource, not one of keptManagers) merged
// into manager's Apply entry, and those entries removed; taken names them, sorted.
func takeOverManagedFields(entries []metav1.ManagedFieldsEntry, manager, apiVersion string, now time.Time) ([]metav1.ManagedFieldsEntry, []string, error) {
	union := &fieldpath.Set{}
	var out []metav1.ManagedFieldsEntry
	var taken []string
	own := -1
	for _, e := range entries {
		previous := e.Subresource == "" && !slices.Contains(keptManagers, e.Manager) &&
			!(e.Manager == manager && e.Operation == metav1.ManagedFieldsOperationApply)
		if !previous {
			if e.Manager == manager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "" {
				own = len(out)
			}
			out = append(out, e)
			continue
		}
		if e.FieldsV1 != nil {
			raw, err := stringDataAsData(e.FieldsV1.Raw)
			if err != nil {
				return nil, nil, fmt.Errorf("manager %s: %w", e.Manager, err)
			}
			s := &fieldpath.Set{}
			if err := s.FromJSON(bytes.NewReader(raw)); err != nil {
				return nil, nil, fmt.Errorf("manager %s: %w", e.Manager, err)
			}
			union = union.Union(s)
		}
		if !slices.Contains(taken, e.Manager) {
			taken = append(taken, e.Manager)
		}
	}
	if len(taken) == 0 {
		return entries, nil, nil
	}
	slices.Sort(taken)
	if own >= 0 {
		s := &fieldpath.Set{}
		if f := out[own].FieldsV1; f != nil {
			if err := s.FromJSON(bytes.NewReader(f.Raw)); err != nil {
				return nil, nil, fmt.Errorf("manager %s: %w", manager, err)
			}
		}
		union = union.Union(s)
	} else {
		out = append(out, metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationApply,
			APIVersion: apiVersion, FieldsType: "FieldsV1", Time: &metav1.Time{Time: now.UTC().Truncate(time.Second)}})
		own = len(out) - 1
	}
	raw, err := union.ToJSON()
	if err != nil {
		return nil, nil, err
	}
	out[own].FieldsV1 = &metav1.FieldsV1{Raw: raw}
	return out, taken, nil
}

// stringDataAsData moves a Secret's stringData keys in a managed field set to data, where the API
// server stores them: istioctl create-remote-secret writes stringData, and the fields its
// manager owns must be found under data to be taken over.
func stringDataAsData(raw []byte) ([]byte, error) {
	var set map[string]any
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, err
	}
	sd, ok := set["f:stringData"].(map[string]any)
	if !ok {
		return raw, nil
	}
	data, _ := set["f:data"].(map[string]any)
	if data == nil {
		data = map[string]any{}
	}
	for k, v := range sd {
		data[k] = v
	}
	set["f:data"] = data
	delete(set, "f:stringData")
	return json.Marshal(set)
}

// foreignRevisions recognises, per cluster, the Istio control planes an install script left: an
// istiod Deployment in istio-system of another revision than the file's (asm-173-6 in the
// reference), which the federation does not own. It is not adopted (its objects are not in the
// file) nor deleted: the note says that the namespaces the file lists move to the file's revision
// with this apply, which is the canary upgrade, and how to remove the old one once nothing uses
// it.
func (r *ClusterPlan) foreignRevisions(ctx context.Context, revisions map[string]string) ([]string, error) {
	clusters := slices.Sorted(maps.Keys(revisions))
	// Every cluster is listed at once; the notes keep the clusters' order.
	byCluster := make([][]string, len(clusters))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.ReadParallelism)
	for i, cluster := range clusters {
		g.Go(func() error {
			list, err := r.clients.Dynamic(cluster).Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).
				Namespace(federation.IstioNamespace).List(gctx, metav1.ListOptions{LabelSelector: "app=istiod"})
			mu.Lock()
			r.Calls[cluster]++
			mu.Unlock()
			if err != nil {
				return fmt.Errorf("cluster %s: list the control planes in %s: %w", cluster, federation.IstioNamespace, err)
			}
			seen := map[string]bool{}
			for _, d := range list.Items {
				rev := d.GetLabels()[federation.LabelRevision]
				if rev == "" {
					rev = "default"
				}
				if rev == revisions[cluster] || owned(&d, r.fed) || seen[rev] {
					continue
				}
				seen[rev] = true
				byCluster[i] = append(byCluster[i], fmt.Sprintf("cluster %s runs Istio revision %s (Deployment %s/%s), installed without the tool: it is not adopted and not deleted; the namespaces the file lists move to revision %s with this apply (a canary upgrade), the others stay on %s; remove it once nothing uses it (istioctl uninstall --revision %s)",
					cluster, rev, federation.IstioNamespace, d.GetName(), revisions[cluster], rev, rev))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return slices.Concat(byCluster...), nil
}

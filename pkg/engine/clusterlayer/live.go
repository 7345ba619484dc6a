package clusterlayer

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/pager"

	"github.com/asmfed/kubectl-asmfed/internal/pemcert"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
	"github.com/asmfed/kubectl-asmfed/pkg/kube"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// Options tune Plan.
type Options struct {
	// PeerServers sets, per cluster, the API server address written into the remote secrets its
	// peers hold: the address the peers' pods reach (the private endpoint on GKE). It overrides
	// the file's peerAPIServer. A cluster in neither gets the address its rest.Config uses, with
	// a warning.
	PeerServers map[string]string
	// CARoot is the plug-in CA root; required when the federation's mesh.ca.mode is plugin
	// (load it with istio.LoadRootFiles from mesh.ca.rootCertFile and rootKeyFile).
	CARoot *istio.Root
	// RotateRemoteSecrets replaces every reader token Secret, which invalidates the old tokens,
	// and rewrites every remote secret with the new ones.
	RotateRemoteSecrets bool
	// RenewBefore re-issues a cacerts intermediate that expires within it. Default 30 days.
	RenewBefore time.Duration
	// IntermediateValidity is the lifetime of issued intermediates. Default 1 year.
	IntermediateValidity time.Duration
	// ReadParallelism bounds concurrent reads across all clusters. Default 32.
	ReadParallelism int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// IngressCredential is the gateway certificate read from the file's certFile and keyFile.
	IngressCredential *IngressCredential
	// Adopt takes desired objects that exist without the federation's labels into its
	// ownership when nothing that forces replacement differs (see adopt.go).
	Adopt bool
	// AddonSecrets are the data of the add-ons' Secrets (federation.RoleAddonSecret) as the files
	// hold them, by namespace/name: the same in every cluster.
	AddonSecrets map[string]map[string]any
}

// ClusterPlan is the cluster side's plan together with what it was made from, which Apply needs
// to carry it out.
type ClusterPlan struct {
	Plan *plan.Plan
	// Calls counts the API requests the plan made, per cluster.
	Calls map[string]int

	fed     string
	clients *kube.ClientSet
	opts    Options
	desired map[plan.Address]*object
	live    map[plan.Address]*object
	// retained are, per cluster, objects of a previous Istio revision kept because namespaces or
	// pods still use it.
	retained map[string][]plan.Address
	// inventories are the addresses each cluster's live inventory lists.
	inventories map[string][]plan.Address
	// desiredByCluster lists the desired addresses of each cluster.
	desiredByCluster map[string][]plan.Address
	// kinds are, per cluster, the kinds a namespace can hold, discovered when the plan deletes
	// a namespace there (namespaces.go).
	kinds map[string][]namespacedKind
}

// ErrNoClusters is returned when the federation has clusters no client configuration was given for.
var ErrNoClusters = errors.New("no client configuration")

// Plan reads the live objects the federation concerns in every cluster, in parallel, and diffs
// them against what the model wants: d is the compiled federation (federation.Compile), with the
// control plane attached when it is installed in cluster; clusters maps each cluster name to a
// configuration that reaches it (kube.ConfigForEndpoint, kube.ConfigsFromKubeconfig).
func Plan(ctx context.Context, clusters map[string]*rest.Config, d *federation.Desired, opts Options) (*ClusterPlan, error) {
	if opts.RenewBefore <= 0 {
		opts.RenewBefore = 30 * 24 * time.Hour
	}
	if opts.ReadParallelism <= 0 {
		opts.ReadParallelism = 32
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var missing []string
	for _, c := range d.Clusters {
		if clusters[c.Name] == nil {
			missing = append(missing, c.Name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("clusters %s: %w (pass a kubeconfig context or an endpoint for each)", strings.Join(missing, ", "), ErrNoClusters)
	}
	if d.Mesh.CA == v1alpha1.CAPlugin && opts.CARoot == nil {
		return nil, errors.New("mesh.ca.mode is plugin but no root was given; hint: create one with `kubectl asmfed ca init --out ca/` and set mesh.ca.rootCertFile and rootKeyFile")
	}
	clients, err := kube.NewClientSet(clusters)
	if err != nil {
		return nil, err
	}
	want, err := desiredObjects(d, opts.IngressCredential, opts.AddonSecrets)
	if err != nil {
		return nil, err
	}
	r := &ClusterPlan{fed: d.Federation, clients: clients, opts: opts, Calls: map[string]int{},
		desired: map[plan.Address]*object{}, live: map[plan.Address]*object{},
		inventories: map[string][]plan.Address{}, desiredByCluster: map[string][]plan.Address{}, retained: map[string][]plan.Address{}}
	for cluster, objs := range want {
		for _, o := range objs {
			r.desired[o.res.Address] = o
			r.desiredByCluster[cluster] = append(r.desiredByCluster[cluster], o.res.Address)
		}
	}
	if err := r.readLive(ctx, want); err != nil {
		return nil, err
	}
	var warnings []string
	// A peer that leaves could read the other peers' tokens (the reader role keeps Secrets, which
	// istiod needs): its own accounts are pruned, and every remaining token is replaced.
	var departed []string
	if departed = r.departedPeers(); len(departed) > 0 && !r.opts.RotateRemoteSecrets {
		r.opts.RotateRemoteSecrets = true
		warnings = append(warnings, fmt.Sprintf("%s left the federation and could read the reader tokens of its peers: every remaining reader token is replaced", strings.Join(departed, ", ")))
	}
	if err := r.complete(&warnings); err != nil {
		return nil, err
	}
	revisions := map[string]string{}
	for _, c := range d.Clusters {
		revisions[c.Name] = d.Mesh.Revision
		if c.Revision != "" {
			revisions[c.Name] = c.Revision
		}
	}
	if err := r.retainRevisionsInUse(ctx, revisions, &warnings); err != nil {
		return nil, err
	}
	if err := r.retainCRDsInUse(ctx, &warnings); err != nil {
		return nil, err
	}
	// Live objects are reduced to the shape of the now complete desired objects, once, a cluster
	// at a time on each processor.
	r.reduceLive()

	var dres, lres []plan.Resource
	for _, o := range r.desired {
		dres = append(dres, o.res)
	}
	for _, o := range r.live {
		lres = append(lres, o.res)
	}
	p, err := plan.Diff(dres, lres, plan.DiffOptions{Federation: d.Federation, Adopt: opts.Adopt})
	if err != nil {
		return nil, err
	}
	// The plan holds what it shows of the live fields, and its fingerprint what it needs of them.
	for _, l := range r.live {
		l.res.Fields = nil
	}
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Protected && c.Action == plan.Delete {
			w, err := r.protectedDeleteWarning(ctx, c.Address)
			if err != nil {
				return nil, err
			}
			warnings = append(warnings, w)
		}
		o := r.desired[c.Address]
		if o == nil {
			continue
		}
		switch {
		case o.role == federation.RoleReaderToken && c.Action == plan.Replace && opts.RotateRemoteSecrets:
			c.ActionReason = "remote secret rotation: a new token Secret replaces this one, which invalidates the old token"
		case o.role == federation.RoleReaderToken && c.Action == plan.Replace && len(departed) > 0:
			c.ActionReason = fmt.Sprintf("%s left and could read this token: a new token Secret replaces this one, which invalidates the old token", strings.Join(departed, ", "))
		case o.role == federation.RoleRemoteSecret && c.Action == plan.Update && r.pendingToken(o):
			c.ActionReason = fmt.Sprintf("carries the new token of %s's reader account for %s, issued during apply", o.remote.Target, o.remote.Holder)
		case o.role == federation.RoleCACerts && c.Action == plan.Update && c.Changed(fieldIntermediate):
			c.ActionReason = "a new intermediate is issued: " + fmt.Sprint(c.Before[fieldIntermediate])
		}
	}
	r.updateStaleInventories(p)
	p.Warnings = append(p.Warnings, warnings...)
	sort.Strings(p.Warnings)
	if opts.Adopt {
		notes, err := r.foreignRevisions(ctx, revisions)
		if err != nil {
			return nil, err
		}
		p.Notes = append(p.Notes, notes...)
	}
	r.Plan = p
	return r, nil
}

// updateStaleInventories turns an inventory that would be left as it is into an update when its
// live list names addresses the final list drops: objects this plan deletes, and objects gone or
// no longer wanted since. The plan compares an inventory by its labels only, so without this a
// plan whose changes to a cluster are deletions would never run the inventory's step, and the
// list would keep the deleted objects, left there by the union apply records first.
func (r *ClusterPlan) updateStaleInventories(p *plan.Plan) {
	changed := false
	for i := range p.Changes {
		c := &p.Changes[i]
		o := r.desired[c.Address]
		if o == nil || o.role != roleInventory || c.Action != plan.NoOp {
			continue
		}
		final := map[plan.Address]bool{}
		for _, a := range r.inventoryAddresses(o.ref.Cluster) {
			final[a] = true
		}
		var dropped []string
		for _, a := range r.inventories[o.ref.Cluster] {
			if !final[a] {
				dropped = append(dropped, string(a))
			}
		}
		if len(dropped) == 0 {
			continue
		}
		slices.Sort(dropped)
		c.Action = plan.Update
		c.ActionReason = "drops what the federation no longer has here: " + strings.Join(slices.Compact(dropped), ", ")
		changed = true
	}
	if changed {
		p.Recount()
	}
}

// inventoryAddresses are the addresses a cluster's inventory lists once an apply is done: the
// desired ones other than the inventory itself and the shared objects, which are a managed
// control plane's and never pruned, and those of a previous revision or a CRD kept in use.
func (r *ClusterPlan) inventoryAddresses(cluster string) []plan.Address {
	var out []plan.Address
	for _, addr := range r.desiredByCluster[cluster] {
		if o := r.desired[addr]; o.role != roleInventory && !o.shared {
			out = append(out, addr)
		}
	}
	// What is retained stays listed, so the apply after its last user is gone removes it.
	return append(out, r.retained[cluster]...)
}

// reduceLive turns every live object as read into the plan resource liveObject makes of it, and
// keeps of the object as read only what apply and the rest of the plan read (slim).
func (r *ClusterPlan) reduceLive() {
	byCluster := map[string][]*object{}
	for _, l := range r.live {
		byCluster[l.ref.Cluster] = append(byCluster[l.ref.Cluster], l)
	}
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, objs := range byCluster {
		g.Go(func() error {
			reduced := make([]*object, len(objs))
			for i, l := range objs {
				reduced[i] = r.liveObject(l.ref, l.u)
				reduced[i].u = slim(l.u, reduced[i].role)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, o := range reduced {
				r.live[o.res.Address] = o
			}
			return nil
		})
	}
	_ = g.Wait() // liveObject cannot fail
}

// slim is what a plan keeps of a live object once it is reduced: its identity, for apply's
// deletions (the UID precondition); a reader token's token, which says whether the remote
// secrets carrying it are known before apply; and a cacerts Secret whole, whose intermediate
// apply keeps when it is still good. The rest (a remote secret's kubeconfig, a policy's spec) is
// in the plan resource already, and holding it twice is most of a large plan's memory.
func slim(u *unstructured.Unstructured, role federation.ObjectRole) *unstructured.Unstructured {
	if role == federation.RoleCACerts {
		return u
	}
	out := &unstructured.Unstructured{Object: map[string]any{"apiVersion": u.GetAPIVersion(), "kind": u.GetKind()}}
	out.SetName(u.GetName())
	out.SetNamespace(u.GetNamespace())
	out.SetUID(u.GetUID())
	out.SetResourceVersion(u.GetResourceVersion())
	out.SetLabels(u.GetLabels())
	out.SetAnnotations(u.GetAnnotations())
	if role == federation.RoleReaderToken {
		if token, ok, _ := unstructured.NestedString(u.Object, "data", "token"); ok {
			out.Object["data"] = map[string]any{"token": token}
		}
	}
	return out
}

// readLive reads what the federation concerns in every cluster, the clusters in parallel: first
// the objects the model wants, then those the cluster's inventory lists beyond them (see resolve).
func (r *ClusterPlan) readLive(ctx context.Context, want map[string][]*object) error {
	rd := &liveReader{r: r, sem: make(chan struct{}, r.opts.ReadParallelism)}
	g, gctx := errgroup.WithContext(ctx)
	for cluster, objs := range want {
		g.Go(func() error {
			refs := map[plan.Address]ref{}
			var invRef ref
			for _, o := range objs {
				refs[o.res.Address] = o.ref
				if o.role == roleInventory {
					invRef = o.ref
				}
			}
			found, err := rd.resolve(gctx, cluster, refs, nil, true)
			if err != nil {
				return err
			}
			if inv := found[invRef.Address()]; inv != nil && owned(inv, r.fed) {
				addrs := parseInventory(inv)
				more := map[plan.Address]ref{}
				for _, a := range addrs {
					rf, err := parseAddress(a)
					if err != nil || rf.Cluster != cluster {
						continue // not an address this tool writes; never acted on
					}
					if _, read := refs[a]; !read {
						more[a] = rf
					}
				}
				// Only what is still the federation's matters of an address the model no longer
				// wants: it is deleted. Absent, or without the mark, it is left alone either way,
				// so the labelled lists say all there is to know.
				if found, err = rd.resolve(gctx, cluster, more, found, false); err != nil {
					return err
				}
				maps.Copy(refs, more)
				rd.mu.Lock()
				r.inventories[cluster] = addrs
				rd.mu.Unlock()
			}
			rd.mu.Lock()
			defer rd.mu.Unlock()
			for a, u := range found {
				if u.GetDeletionTimestamp() != nil {
					continue // going away: nothing to delete, and apply recreates it once it is gone
				}
				o := r.seenObject(refs[a], u)
				r.live[o.res.Address] = o
			}
			return nil
		})
	}
	return g.Wait()
}

// liveReader reads objects of one plan, counting its calls and bounding how many run at once
// across all clusters; each cluster's own client also keeps to its rate limit (kube.DefaultQPS).
type liveReader struct {
	r   *ClusterPlan
	sem chan struct{}
	mu  sync.Mutex
}

// listKey is a collection read in one call: a kind in a namespace, or a cluster-scoped kind.
type listKey struct{ kind, namespace string }

// resolve reads the objects refs name in one cluster and adds those that exist to found (a new
// map when nil): one list per kind and namespace, selected by the federation's ownership labels,
// then, with getMissing, a GET for each name its list did not return. The labels keep the lists
// to the federation's own objects however much else the namespace holds (Helm's release Secrets,
// other teams' CRDs), and the GETs still find what the model wants that exists without them: an
// object someone else made, which the plan reports as a conflict. A GET is for an object the plan
// creates or cannot touch: a converged federation costs one call per kind and namespace, however
// many objects it holds.
func (rd *liveReader) resolve(ctx context.Context, cluster string, refs map[plan.Address]ref, found map[plan.Address]*unstructured.Unstructured, getMissing bool) (map[plan.Address]*unstructured.Unstructured, error) {
	if found == nil {
		found = map[plan.Address]*unstructured.Unstructured{}
	}
	groups := map[listKey][]ref{}
	for _, rf := range refs {
		k := listKey{rf.Kind, rf.Namespace}
		groups[k] = append(groups[k], rf)
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for k, want := range groups {
		g.Go(func() error {
			listed, err := rd.list(gctx, cluster, k)
			if err != nil {
				return err
			}
			mg, mctx := errgroup.WithContext(gctx)
			for _, rf := range want {
				if u := listed[rf.Name]; u != nil {
					mu.Lock()
					found[rf.Address()] = u
					mu.Unlock()
					continue
				}
				if !getMissing {
					continue
				}
				mg.Go(func() error {
					u, err := rd.get(mctx, rf)
					if err != nil || u == nil {
						return err
					}
					mu.Lock()
					found[rf.Address()] = u
					mu.Unlock()
					return nil
				})
			}
			return mg.Wait()
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return found, nil
}

// call runs one request of a cluster within the read bound, and counts it.
func (rd *liveReader) call(ctx context.Context, cluster string, f func() error) error {
	select {
	case rd.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-rd.sem }()
	rd.mu.Lock()
	rd.r.Calls[cluster]++
	rd.mu.Unlock()
	return f()
}

// list reads a kind's objects in a namespace that carry the federation's ownership labels, by
// name, page by page. A kind the cluster does not serve (Istio's before its CRDs) has none.
func (rd *liveReader) list(ctx context.Context, cluster string, k listKey) (map[string]*unstructured.Unstructured, error) {
	kd := kinds[k.kind]
	gvk := schema.FromAPIVersionAndKind(kd.apiVersion, k.kind)
	selector := labels.SelectorFromSet(labels.Set{federation.KubeLabelManagedBy: federation.ManagedByValue, federation.KubeLabelFederation: rd.r.fed}).String()
	p := pager.New(func(ctx context.Context, opts metav1.ListOptions) (kruntime.Object, error) {
		var l *unstructured.UnstructuredList
		err := rd.call(ctx, cluster, func() error {
			var err error
			l, err = rd.r.clients.List(ctx, cluster, gvk, kd.gvr, k.namespace, opts)
			return err
		})
		return l, err
	})
	out := map[string]*unstructured.Unstructured{}
	err := p.EachListItem(ctx, metav1.ListOptions{LabelSelector: selector}, func(obj kruntime.Object) error {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			out[u.GetName()] = u
		}
		return nil
	})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		what := cluster + "/" + k.kind
		if k.namespace != "" {
			what = cluster + "/" + k.namespace + "/" + k.kind
		}
		return nil, fmt.Errorf("list %s objects labelled %s: %w%s", what, selector, err, accessHint(err))
	}
	return out, nil
}

// get reads one object; nil when it does not exist.
func (rd *liveReader) get(ctx context.Context, rf ref) (*unstructured.Unstructured, error) {
	var u *unstructured.Unstructured
	err := rd.call(ctx, rf.Cluster, func() error {
		var err error
		u, err = get(ctx, rd.r.clients, rf)
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, readError(rf, err)
	}
	return u, nil
}

func readError(rf ref, err error) error {
	return fmt.Errorf("read %s: %w%s", rf.Address(), err, accessHint(err))
}

// accessHint says what to do about a request the API server refused.
func accessHint(err error) string {
	switch {
	case apierrors.IsForbidden(err):
		return " (hint: the credentials used for this cluster lack permission; the tool needs cluster-admin to manage namespaces, RBAC and secrets)"
	case apierrors.IsUnauthorized(err):
		return " (hint: the credentials were rejected; refresh them or check the kubeconfig context)"
	}
	return ""
}

func parseInventory(u *unstructured.Unstructured) []plan.Address {
	data, _, _ := unstructured.NestedString(u.Object, "data", InventoryKey)
	var out []plan.Address
	for _, line := range strings.Split(data, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, plan.Address(line))
		}
	}
	return out
}

func inventoryData(addrs []plan.Address) string {
	s := make([]string, 0, len(addrs))
	seen := map[plan.Address]bool{}
	for _, a := range addrs {
		if !seen[a] {
			seen[a] = true
			s = append(s, string(a))
		}
	}
	sort.Strings(s)
	return strings.Join(s, "\n")
}

// seenObject is a live object as read, with its address, role and ownership but no fields yet:
// what the plan decides by before the desired objects are complete, when liveObject reduces it.
func (r *ClusterPlan) seenObject(rf ref, u *unstructured.Unstructured) *object {
	k := kinds[rf.Kind]
	o := &object{ref: rf, u: u, res: plan.Resource{
		Address:   rf.Address(),
		Kind:      rf.Kind,
		Group:     "cluster " + rf.Cluster,
		Owned:     owned(u, r.fed),
		OwnedBy:   ownedByOther(u, r.fed),
		Immutable: k.immutable,
		Sensitive: sensitiveFields(k),
	}}
	if rf.Namespace != "" {
		o.res.DependsOn = []plan.Address{plan.ObjectAddress(rf.Cluster, "", "Namespace", rf.Namespace)}
	}
	if rf.Kind == "Namespace" {
		o.res.Protected = true
	}
	if d := r.desired[o.res.Address]; d != nil {
		o.role = d.role
		if d.shared {
			// The managed control plane's own object: the tool sets its fields in it whoever
			// created it, and leaves the rest alone.
			o.res.Owned = true
		}
	}
	return o
}

// liveObject reduces a live object to a plan resource: the fields the desired object of the
// same address manages, or its ownership labels and top-level fields when nothing wants it.
func (r *ClusterPlan) liveObject(rf ref, u *unstructured.Unstructured) *object {
	o := r.seenObject(rf, u)
	d := r.desired[o.res.Address]
	if d == nil {
		o.res.Fields = deletedFields(u)
		return o
	}
	o.res.Fields = liveFields(u, d.res.Fields)
	switch d.role {
	case federation.RoleMeshConfig:
		want, _ := d.res.Fields[fieldMeshConfig].(map[string]any)
		o.res.Fields[fieldMeshConfig] = meshConfigOf(u, want)
	case federation.RoleReaderToken:
		o.res.Fields[fieldTokenGeneration] = generation(u.GetAnnotations())
	case federation.RoleRemoteSecret:
		// The same kubeconfig names the same server: parsing it, a YAML document for every
		// ordered pair of clusters, is left for the ones that differ.
		if key := d.remote.DataKey; sameData(u, d.u, key) {
			o.res.Fields[fieldServer] = d.res.Fields[fieldServer]
		} else {
			o.res.Fields[fieldServer] = kubeconfigServer(u, key)
		}
	case federation.RoleCACerts:
		data := secretData(u)
		if fp := rootFingerprintOf(data); fp != "" {
			o.res.Fields[fieldRootFingerprint] = fp
		}
		if r.opts.CARoot != nil {
			state := istio.CheckCACerts(data, r.opts.CARoot, r.opts.Now(), r.opts.RenewBefore)
			if state == "" {
				state = intermediateOK
			}
			o.res.Fields[fieldIntermediate] = state
		}
	}
	return o
}

// complete fills in the desired fields that depend on live state: token generations, remote
// secrets' kubeconfigs (from the peers' live tokens) and cacerts' root and intermediate.
func (r *ClusterPlan) complete(warnings *[]string) error {
	// Token generations first: remote secrets carry their target's.
	for addr, o := range r.desired {
		if o.role != federation.RoleReaderToken {
			continue
		}
		gen := 1
		if l := r.live[addr]; l != nil {
			gen = generation(l.u.GetAnnotations())
			if r.opts.RotateRemoteSecrets {
				gen++
			}
		}
		setAnnotation(o.u, annotationTokenGeneration, strconv.Itoa(gen))
		o.res.Fields = objectFields(o.u)
		o.res.Fields[fieldTokenGeneration] = gen
	}
	warned := map[string]bool{}
	kcs := &kubeconfigs{}
	var fill errgroup.Group
	fill.SetLimit(runtime.GOMAXPROCS(0))
	for _, o := range r.desired {
		switch o.role {
		case federation.RoleRemoteSecret:
			rs := o.remote
			tokenAddr := rs.TokenAddress()
			tok := r.desired[tokenAddr]
			setAnnotation(o.u, annotationTokenGeneration, tok.u.GetAnnotations()[annotationTokenGeneration])
			server, fromConfig := r.peerServer(rs)
			if fromConfig && !warned[rs.Target] {
				warned[rs.Target] = true
				*warnings = append(*warnings, fmt.Sprintf("remote secrets for %s point at %s, the address this tool reaches it at: set peerAPIServer (or the caller's PeerServers) to the address its peers' pods reach", rs.Target, server))
			}
			pending := r.pendingToken(o)
			// A kubeconfig for every ordered pair of clusters, each written from its target's one
			// document (kubeconfigs) and encoded, shared among the processors.
			fill.Go(func() error {
				data := pendingData
				if !pending {
					token, ca := tokenOf(r.live[tokenAddr].u)
					if len(ca) == 0 {
						ca = caData(r.clients, rs.Target)
					}
					kc, err := kcs.write(rs.DataKey, server, ca, token)
					if err != nil {
						return err
					}
					data = base64.StdEncoding.EncodeToString(kc)
				}
				if err := unstructured.SetNestedField(o.u.Object, map[string]any{rs.DataKey: data}, "data"); err != nil {
					return err
				}
				o.res.Fields = objectFields(o.u)
				o.res.Fields[fieldServer] = server
				return nil
			})
		case federation.RoleCACerts:
			o.res.Fields[fieldRootFingerprint] = r.opts.CARoot.Fingerprint()
			o.res.Fields[fieldIntermediate] = intermediateOK
		}
	}
	return fill.Wait()
}

// departedPeers names the peers whose reader accounts the federation applied, still owns and no
// longer wants: clusters that left the federation.
func (r *ClusterPlan) departedPeers() []string {
	seen := map[string]bool{}
	for addr, l := range r.live {
		rf := l.ref
		if r.desired[addr] != nil || !l.res.Owned || rf.Kind != "ServiceAccount" || rf.Namespace != federation.IstioNamespace {
			continue
		}
		if holder, ok := strings.CutPrefix(rf.Name, federation.ReaderAccount("")); ok && holder != "" {
			seen[holder] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// pendingData stands in for a remote secret's kubeconfig whose token is issued during apply.
const pendingData = "(known after apply)"

// pendingToken reports whether a remote secret's token is unknown until apply: its pair's token
// Secret is missing, not filled in yet, or about to be replaced.
func (r *ClusterPlan) pendingToken(o *object) bool {
	l := r.live[o.remote.TokenAddress()]
	if l == nil || !l.res.Owned || r.opts.RotateRemoteSecrets {
		return true
	}
	token, _ := tokenOf(l.u)
	return token == ""
}

// peerServer is the address a remote secret points at, and whether it fell back to the one this
// tool uses.
func (r *ClusterPlan) peerServer(rs *federation.RemoteSecret) (string, bool) {
	if s := r.opts.PeerServers[rs.Target]; s != "" {
		return withScheme(s), false
	}
	if !rs.ServerFromEndpoint && rs.Server != "" {
		return withScheme(rs.Server), false
	}
	return r.clients.Config(rs.Target).Host, true
}

func withScheme(s string) string {
	if strings.Contains(s, "://") {
		return s
	}
	return "https://" + s
}

func setAnnotation(u *unstructured.Unstructured, k, v string) {
	a := u.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[k] = v
	u.SetAnnotations(a)
}

// secretData decodes a Secret's data.
func secretData(u *unstructured.Unstructured) map[string][]byte {
	raw, _, _ := unstructured.NestedStringMap(u.Object, "data")
	out := make(map[string][]byte, len(raw))
	for k, v := range raw {
		b, err := base64.StdEncoding.DecodeString(v)
		if err == nil {
			out[k] = b
		}
	}
	return out
}

func tokenOf(u *unstructured.Unstructured) (token string, ca []byte) {
	d := secretData(u)
	return string(d["token"]), d["ca.crt"]
}

func rootFingerprintOf(data map[string][]byte) string {
	c, err := pemcert.First(data[istio.KeyRootCert])
	if err != nil {
		return ""
	}
	return istio.Fingerprint(c)
}

// sameData reports whether two Secrets hold the same encoded value under key.
func sameData(a, b *unstructured.Unstructured, key string) bool {
	va, okA, _ := unstructured.NestedString(a.Object, "data", key)
	vb, okB, _ := unstructured.NestedString(b.Object, "data", key)
	return okA && okB && va == vb
}

// kubeconfigServer reads the server of the kubeconfig under key of a remote secret.
func kubeconfigServer(u *unstructured.Unstructured, key string) any {
	data := secretData(u)[key]
	if len(data) == 0 {
		return nil
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return "(not a kubeconfig)"
	}
	if c, ok := cfg.Contexts[cfg.CurrentContext]; ok {
		if cl, ok := cfg.Clusters[c.Cluster]; ok {
			return cl.Server
		}
	}
	return nil
}

func get(ctx context.Context, cs *kube.ClientSet, rf ref) (*unstructured.Unstructured, error) {
	k := kinds[rf.Kind]
	ri := cs.Dynamic(rf.Cluster).Resource(k.gvr)
	if k.namespaced {
		return ri.Namespace(rf.Namespace).Get(ctx, rf.Name, metav1.GetOptions{})
	}
	return ri.Get(ctx, rf.Name, metav1.GetOptions{})
}

// caData is the CA a cluster's configuration trusts, for remote secrets when the token Secret
// has no ca.crt.
func caData(cs *kube.ClientSet, cluster string) []byte {
	cfg := cs.Config(cluster)
	if cfg == nil {
		return nil
	}
	if len(cfg.CAData) > 0 {
		return cfg.CAData
	}
	if cfg.CAFile != "" {
		if data, err := os.ReadFile(cfg.CAFile); err == nil {
			return data
		}
	}
	return nil
}

// retainRevisionsInUse keeps the control plane of a previous revision while anything still uses
// it: a new revision (revisions, per cluster) is installed beside the old one, namespaces move to
// it by label, and pods move when they restart. Until then the old revision's objects are
// neither deleted nor shown as deletions; a warning says what still uses it.
func (r *ClusterPlan) retainRevisionsInUse(ctx context.Context, revisions map[string]string, warnings *[]string) error {
	type key struct{ cluster, rev string }
	users := map[key]string{}
	for addr, l := range r.live {
		if _, wanted := r.desired[addr]; wanted || l.role == roleInventory || !owned(l.u, r.fed) {
			continue
		}
		rev := l.u.GetLabels()[federation.LabelRevision]
		revision := revisions[l.ref.Cluster]
		if rev == "" || rev == revision || l.ref.Kind == "Namespace" {
			continue
		}
		k := key{l.ref.Cluster, rev}
		use, seen := users[k]
		if !seen {
			var err error
			if use, err = r.revisionUsers(ctx, k.cluster, k.rev); err != nil {
				return err
			}
			users[k] = use
			if use != "" {
				*warnings = append(*warnings, fmt.Sprintf("revision %s stays in %s while %s use it; the apply after they move to %s removes it", rev, k.cluster, use, revision))
			}
		}
		if use != "" {
			delete(r.live, addr)
			r.retained[k.cluster] = append(r.retained[k.cluster], addr)
		}
	}
	for c := range r.retained {
		sort.Slice(r.retained[c], func(i, j int) bool { return r.retained[c][i] < r.retained[c][j] })
	}
	return nil
}

// revisionUsers says what in a cluster still uses a revision: namespaces labelled with it that
// the federation does not move (it moves its own in this apply), and pods injected by it.
func (r *ClusterPlan) revisionUsers(ctx context.Context, cluster, rev string) (string, error) {
	sel := metav1.ListOptions{LabelSelector: federation.LabelRevision + "=" + rev}
	dyn := r.clients.Dynamic(cluster)
	r.Calls[cluster] += 2
	nss, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).List(ctx, sel)
	if err != nil {
		return "", fmt.Errorf("cluster %s: list namespaces of revision %s: %w", cluster, rev, err)
	}
	var names []string
	for _, ns := range nss.Items {
		if d, ok := r.desired[plan.ObjectAddress(cluster, "", "Namespace", ns.GetName())]; ok && d.u.GetLabels()[federation.LabelRevision] != rev {
			continue // the federation moves it to the new revision now
		}
		names = append(names, ns.GetName())
	}
	pods, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).List(ctx, sel)
	if err != nil {
		return "", fmt.Errorf("cluster %s: list pods of revision %s: %w", cluster, rev, err)
	}
	var parts []string
	if len(names) > 0 {
		sort.Strings(names)
		parts = append(parts, "namespaces "+strings.Join(names, ", "))
	}
	if n := len(pods.Items); n > 0 {
		parts = append(parts, fmt.Sprintf("%d pods (restart them to move their sidecars)", n))
	}
	return strings.Join(parts, " and "), nil
}

// retainCRDsInUse keeps every CustomResourceDefinition the federation would prune while custom
// resources of it exist that the federation does not own: deleting a CRD deletes every object of
// its kind, application teams' VirtualServices included. Such a CRD is neither deleted nor shown
// as a deletion; it stays in the inventory, and a warning names it with how many foreign objects
// hold it. The apply after they are gone removes it.
func (r *ClusterPlan) retainCRDsInUse(ctx context.Context, warnings *[]string) error {
	for _, addr := range slices.Sorted(maps.Keys(r.live)) {
		l := r.live[addr]
		if _, wanted := r.desired[addr]; wanted || l.ref.Kind != "CustomResourceDefinition" || !owned(l.u, r.fed) {
			continue
		}
		gvr, ok := servedResource(l.u)
		if !ok {
			continue
		}
		r.Calls[l.ref.Cluster]++
		list, err := r.clients.Dynamic(l.ref.Cluster).Resource(gvr).List(ctx, metav1.ListOptions{})
		if apierrors.IsNotFound(err) {
			continue // no version served: nothing of it can exist
		}
		if err != nil {
			return fmt.Errorf("cluster %s: list %s to see whether CustomResourceDefinition %s is in use: %w", l.ref.Cluster, gvr.Resource, l.ref.Name, err)
		}
		foreign := 0
		for i := range list.Items {
			if !owned(&list.Items[i], r.fed) {
				foreign++
			}
		}
		if foreign == 0 {
			continue
		}
		*warnings = append(*warnings, fmt.Sprintf("CustomResourceDefinition %s stays in %s: %d %s the federation does not own would be deleted with it; the apply after they are gone removes it",
			l.ref.Name, l.ref.Cluster, foreign, gvr.Resource))
		delete(r.live, addr)
		r.retained[l.ref.Cluster] = append(r.retained[l.ref.Cluster], addr)
	}
	for c := range r.retained {
		slices.Sort(r.retained[c])
	}
	return nil
}

// servedResource is the group, a served version and the plural of a CustomResourceDefinition.
func servedResource(u *unstructured.Unstructured) (schema.GroupVersionResource, bool) {
	group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(u.Object, "spec", "names", "plural")
	versions, _, _ := unstructured.NestedSlice(u.Object, "spec", "versions")
	for _, v := range versions {
		m, _ := v.(map[string]any)
		if served, _ := m["served"].(bool); served && plural != "" {
			name, _ := m["name"].(string)
			return schema.GroupVersionResource{Group: group, Version: name, Resource: plural}, true
		}
	}
	return schema.GroupVersionResource{}, false
}

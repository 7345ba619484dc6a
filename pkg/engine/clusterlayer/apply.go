package clusterlayer

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Parallelism bounds concurrent changes across clusters. Default 10.
	Parallelism int
	// AllowDestroy permits deleting protected objects (namespaces, with everything in them).
	AllowDestroy bool
	// ReadyTimeout bounds each readiness wait (a namespace becoming Active, a token being filled
	// in, a replaced object being gone). Default 2 minutes.
	ReadyTimeout time.Duration
	// PollInterval between readiness checks. Default 200ms.
	PollInterval time.Duration
	// OnEvent receives progress of each change.
	OnEvent func(plan.Event)
	// WaitWorkloads waits for installed Deployments (istiod, the gateways) to have an available
	// replica, and add-ons' DaemonSets a ready pod on every node they want, and on timeout says
	// why from their pods: image pull, crash loop, unschedulable.
	WaitWorkloads bool
}

// Apply carries out a plan made by Plan: server-side apply under the asmfed field manager, in
// dependency order across clusters, waiting for readiness where later steps need it. Before
// changing a cluster it records in the cluster's inventory everything the plan will create, so
// that an interrupted apply leaves nothing unlisted; the inventory's own step, last in its
// cluster, writes the final list. A plan with conflicts, or deleting protected objects without
// AllowDestroy, is refused before anything changes. Step failures are in the report.
func Apply(ctx context.Context, r *ClusterPlan, opts ApplyOptions) (*plan.Report, error) {
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 2 * time.Minute
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	if err := r.Plan.CheckApplicable(opts.AllowDestroy); err != nil {
		return nil, err
	}
	a := &applier{r: r, opts: opts}
	if err := a.recordInventories(ctx); err != nil {
		return nil, err
	}
	steps := plan.StepsFor(r.Plan, func(c plan.Change) func(context.Context, func(string)) error {
		// What the API server and pods say may quote an image path with its registry token.
		return func(ctx context.Context, progress func(string)) error {
			return redactedError(a.change(ctx, c, func(s string) { progress(federation.RedactRegistryTokens(s)) }))
		}
	})
	// The inventory's final write also waits for the deletions in its cluster.
	deletes := map[string][]plan.Address{}
	for _, c := range r.Plan.Changes {
		if c.Action == plan.Delete {
			if rf, err := parseAddress(c.Address); err == nil {
				deletes[rf.Cluster] = append(deletes[rf.Cluster], c.Address)
			}
		}
	}
	for i := range steps {
		if o := r.desired[steps[i].Address]; o != nil && o.role == roleInventory {
			steps[i].DependsOn = append(steps[i].DependsOn, deletes[o.ref.Cluster]...)
		}
	}
	return plan.Execute(ctx, steps, plan.ExecOptions{Parallelism: opts.Parallelism, OnEvent: opts.OnEvent})
}

type applier struct {
	r    *ClusterPlan
	opts ApplyOptions
}

// recordInventories writes, in every cluster the plan changes, the union of the live inventory
// and the desired addresses, creating istio-system first when needed.
func (a *applier) recordInventories(ctx context.Context) error {
	acting := map[string]bool{}
	for _, c := range a.r.Plan.Changes {
		if c.Action != plan.NoOp {
			if rf, err := parseAddress(c.Address); err == nil {
				acting[rf.Cluster] = true
			}
		}
	}
	for _, cluster := range slices.Sorted(maps.Keys(acting)) {
		nsAddr := plan.ObjectAddress(cluster, "", "Namespace", federation.IstioNamespace)
		if a.r.live[nsAddr] == nil {
			if err := a.apply(ctx, a.r.desired[nsAddr].u, cluster); err != nil {
				return fmt.Errorf("create %s to hold the inventory: %w", nsAddr, err)
			}
		}
		inv := a.r.desired[plan.ObjectAddress(cluster, federation.IstioNamespace, "ConfigMap", inventoryName(a.r.fed))]
		u := inv.u.DeepCopy()
		addrs := append(append([]plan.Address{}, a.r.inventories[cluster]...), a.r.inventoryAddresses(cluster)...)
		if err := unstructured.SetNestedField(u.Object, map[string]any{InventoryKey: inventoryData(addrs)}, "data"); err != nil {
			return err
		}
		if err := a.apply(ctx, u, cluster); err != nil {
			return fmt.Errorf("record the inventory %s: %w", inv.res.Address, err)
		}
	}
	return nil
}

func (a *applier) change(ctx context.Context, c plan.Change, progress func(string)) error {
	switch c.Action {
	case plan.Create, plan.Update:
		return a.write(ctx, c, progress)
	case plan.Adopt:
		return a.adopt(ctx, c, progress)
	case plan.Replace:
		if err := a.remove(ctx, c.Address, progress, true); err != nil {
			return err
		}
		return a.write(ctx, c, progress)
	case plan.Delete:
		return a.remove(ctx, c.Address, progress, false)
	}
	return nil
}

func (a *applier) resource(rf ref) dynamic.ResourceInterface {
	k := kinds[rf.Kind]
	ri := a.r.clients.Dynamic(rf.Cluster).Resource(k.gvr)
	if k.namespaced {
		return ri.Namespace(rf.Namespace)
	}
	return ri
}

func (a *applier) apply(ctx context.Context, u *unstructured.Unstructured, cluster string) error {
	rf := ref{Cluster: cluster, Namespace: u.GetNamespace(), Kind: u.GetKind(), Name: u.GetName()}
	_, err := a.resource(rf).Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	return err
}

// write server-side applies the desired object, with the parts only known at apply time, then
// waits for it to be usable.
func (a *applier) write(ctx context.Context, c plan.Change, progress func(string)) error {
	o := a.r.desired[c.Address]
	if o == nil {
		return errors.New("no desired state")
	}
	// An Istio kind whose CRD the federation does not install waits for the control plane that
	// does: a managed control plane installs Istio's CRDs once the fleet has provisioned it.
	if crd, ok := crdOf[o.ref.Kind]; ok {
		crdRef := ref{Cluster: o.ref.Cluster, Kind: "CustomResourceDefinition", Name: crd}
		if a.r.desired[crdRef.Address()] == nil {
			if err := a.waitCRD(ctx, crdRef, progress); err != nil {
				return err
			}
		}
	}
	// Ownership is checked again: an object created since the plan without the mark is left alone.
	// An object still being deleted is waited for, then created anew.
	cur, err := get(ctx, a.r.clients, o.ref)
	switch {
	case err == nil && cur.GetDeletionTimestamp() != nil:
		if err := a.waitGone(ctx, o.ref, cur.GetUID(), progress); err != nil {
			return err
		}
		cur = nil
	case err == nil && o.shared:
		// A managed control plane's own object: written into whoever created it.
	case err == nil && !owned(cur, a.r.fed) && c.Action != plan.Adopt:
		return fmt.Errorf("%s exists without this federation's ownership labels (created since the plan); it was not changed", c.Address)
	case err != nil && !apierrors.IsNotFound(err):
		return readError(o.ref, err)
	case err != nil:
		cur = nil
	}
	u := o.u.DeepCopy()
	switch o.role {
	case federation.RoleMeshConfig:
		if err := a.fillMeshConfig(o, cur, u); err != nil {
			return err
		}
	case federation.RoleRemoteSecret:
		if err := a.fillRemoteSecret(ctx, o, u, progress); err != nil {
			return err
		}
	case federation.RoleCACerts:
		if err := a.fillCACerts(c, o, u, progress); err != nil {
			return err
		}
	case roleInventory:
		if err := unstructured.SetNestedField(u.Object, map[string]any{InventoryKey: inventoryData(a.r.inventoryAddresses(o.ref.Cluster))}, "data"); err != nil {
			return err
		}
	}
	if err := a.apply(ctx, u, o.ref.Cluster); err != nil {
		return fmt.Errorf("server-side apply: %w", err)
	}
	switch o.role {
	case federation.RoleCRD:
		return a.waitCRD(ctx, o.ref, progress)
	case federation.RoleWorkload:
		if a.opts.WaitWorkloads {
			return a.waitWorkload(ctx, o, progress)
		}
	case federation.RoleDaemonSet:
		if a.opts.WaitWorkloads {
			return a.waitDaemonSet(ctx, o, progress)
		}
	case federation.RoleNamespace:
		return a.waitNamespace(ctx, o.ref, progress)
	case federation.RoleReaderToken:
		_, err := a.waitToken(ctx, o.ref, progress)
		return err
	}
	return nil
}

// fillMeshConfig merges the keys the tool sets into the mesh config the ConfigMap holds now, read
// just before the write, so that what others set there since the plan is kept.
func (a *applier) fillMeshConfig(o *object, cur, u *unstructured.Unstructured) error {
	want, _ := o.res.Fields[fieldMeshConfig].(map[string]any)
	text := ""
	if cur != nil {
		text, _, _ = unstructured.NestedString(cur.Object, "data", federation.MeshConfigKey)
	}
	merged, err := mergeMeshConfig(text, want)
	if err != nil {
		return fmt.Errorf("%s: data.%s: %w; the tool only adds its keys to a valid mesh config", o.res.Address, federation.MeshConfigKey, err)
	}
	return unstructured.SetNestedField(u.Object, merged, "data", federation.MeshConfigKey)
}

// fillRemoteSecret writes the kubeconfig with the current token of the holder's reader account in
// the target, waiting for the target's token controller to fill it in.
func (a *applier) fillRemoteSecret(ctx context.Context, o *object, u *unstructured.Unstructured, progress func(string)) error {
	rs := o.remote
	tokRef := ref{Cluster: rs.Target, Namespace: rs.Namespace, Kind: "Secret", Name: rs.TokenSecret}
	tok, err := a.waitToken(ctx, tokRef, progress)
	if err != nil {
		return err
	}
	token, ca := tokenOf(tok)
	if len(ca) == 0 {
		ca = caData(a.r.clients, rs.Target)
	}
	server, _ := a.r.peerServer(rs)
	kc, err := remoteKubeconfig(rs.DataKey, server, ca, token)
	if err != nil {
		return err
	}
	setAnnotation(u, annotationTokenGeneration, tok.GetAnnotations()[annotationTokenGeneration])
	return unstructured.SetNestedField(u.Object, map[string]any{rs.DataKey: base64.StdEncoding.EncodeToString(kc)}, "data")
}

// fillCACerts keeps a live intermediate that is still good, and issues a new one otherwise.
func (a *applier) fillCACerts(c plan.Change, o *object, u *unstructured.Unstructured, progress func(string)) error {
	root := a.r.opts.CARoot
	var data map[string][]byte
	if l := a.r.live[c.Address]; l != nil && (c.Action == plan.Update || c.Action == plan.Adopt) && !c.Changed(fieldIntermediate) && !c.Changed(fieldRootFingerprint) {
		data = secretData(l.u)
	} else {
		progress("issuing an intermediate CA signed by root " + root.Fingerprint())
		var err error
		data, err = root.IssueIntermediate(o.ref.Cluster, istio.IntermediateOptions{Validity: a.r.opts.IntermediateValidity, Now: a.r.opts.Now})
		if err != nil {
			return err
		}
	}
	enc := map[string]any{}
	for k, v := range data {
		enc[k] = base64.StdEncoding.EncodeToString(v)
	}
	return unstructured.SetNestedField(u.Object, enc, "data")
}

// remove deletes the live object the plan saw (a UID precondition keeps a replacement made since
// from being deleted); wait makes it return only once the object is gone.
func (a *applier) remove(ctx context.Context, addr plan.Address, progress func(string), wait bool) error {
	l := a.r.live[addr]
	if l == nil {
		return nil
	}
	uid := l.u.GetUID()
	policy := metav1.DeletePropagationBackground
	err := a.resource(l.ref).Delete(ctx, l.ref.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &policy})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		return fmt.Errorf("%s was replaced since the plan was made; make the plan again", addr)
	case err != nil:
		return fmt.Errorf("delete: %w", err)
	}
	if !wait {
		return nil
	}
	return a.waitGone(ctx, l.ref, uid, progress)
}

// waitGone waits until the object with uid is deleted, reporting what holds it.
func (a *applier) waitGone(ctx context.Context, rf ref, uid types.UID, progress func(string)) error {
	return a.poll(ctx, "the deletion of "+string(rf.Address())+" to finish", progress, func(ctx context.Context) (bool, string, error) {
		cur, err := get(ctx, a.r.clients, rf)
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, "", err
		}
		if cur.GetUID() != uid {
			return true, "", nil
		}
		return false, deletionState(cur), nil
	})
}

// deletionState says what keeps an object that is being deleted: its finalizers and, for a
// namespace, the conditions the namespace controller reports (content or finalizers remaining).
func deletionState(u *unstructured.Unstructured) string {
	parts := []string{"it is being deleted"}
	if f := u.GetFinalizers(); len(f) > 0 {
		parts = append(parts, "finalizers "+strings.Join(f, ", "))
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["status"] == "True" {
			if msg, _ := m["message"].(string); msg != "" {
				parts = append(parts, msg)
			}
		}
	}
	return strings.Join(parts, "; ")
}

func (a *applier) waitNamespace(ctx context.Context, rf ref, progress func(string)) error {
	return a.poll(ctx, "namespace "+rf.Name+" in "+rf.Cluster+" to be Active", progress, func(ctx context.Context) (bool, string, error) {
		u, err := get(ctx, a.r.clients, rf)
		if apierrors.IsNotFound(err) {
			return false, "not found", nil
		}
		if err != nil {
			return false, "", err
		}
		phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		if phase == "Active" {
			return true, "", nil
		}
		if u.GetDeletionTimestamp() != nil {
			return false, "it is terminating (deleted at " + u.GetDeletionTimestamp().UTC().Format(time.RFC3339) + "); wait for the deletion to finish and apply again", nil
		}
		return false, "phase " + phase, nil
	})
}

// waitToken waits until the token controller has filled in a token Secret.
func (a *applier) waitToken(ctx context.Context, rf ref, progress func(string)) (*unstructured.Unstructured, error) {
	var out *unstructured.Unstructured
	err := a.poll(ctx, "the token of "+string(rf.Address()), progress, func(ctx context.Context) (bool, string, error) {
		u, err := get(ctx, a.r.clients, rf)
		if apierrors.IsNotFound(err) {
			return false, "the token Secret does not exist", nil
		}
		if err != nil {
			return false, "", err
		}
		if !owned(u, a.r.fed) {
			return false, "", fmt.Errorf("%s is not owned by federation %s", rf.Address(), a.r.fed)
		}
		if tok, _ := tokenOf(u); tok == "" {
			return false, "the token controller of " + rf.Cluster + " has not filled in the token (is kube-controller-manager running with the serviceaccount-token controller, and does the account exist?)", nil
		}
		out = u
		return true, "", nil
	})
	return out, err
}

// waitWorkload waits until a Deployment has an available replica; while it waits, and on timeout,
// the reason comes from its pods: why a container is not running or a pod is not scheduled.
func (a *applier) waitWorkload(ctx context.Context, o *object, progress func(string)) error {
	rf := o.ref
	return a.poll(ctx, "Deployment "+rf.Name+" in "+rf.Cluster+" to be available", progress, func(ctx context.Context) (bool, string, error) {
		u, err := get(ctx, a.r.clients, rf)
		if err != nil {
			return false, "", err
		}
		available, _, _ := unstructured.NestedInt64(u.Object, "status", "availableReplicas")
		if available > 0 {
			return true, "", nil
		}
		pods, err := a.podsOf(ctx, rf, u)
		if err != nil {
			return false, "", err
		}
		reason := podsReason(pods)
		if len(pods) == 0 {
			// Pods that were never created say nothing; the Deployment's conditions carry why
			// the ReplicaSet could not create them (an admission webhook that cannot be reached
			// on 15017, a quota).
			if why := deploymentConditions(u); why != "" {
				reason = why
			}
		}
		return false, reason, nil
	})
}

// podsOf lists the pods a workload's selector (spec.selector.matchLabels) picks in its namespace.
func (a *applier) podsOf(ctx context.Context, rf ref, u *unstructured.Unstructured) ([]corev1.Pod, error) {
	selector, _, _ := unstructured.NestedStringMap(u.Object, "spec", "selector", "matchLabels")
	list, err := a.r.clients.Dynamic(rf.Cluster).Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace(rf.Namespace).
		List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(selector).String()})
	if err != nil {
		return nil, err
	}
	pods := make([]corev1.Pod, len(list.Items))
	for i := range list.Items {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(list.Items[i].Object, &pods[i]); err != nil {
			return nil, err
		}
	}
	return pods, nil
}

// deploymentConditions reports a Deployment's failing conditions: ReplicaFailure, or Progressing
// or Available false with their messages.
func deploymentConditions(u *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var out []string
	for _, c := range conds {
		m, _ := c.(map[string]any)
		typ, _ := m["type"].(string)
		status, _ := m["status"].(string)
		msg, _ := m["message"].(string)
		if (typ == "ReplicaFailure" && status == "True") || ((typ == "Progressing" || typ == "Available") && status == "False") {
			out = append(out, fmt.Sprintf("%s: %s", typ, msg))
		}
	}
	return strings.Join(out, "; ")
}

// podsReason says why no pod of a workload runs, the way a person would read kubectl describe.
func podsReason(pods []corev1.Pod) string {
	if len(pods) == 0 {
		return "no pod exists yet (the Deployment controller has not created one)"
	}
	var reasons []string
	for _, p := range pods {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				reasons = append(reasons, fmt.Sprintf("pod %s is unschedulable: %s", p.Name, c.Message))
			}
		}
		for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				r := fmt.Sprintf("pod %s container %s: %s", p.Name, cs.Name, cs.State.Waiting.Reason)
				if cs.State.Waiting.Message != "" {
					r += ": " + cs.State.Waiting.Message
				}
				if cs.LastTerminationState.Terminated != nil {
					r += fmt.Sprintf(" (last exit code %d)", cs.LastTerminationState.Terminated.ExitCode)
				}
				reasons = append(reasons, r)
			case cs.State.Terminated != nil:
				reasons = append(reasons, fmt.Sprintf("pod %s container %s terminated: %s (exit code %d)", p.Name, cs.Name, cs.State.Terminated.Reason, cs.State.Terminated.ExitCode))
			case cs.State.Running != nil && !cs.Ready:
				reasons = append(reasons, fmt.Sprintf("pod %s container %s is running but not ready", p.Name, cs.Name))
			}
		}
	}
	if len(reasons) == 0 {
		return fmt.Sprintf("%d pods, none ready yet", len(pods))
	}
	return strings.Join(reasons, "; ")
}

// waitCRD waits until a CRD is established, so objects of its kind can be created.
func (a *applier) waitCRD(ctx context.Context, rf ref, progress func(string)) error {
	return a.poll(ctx, "CustomResourceDefinition "+rf.Name+" to be established", progress, func(ctx context.Context) (bool, string, error) {
		u, err := get(ctx, a.r.clients, rf)
		if apierrors.IsNotFound(err) {
			return false, "it does not exist: the control plane installs it (a managed control plane once the fleet has provisioned it)", nil
		}
		if err != nil {
			return false, "", err
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		reason := "not established yet"
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return true, "", nil
			}
			if m["type"] == "NamesAccepted" && m["status"] == "False" {
				reason = fmt.Sprintf("names not accepted: %v", m["message"])
			}
		}
		return false, reason, nil
	})
}

// poll checks until check is done, ctx ends or the readiness timeout passes; a timeout names the
// last reason check gave.
func (a *applier) poll(parent context.Context, what string, progress func(string), check func(context.Context) (bool, string, error)) error {
	ctx, cancel := context.WithTimeout(parent, a.opts.ReadyTimeout)
	defer cancel()
	last := ""
	for {
		done, reason, err := check(ctx)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if done {
			return nil
		}
		if reason != "" && reason != last {
			progress("waiting for " + what + ": " + reason)
			last = reason
		}
		select {
		case <-ctx.Done():
			if parent.Err() != nil {
				return fmt.Errorf("waiting for %s: %w", what, parent.Err())
			}
			if last == "" && err != nil {
				last = err.Error()
			}
			return fmt.Errorf("timed out after %s waiting for %s: %s", a.opts.ReadyTimeout, what, last)
		case <-time.After(a.opts.PollInterval):
		}
	}
}

// redactedError is err, or, when its message names a Prisma Cloud image with its registry token,
// an error of the same message with the token redacted.
func redactedError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if redacted := federation.RedactRegistryTokens(msg); redacted != msg {
		return errors.New(redacted)
	}
	return err
}

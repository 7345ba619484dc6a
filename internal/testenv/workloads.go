package testenv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"
)

// The kwok files testenv uses, from sigs.k8s.io/kwok at KwokVersion (see each file's header).
var (
	//go:embed kwok/stages.yaml
	kwokStages []byte
	//go:embed kwok/probed-pod-start.yaml
	kwokProbedStage []byte
	//go:embed kwok/portforwards.yaml
	kwokPortForwardCRD []byte
)

// WorkloadControllers are the kube-controller-manager controllers added to
// DefaultControllers for Options.Workloads: Deployments to ReplicaSets to
// pods, DaemonSets to a pod per node, EndpointSlices for Services, the
// removal of pods bound to deleted nodes, and the node lifecycle, which lifts
// the not-ready taint every new node starts with (without it pods stay
// Pending).
func WorkloadControllers() []string {
	return []string{
		"deployment-controller",
		"replicaset-controller",
		"daemonset-controller",
		"endpointslice-controller",
		"pod-garbage-collector-controller",
		"node-lifecycle-controller",
	}
}

const (
	// DefaultPodCIDR is where kwok takes pod IPs from when ClusterSpec.PodCIDR
	// is empty.
	DefaultPodCIDR = "10.244.0.0/16"
	// NodeIP is every node's InternalIP: the API server dials kwok there for
	// port-forward (--kubelet-preferred-address-types=InternalIP).
	NodeIP = "127.0.0.1"
	// kwokNodeAnnotation marks a node kwok runs (it runs every node here).
	kwokNodeAnnotation = "kwok.x-k8s.io/node"
	// nodeLeaseSeconds is kwok's node lease duration. Without a lease kwok's
	// heartbeat stage updates a node only every 10 minutes or so, and the
	// node-lifecycle controller marks it NotReady within a minute.
	nodeLeaseSeconds = 40
)

var portForwardGVR = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "portforwards"}

// ClusterSpec describes one cluster for AddClusterSpecs.
type ClusterSpec struct {
	// Name is a lower-case DNS label, unique in the environment.
	Name string
	// PodCIDR is the range kwok gives pods their IPs from (Options.Workloads
	// only); default DefaultPodCIDR. The IPs are names only: nothing listens
	// on them.
	PodCIDR string
}

// probedLabel splits Options.ProbedPods into a label key and value.
func probedLabel(s string) (key, value string, err error) {
	key, value, ok := strings.Cut(s, "=")
	if !ok || key == "" || strings.ContainsAny(key, `"\`) {
		return "", "", fmt.Errorf("ProbedPods %q: want a label key=value", s)
	}
	return key, value, nil
}

// kwokConfig is kwok's --config: kwok's own stages and, when probed names a
// label, pod-ready limited to pods without it and probed-pod-start for pods
// with it.
func kwokConfig(probed string) ([]byte, error) {
	docs, err := decodeYAML(kwokStages)
	if err != nil {
		return nil, fmt.Errorf("kwok stages: %w", err)
	}
	if probed != "" {
		key, value, err := probedLabel(probed)
		if err != nil {
			return nil, err
		}
		extra, err := decodeYAML(kwokProbedStage)
		if err != nil {
			return nil, fmt.Errorf("kwok probed-pod stage: %w", err)
		}
		selectBy := func(u *unstructured.Unstructured, op string) error {
			exprs, _, _ := unstructured.NestedSlice(u.Object, "spec", "selector", "matchExpressions")
			exprs = append(exprs, map[string]any{
				"key":      `.metadata.labels["` + key + `"]`,
				"operator": op,
				"values":   []any{value},
			})
			return unstructured.SetNestedSlice(u.Object, exprs, "spec", "selector", "matchExpressions")
		}
		found := false
		for _, d := range docs {
			if d.GetName() == "pod-ready" {
				found = true
				if err := selectBy(d, "NotIn"); err != nil {
					return nil, err
				}
			}
		}
		if !found || len(extra) != 1 {
			return nil, errors.New("kwok stages: want pod-ready, and one probed-pod stage")
		}
		if err := selectBy(extra[0], "In"); err != nil {
			return nil, err
		}
		docs = append(docs, extra[0])
	}
	var out bytes.Buffer
	for _, d := range docs {
		data, err := yaml.Marshal(d.Object)
		if err != nil {
			return nil, err
		}
		out.WriteString("---\n")
		out.Write(data)
	}
	return out.Bytes(), nil
}

func decodeYAML(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

// installKwokCRD applies the PortForward CRD and waits until it is
// established, since kwok watches PortForward objects from its start.
func installKwokCRD(ctx context.Context, client dynamic.Interface) error {
	docs, err := decodeYAML(kwokPortForwardCRD)
	if err != nil || len(docs) != 1 {
		return fmt.Errorf("kwok PortForward CRD: %d documents, %v", len(docs), err)
	}
	crd := docs[0]
	api := client.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	if _, err := api.Apply(ctx, crd.GetName(), crd, metav1.ApplyOptions{FieldManager: "testenv", Force: true}); err != nil {
		return fmt.Errorf("apply CRD %s: %w", crd.GetName(), err)
	}
	return poll(ctx, "CRD "+crd.GetName()+" established", func(ctx context.Context) error {
		live, err := api.Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
		for _, c := range conds {
			if m, _ := c.(map[string]any); m["type"] == "Established" && m["status"] == "True" {
				return nil
			}
		}
		return errors.New("not established")
	})
}

// startWorkloads starts the cluster's kube-scheduler and kwok, once its API
// server and controller manager run.
func (e *Environment) startWorkloads(ctx context.Context, c *Cluster, podCIDR string) error {
	pf := func(f string) string { return filepath.Join(c.Dir, f) }
	if err := installKwokCRD(ctx, c.dynamic); err != nil {
		return err
	}
	schedCert, err := clientCert(c.ca, "system:kube-scheduler")
	if err != nil {
		return err
	}
	kwokCert, err := clientCert(c.ca, "system:kwok", "system:masters")
	if err != nil {
		return err
	}
	if err := writeKubeconfig(pf("scheduler.kubeconfig"), c.Name, "kube-scheduler", c.Host, c.CAData, schedCert); err != nil {
		return err
	}
	if err := writeKubeconfig(pf("kwok.kubeconfig"), c.Name, "kwok", c.Host, c.CAData, kwokCert); err != nil {
		return err
	}
	config, err := kwokConfig(e.opts.ProbedPods)
	if err != nil {
		return err
	}
	if err := os.WriteFile(pf("kwok.yaml"), config, 0o600); err != nil {
		return fmt.Errorf("write kwok configuration: %w", err)
	}

	// Both serve on 127.0.0.1 with a certificate from the cluster CA; the
	// probe trusts only that CA, so another server on the port fails it.
	roots := x509.NewCertPool()
	roots.AddCert(c.ca.cert)
	probe := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	defer probe.CloseIdleConnections()
	healthz := func(port int) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			return httpCheck(ctx, probe, http.MethodGet, "https://127.0.0.1:"+strconv.Itoa(port)+"/healthz", "ok")
		}
	}

	c.scheduler, err = e.startListening(ctx, c.Name+"/kube-scheduler", pf("kube-scheduler.log"), e.bins.Scheduler, func(port int) []string {
		return []string{
			"--kubeconfig=" + pf("scheduler.kubeconfig"),
			"--leader-elect=false",
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(port),
			"--tls-cert-file=" + pf("loopback.crt"),
			"--tls-private-key-file=" + pf("loopback.key"),
			"--profiling=false",
		}
	}, healthz)
	if err != nil {
		return err
	}
	c.kwok, err = e.startListening(ctx, c.Name+"/kwok", pf("kwok.log"), e.bins.Kwok, func(port int) []string {
		return []string{
			"--kubeconfig=" + pf("kwok.kubeconfig"),
			"--config=" + pf("kwok.yaml"),
			"--manage-all-nodes=true",
			"--node-lease-duration-seconds=" + strconv.Itoa(nodeLeaseSeconds),
			"--cidr=" + podCIDR,
			"--node-ip=" + NodeIP,
			// The port nodes advertise as their kubelet's, and where kwok
			// serves it: on loopback only, since kwok authenticates nobody
			// (its default address is 0.0.0.0).
			"--node-port=" + strconv.Itoa(port),
			"--server-address=127.0.0.1:" + strconv.Itoa(port),
			"--tls-cert-file=" + pf("loopback.crt"),
			"--tls-private-key-file=" + pf("loopback.key"),
			"--enable-crds=PortForward",
		}
	}, healthz)
	if err != nil {
		return err
	}
	return nil
}

// startListening starts a server that listens on a port from the
// environment's chooser, retrying with a fresh port when it was taken before
// the server bound it, and returns once ready(port) passes.
func (e *Environment) startListening(ctx context.Context, name, logPath, bin string, args func(port int) []string, ready func(port int) func(context.Context) error) (*process, error) {
	for attempt := 1; ; attempt++ {
		ports, err := e.ports(1)
		if err != nil {
			return nil, err
		}
		p, err := startProcess(name, logPath, bin, args(ports[0])...)
		if err != nil {
			return nil, err
		}
		if err := e.track(p, tierControllerManager); err != nil {
			return nil, err
		}
		err = p.waitReady(ctx, "healthy", ready(ports[0]))
		var inUse errPortInUse
		if errors.As(err, &inUse) && attempt < portAttempts {
			e.opts.Logf("testenv: %s: port taken, retrying", name)
			continue
		}
		if err != nil {
			p.stop(stopGrace)
			return nil, err
		}
		return p, nil
	}
}

// poll calls check every 100 ms until it succeeds or ctx ends.
func poll(ctx context.Context, what string, check func(context.Context) error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// AddNodes registers nodes for kwok to run in a cluster with workloads, and
// returns once each is Ready with its not-ready taint lifted, so that pods
// can be scheduled onto it. Whatever addresses a node is given, its
// InternalIP is NodeIP, where the API server reaches kwok; its Hostname
// defaults to its name, its capacity to 4 CPUs, 16 GiB of memory and 110
// pods, and its allocatable to its capacity.
func (c *Cluster) AddNodes(ctx context.Context, nodes ...*corev1.Node) error {
	if c.kwok == nil {
		return fmt.Errorf("cluster %s runs no kwok: start the environment with Options.Workloads", c.Name)
	}
	for _, n := range nodes {
		n = n.DeepCopy()
		if n.Annotations == nil {
			n.Annotations = map[string]string{}
		}
		n.Annotations[kwokNodeAnnotation] = "fake"
		// kwok's node-initialize stage rewrites the addresses, with only what it can fill in,
		// unless there is both an InternalIP and a Hostname.
		addrs := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: NodeIP}}
		hostname := false
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP {
				addrs = append(addrs, a)
			}
			hostname = hostname || a.Type == corev1.NodeHostName
		}
		if !hostname {
			addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeHostName, Address: n.Name})
		}
		n.Status.Addresses = addrs
		if n.Status.Capacity == nil {
			n.Status.Capacity = corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("4"),
				corev1.ResourceMemory: resource.MustParse("16Gi"),
				corev1.ResourcePods:   resource.MustParse("110"),
			}
		}
		if n.Status.Allocatable == nil {
			n.Status.Allocatable = n.Status.Capacity.DeepCopy()
		}
		// The API server keeps a node's status on create, so kwok starts
		// from these addresses and this capacity.
		if _, err := c.client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create node %s in cluster %s: %w", n.Name, c.Name, err)
		}
	}
	for _, n := range nodes {
		err := poll(ctx, "node "+n.Name+" in cluster "+c.Name+" to be Ready and schedulable", func(ctx context.Context) error {
			live, err := c.client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			ready := false
			for _, cond := range live.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready = true
				}
			}
			if !ready {
				return errors.New("not Ready")
			}
			for _, t := range live.Spec.Taints {
				if t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable {
					return fmt.Errorf("tainted %s", t.Key)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// SetPodReady reports the readiness of a pod that Options.ProbedPods selects,
// as a kubelet does after the pod's readiness probe: the Ready and
// ContainersReady conditions and every container's ready flag. A Deployment
// counts the pod available once it is ready.
func (c *Cluster) SetPodReady(ctx context.Context, namespace, name string, ready bool) error {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := c.client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		changed := false
		now := metav1.Now()
		for _, typ := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
			found := false
			for i := range pod.Status.Conditions {
				cond := &pod.Status.Conditions[i]
				if cond.Type != typ {
					continue
				}
				found = true
				if cond.Status != status {
					cond.Status, cond.LastTransitionTime, cond.Reason = status, now, ""
					if !ready {
						cond.Reason = "ContainersNotReady"
					}
					changed = true
				}
			}
			if !found {
				pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: typ, Status: status, LastTransitionTime: now})
				changed = true
			}
		}
		for i := range pod.Status.ContainerStatuses {
			if pod.Status.ContainerStatuses[i].Ready != ready {
				pod.Status.ContainerStatuses[i].Ready = ready
				changed = true
			}
		}
		if !changed {
			return nil
		}
		_, err = c.client.CoreV1().Pods(namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("set pod %s/%s ready=%t in cluster %s: %w", namespace, name, ready, c.Name, err)
	}
	return nil
}

// ForwardPod makes kwok forward connections to the pod's ports, as port-forward
// through the API server makes them (kubectl port-forward, client-go's
// portforward), to local addresses: ports maps a pod port to host:port. It
// replaces any forwarding the pod had. The kwok PortForward object is named
// after the pod, so a pod that replaces it is not forwarded until asked.
func (c *Cluster) ForwardPod(ctx context.Context, namespace, pod string, ports map[int32]string) error {
	var forwards []any
	for port, addr := range ports {
		host, p, ok := strings.Cut(addr, ":")
		n, err := strconv.Atoi(p)
		if !ok || err != nil {
			return fmt.Errorf("forward %s/%s port %d: target %q is not host:port", namespace, pod, port, addr)
		}
		forwards = append(forwards, map[string]any{
			"ports":  []any{int64(port)},
			"target": map[string]any{"address": host, "port": int64(n)},
		})
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1",
		"kind":       "PortForward",
		"metadata":   map[string]any{"name": pod, "namespace": namespace},
		"spec":       map[string]any{"forwards": forwards},
	}}
	if _, err := c.dynamic.Resource(portForwardGVR).Namespace(namespace).Apply(ctx, pod, u, metav1.ApplyOptions{FieldManager: "testenv", Force: true}); err != nil {
		return fmt.Errorf("forward pod %s/%s in cluster %s: %w", namespace, pod, c.Name, err)
	}
	return nil
}

// StopForwardingPod removes what ForwardPod set up for the pod; port-forward
// to it then fails. Removing what does not exist is not an error.
func (c *Cluster) StopForwardingPod(ctx context.Context, namespace, pod string) error {
	err := c.dynamic.Resource(portForwardGVR).Namespace(namespace).Delete(ctx, pod, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("stop forwarding pod %s/%s in cluster %s: %w", namespace, pod, c.Name, err)
	}
	return nil
}

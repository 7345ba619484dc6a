package testenv_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
	"github.com/asmfed/kubectl-asmfed/pkg/kube"
)

// A cluster with workloads runs a Deployment's pods on a kwok node with IPs from its pod range;
// a pod the ProbedPods label selects stays unready (its Deployment unavailable) until its
// readiness is reported; port-forward through the API server reaches a local server only once
// the pod is forwarded to it; a DaemonSet runs a ready pod on every node; and the scheduler and
// kwok stop with the cluster.
func TestWorkloads(t *testing.T) {
	testenv.RequireWorkloads(t)
	ctx := context.Background()
	env, err := testenv.Start(ctx, testenv.Options{Workloads: true, ProbedPods: "app=probed", Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Stop() })
	const podCIDR = "10.185.128.0/18"
	cs, err := env.AddClusterSpecs(ctx, testenv.ClusterSpec{Name: "w1", PodCIDR: podCIDR})
	if err != nil {
		t.Fatal(err)
	}
	c := cs[0]
	names := map[string]bool{}
	for _, p := range c.Processes() {
		names[p.Name] = true
	}
	for _, want := range []string{"w1/kube-scheduler", "w1/kwok"} {
		if !names[want] {
			t.Errorf("cluster processes %v lack %s", names, want)
		}
	}

	start := time.Now()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a", Labels: map[string]string{"topology.kubernetes.io/zone": "zone-a"}}}
	if err := c.AddNodes(ctx, node); err != nil {
		t.Fatal(err)
	}
	t.Logf("node Ready and schedulable in %s", time.Since(start).Round(time.Millisecond))

	// A namespace of its own, not Cluster.Namespace: the test stops the cluster before it ends.
	client := c.Client()
	const ns = "work"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the default service account in "+ns, func() error {
		_, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	deploy := func(name string, replicas int32) {
		t.Helper()
		sel := map[string]string{"app": name}
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To(replicas),
				Selector: &metav1.LabelSelector{MatchLabels: sel},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: sel},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "example.invalid/" + name}}},
				},
			},
		}
		if _, err := client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	available := func(name string) int32 {
		t.Helper()
		d, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d.Status.AvailableReplicas
	}
	pods := func(name string) []corev1.Pod {
		t.Helper()
		list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(map[string]string{"app": name}).String()})
		if err != nil {
			t.Fatal(err)
		}
		return list.Items
	}

	start = time.Now()
	deploy("web", 2)
	testutil.Eventually(t, time.Minute, "Deployment web available", func() error {
		if n := available("web"); n != 2 {
			return fmt.Errorf("%d of 2 replicas available", n)
		}
		return nil
	})
	t.Logf("2 replicas available in %s", time.Since(start).Round(time.Millisecond))
	cidr := netip.MustParsePrefix(podCIDR)
	for _, p := range pods("web") {
		ip, err := netip.ParseAddr(p.Status.PodIP)
		if p.Status.Phase != corev1.PodRunning || p.Spec.NodeName != "node-a" || err != nil || !cidr.Contains(ip) {
			t.Errorf("pod %s: %s on %q with IP %q, want Running on node-a with an IP in %s", p.Name, p.Status.Phase, p.Spec.NodeName, p.Status.PodIP, podCIDR)
		}
	}

	deploy("probed", 1)
	var pod corev1.Pod
	testutil.Eventually(t, time.Minute, "the probed pod running", func() error {
		ps := pods("probed")
		if len(ps) != 1 || ps[0].Status.Phase != corev1.PodRunning {
			return fmt.Errorf("%d pods, want 1 Running", len(ps))
		}
		pod = ps[0]
		return nil
	})
	// The web pods became available within this time; the probed one must not by itself.
	time.Sleep(3 * time.Second)
	if n := available("probed"); n != 0 {
		t.Fatalf("Deployment probed has %d available replicas before its readiness was reported", n)
	}
	for _, cs := range pods("probed")[0].Status.ContainerStatuses {
		if cs.Ready || cs.State.Running == nil {
			t.Errorf("container %s: ready %t, running %v; want running and not ready", cs.Name, cs.Ready, cs.State.Running)
		}
	}

	// Port-forward reaches nothing until the pod is forwarded to a local server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "behind "+pod.Name) })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	get := func() (string, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		fw, err := kube.PortForward(ctx, c.RESTConfig(), ns, pod.Name)
		if err != nil {
			return "", err
		}
		defer fw.Close()
		resp, err := fw.HTTPClient(8080, 5*time.Second).Get("http://" + pod.Name + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if body, err := get(); err == nil {
		t.Fatalf("port-forward to a pod not forwarded anywhere answered %q", body)
	}
	if err := c.ForwardPod(ctx, ns, pod.Name, map[int32]string{8080: ln.Addr().String()}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "port-forward reaches the local server", func() error {
		body, err := get()
		if err == nil && body != "behind "+pod.Name {
			return fmt.Errorf("answered %q", body)
		}
		return err
	})

	if err := c.SetPodReady(ctx, ns, pod.Name, true); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "Deployment probed available", func() error {
		if n := available("probed"); n != 1 {
			return fmt.Errorf("%d of 1 replicas available", n)
		}
		return nil
	})
	if err := c.StopForwardingPod(ctx, ns, pod.Name); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "port-forward fails once the forwarding is removed", func() error {
		if body, err := get(); err == nil {
			return fmt.Errorf("still answered %q", body)
		}
		return nil
	})

	// A DaemonSet on the host network, as the Prisma Cloud Defenders are, runs a ready pod on
	// every node, a node added later included.
	if err := c.AddNodes(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-b"}}); err != nil {
		t.Fatal(err)
	}
	sel := map[string]string{"app": "agent"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: sel},
				Spec: corev1.PodSpec{HostNetwork: true, HostPID: true,
					Containers: []corev1.Container{{Name: "agent", Image: "example.invalid/agent"}}},
			},
		},
	}
	if _, err := client.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, time.Minute, "DaemonSet agent ready on both nodes", func() error {
		d, err := client.AppsV1().DaemonSets(ns).Get(ctx, "agent", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if s := d.Status; s.DesiredNumberScheduled != 2 || s.NumberReady != 2 {
			return fmt.Errorf("%d of %d nodes run a ready pod", s.NumberReady, s.DesiredNumberScheduled)
		}
		return nil
	})
	onNode := map[string]bool{}
	for _, p := range pods("agent") {
		onNode[p.Spec.NodeName] = p.Status.Phase == corev1.PodRunning
	}
	if want := map[string]bool{"node-a": true, "node-b": true}; fmt.Sprint(onNode) != fmt.Sprint(want) {
		t.Errorf("DaemonSet pods running by node: %v, want %v", onNode, want)
	}

	if err := env.Stop(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, c.Processes(), 10*time.Second)
}

// Package kubelettest gives a local cluster of internal/testenv a node whose kubelet serves
// port-forwards to its pods and exec in them, with the kubelet's own streaming code
// (k8s.io/cri-streaming): each pod port is forwarded to a local address, and a command is run by
// a function the test gives, standing in for the container. The API server proxies `kubectl
// port-forward`, `kubectl exec` and client-go's port-forward and exec to it exactly as it does to
// a real kubelet, over SPDY or WebSocket, so code that reaches a pod through them is tested
// against the real API server without container runtime. Tests only.
package kubelettest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// Kubelet is one node's port-forwarding kubelet, listening with TLS on 127.0.0.1.
type Kubelet struct {
	// Node is the node's name.
	Node   string
	client kubernetes.Interface
	srv    *httptest.Server

	mu      sync.Mutex
	targets map[string]map[int32]string // namespace/pod → pod port → local address
	exec    ExecFunc
}

// ExecFunc runs a command in a container of a pod, as the container runtime would: what it
// writes is the command's output, a non-nil error ends the exec as the runtime's error.
type ExecFunc func(ctx context.Context, namespace, pod, container string, cmd []string, stdout, stderr io.Writer) error

// Start registers node in the cluster cfg reaches, Ready, with 127.0.0.1 as its only address and
// a kubelet endpoint served here, and stops serving when t ends. The API server dials kubelets
// without verifying them unless it is given --kubelet-certificate-authority, which testenv does
// not set.
func Start(t testing.TB, cfg *rest.Config, node string) *Kubelet {
	t.Helper()
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kl := &Kubelet{Node: node, client: k, targets: map[string]map[int32]string{}}
	kl.srv = httptest.NewUnstartedServer(http.HandlerFunc(kl.serve))
	kl.srv.StartTLS()
	t.Cleanup(kl.srv.Close)
	_, portText, _ := net.SplitHostPort(kl.srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portText)
	ctx := context.Background()
	n, err := k.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("register node %s: %v", node, err)
	}
	n.Status = corev1.NodeStatus{
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(port)}},
		Conditions:      []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), Reason: "KubeletReady"}},
	}
	if _, err := k.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("node %s status: %v", node, err)
	}
	return kl
}

// RunPod creates a pod bound to the node and marks it Running and Ready, with ports: each of
// its ports, forwarded, reaches the local address given.
func (kl *Kubelet) RunPod(ctx context.Context, namespace, name string, labels map[string]string, ports map[int32]string) (*corev1.Pod, error) {
	var cports []corev1.ContainerPort
	for p := range ports {
		cports = append(cports, corev1.ContainerPort{ContainerPort: p})
	}
	pod, err := kl.client.CoreV1().Pods(namespace).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{NodeName: kl.Node, Containers: []corev1.Container{{
			Name: "main", Image: "registry.invalid/kubelettest:none", Ports: cports,
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create pod %s/%s: %w", namespace, name, err)
	}
	kl.mu.Lock()
	kl.targets[namespace+"/"+name] = ports
	kl.mu.Unlock()
	now := metav1.Now()
	pod.Status = corev1.PodStatus{
		Phase:      corev1.PodRunning,
		PodIP:      "127.0.0.1",
		StartTime:  &now,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "main", Ready: true, Image: pod.Spec.Containers[0].Image,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		}},
	}
	if pod, err = kl.client.CoreV1().Pods(namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("pod %s/%s status: %w", namespace, name, err)
	}
	return pod, nil
}

// SetPorts changes where a pod's ports lead from the next forwarded connection on, as when the
// process behind the pod restarted on other local ports.
func (kl *Kubelet) SetPorts(namespace, name string, ports map[int32]string) {
	kl.mu.Lock()
	defer kl.mu.Unlock()
	kl.targets[namespace+"/"+name] = ports
}

// HandleExec makes fn run the commands exec'd in the node's pods.
func (kl *Kubelet) HandleExec(fn ExecFunc) {
	kl.mu.Lock()
	defer kl.mu.Unlock()
	kl.exec = fn
}

// serve is the kubelet's /portForward/{namespace}/{pod} and /exec/{namespace}/{pod}/{container}
// endpoints; anything else is not found.
func (kl *Kubelet) serve(w http.ResponseWriter, req *http.Request) {
	parts := strings.Split(strings.TrimPrefix(req.URL.Path, "/"), "/")
	if len(parts) == 4 && parts[0] == "exec" {
		kl.serveExec(w, req, parts[1], parts[2], parts[3])
		return
	}
	if len(parts) != 3 || parts[0] != "portForward" {
		http.NotFound(w, req)
		return
	}
	key := parts[1] + "/" + parts[2]
	if kl.ports(key) == nil {
		http.Error(w, "pod "+key+" does not run here", http.StatusNotFound)
		return
	}
	opts, err := portforward.NewV4Options(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	portforward.ServePortForward(w, req, forwarder{kl, key}, parts[2], "", opts, time.Minute, 30*time.Second, portforward.SupportedProtocols)
}

func (kl *Kubelet) ports(key string) map[int32]string {
	kl.mu.Lock()
	defer kl.mu.Unlock()
	return kl.targets[key]
}

// forwarder connects a forwarded stream to the local address of the pod port, as the container
// runtime connects it to the port inside the pod's network namespace.
type forwarder struct {
	kl  *Kubelet
	key string
}

func (f forwarder) PortForward(ctx context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	addr, ok := f.kl.ports(f.key)[port]
	if !ok {
		return fmt.Errorf("the pod does not listen on port %d", port)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(conn, stream); done <- struct{}{} }()
	go func() { _, _ = io.Copy(stream, conn); done <- struct{}{} }()
	<-done
	return nil
}

func (kl *Kubelet) serveExec(w http.ResponseWriter, req *http.Request, namespace, pod, container string) {
	kl.mu.Lock()
	fn := kl.exec
	kl.mu.Unlock()
	if fn == nil {
		http.Error(w, "this kubelet runs no commands", http.StatusNotFound)
		return
	}
	opts, err := remotecommand.NewOptions(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	remotecommand.ServeExec(w, req, executor{fn, namespace}, pod, "", container, req.URL.Query()["command"], opts,
		time.Minute, 30*time.Second, remotecommand.SupportedStreamingProtocols)
}

// executor runs an exec'd command with the test's function.
type executor struct {
	fn        ExecFunc
	namespace string
}

func (e executor) ExecInContainer(ctx context.Context, pod, _, container string, cmd []string, _ io.Reader, out, errOut io.WriteCloser, _ bool, _ <-chan remotecommand.TerminalSize, _ time.Duration) error {
	var stdout, stderr io.Writer = io.Discard, io.Discard
	if out != nil {
		defer out.Close()
		stdout = out
	}
	if errOut != nil {
		defer errOut.Close()
		stderr = errOut
	}
	return e.fn(ctx, e.namespace, pod, container, cmd, stdout, stderr)
}

// ImagePull decides whether the node can pull an image: a non-nil error leaves the pod's
// container waiting with reason ErrImagePull and that message, and records a Failed event, as a
// kubelet does.
type ImagePull func(image string) error

// AdoptPods schedules to this node, as kube-scheduler would, every pod created from now on that
// has no node and that match selects, and runs it as RunPod does (Ready, 127.0.0.1, nothing
// behind its ports), or leaves it waiting when pull refuses its image. It stops when t ends.
func (kl *Kubelet) AdoptPods(t testing.TB, match func(*corev1.Pod) bool, pull ImagePull) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			pods, err := kl.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName="})
			if err == nil {
				for i := range pods.Items {
					if p := &pods.Items[i]; match(p) {
						kl.adopt(ctx, p, pull)
					}
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
}

func (kl *Kubelet) adopt(ctx context.Context, pod *corev1.Pod, pull ImagePull) {
	pods := kl.client.CoreV1().Pods(pod.Namespace)
	if err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace},
		Target: corev1.ObjectReference{Kind: "Node", Name: kl.Node}}, metav1.CreateOptions{}); err != nil {
		return
	}
	pod, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		return
	}
	now := metav1.Now()
	c := pod.Spec.Containers[0]
	if err := pull(c.Image); err != nil {
		pod.Status = corev1.PodStatus{Phase: corev1.PodPending, StartTime: &now,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady",
				Message: "containers with unready status: [" + c.Name + "]"}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: c.Name, Image: c.Image,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: err.Error()}}}}}
		_, _ = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		_, _ = kl.client.CoreV1().Events(pod.Namespace).Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{GenerateName: pod.Name + ".", Namespace: pod.Namespace},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, APIVersion: "v1"},
			Reason:         "Failed", Message: fmt.Sprintf("Failed to pull image %q: %v", c.Image, err), Type: corev1.EventTypeWarning,
			Source: corev1.EventSource{Component: "kubelet", Host: kl.Node}, FirstTimestamp: now, LastTimestamp: now, Count: 1,
		}, metav1.CreateOptions{})
		return
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1", StartTime: &now,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: c.Name, Ready: true, Image: c.Image,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}}
	_, _ = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
}

package verify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/asmfed/kubectl-asmfed/internal/pemcert"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
	"github.com/asmfed/kubectl-asmfed/pkg/kube"
)

// The traffic probe is what the ASMFED-TRAFFIC checks run real requests with: in every cluster
// a namespace of the same random name, labelled and given NetworkPolicies as the file's
// application namespaces are, an echo Deployment behind a Service that answers with its
// cluster's name, and a client Deployment whose pod the requests are exec'd in.
const (
	trafficNamespacePrefix = "asmfed-traffic-"
	// TrafficEcho and TrafficClient name the probe's Deployments, their pods' app label and
	// containers; the echo's Service is TrafficEcho too.
	TrafficEcho   = "asmfed-traffic-echo"
	TrafficClient = "asmfed-traffic-client"
	// echoContainerPort is where the echo server listens; its Service serves it on port 80.
	echoContainerPort = 8080
	// EchoServerPath and EchoClientPath are the programs of Istio's app image: an echo server
	// whose answer names the cluster of its --cluster flag, and the client that sends requests
	// and prints what came back ([i] StatusCode=…, [i] ResponseHeader=…, [i body] Cluster=…).
	EchoServerPath = "/usr/local/bin/server"
	EchoClientPath = "/usr/local/bin/client"
	// DefaultTrafficRequests is how many requests each client sends to the shared Service.
	DefaultTrafficRequests = 20
	// defaultTrafficTimeout bounds how long the probe's pods may take to become Ready.
	defaultTrafficTimeout = 3 * time.Minute
)

// unlistedHosts are hosts that resolve everywhere (IANA's example domains) and that the
// allow-list is expected not to name: the first one it does not match is what ASMFED-TRAFFIC-002
// asks for.
var unlistedHosts = []string{"example.com", "example.net", "example.org"}

// TrafficProbe deploys the traffic probe once, the first time a check asks for it, and removes
// it on Close unless Keep. It is called from checks running in parallel.
type TrafficProbe struct {
	// Image runs both the echo server and the client; empty is Istio's app image from the
	// mesh's hub and tag (<hub>/app:<tag>), which the private nodes pull like the proxy's.
	Image string
	// Keep leaves the probe in the clusters when verify ends.
	Keep bool
	// Requests is how many requests each client sends to the shared Service; default 20.
	Requests int
	// Timeout bounds how long the probe's pods may take to become Ready; default 3 minutes.
	Timeout time.Duration

	once  sync.Once
	env   *Env
	state *trafficState
}

// trafficState is the probe deployed.
type trafficState struct {
	namespace string
	// written are the clusters the probe was written into, in the file's order.
	written []string
	// clients are the Ready client pod of each cluster.
	clients map[string]string
	// serving are the clusters whose echo pod is Ready, in the file's order.
	serving []string
	// broken say, by cluster, why the probe cannot be used there.
	broken map[string]Finding
}

var needTraffic = Requirement{Name: "traffic probes", Unmet: func(env *Env) string {
	switch {
	case env.Traffic == nil:
		return "traffic probes are off (--skip-traffic)"
	case env.Federation.Spec.Mesh.ControlPlane == v1alpha1.ControlPlaneInCluster && env.Istiods == nil:
		return "no in-cluster control plane can be reached"
	case env.Federation.Spec.Mesh.ControlPlane == v1alpha1.ControlPlaneManaged && !managedDataPlane(env):
		return "the managed data plane is not ACTIVE in any cluster"
	}
	return ""
}}

func managedDataPlane(env *Env) bool {
	for _, st := range env.MeshStates {
		if st.DataPlane == "ACTIVE" {
			return true
		}
	}
	return false
}

// noControlPlane says why no sidecar or gateway could be injected and configured in any cluster:
// with an in-cluster control plane, no cluster runs an istiod of the revision. Nothing is
// deployed, or asked, then.
func noControlPlane(ctx context.Context, env *Env) string {
	if env.Federation.Spec.Mesh.ControlPlane == v1alpha1.ControlPlaneManaged {
		return ""
	}
	var why []string
	for _, c := range env.Federation.Spec.Clusters {
		if _, ok := env.Clusters[c.Name]; !ok {
			continue
		}
		ids, err := env.Istiods(ctx, c.Name)
		if err == nil && len(ids) > 0 {
			return ""
		}
		if err != nil {
			why = append(why, c.Name+": "+err.Error())
		}
	}
	return "no cluster runs an istiod to inject and configure sidecars and gateways (" + strings.Join(why, "; ") + ")"
}

// image is the probe's image.
func (tp *TrafficProbe) image(env *Env) string {
	if tp.Image != "" {
		return tp.Image
	}
	return fmt.Sprintf("%s/app:%s", env.Derived.Mesh.Hub, env.Derived.Mesh.Tag)
}

// deployed deploys the probe the first time it is called, and waits for its pods.
func (tp *TrafficProbe) deployed(ctx context.Context, env *Env) *trafficState {
	tp.once.Do(func() {
		tp.env = env
		tp.state = tp.deploy(ctx, env)
	})
	return tp.state
}

func (tp *TrafficProbe) deploy(ctx context.Context, env *Env) *trafficState {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	st := &trafficState{namespace: trafficNamespacePrefix + hex.EncodeToString(suffix), clients: map[string]string{}, broken: map[string]Finding{}}
	ns, err := probeNamespace(env, st.namespace)
	if err != nil {
		for _, c := range env.Federation.Spec.Clusters {
			st.broken[c.Name] = Finding{Subject: c.Name, Status: Fail, Message: "build the probe's namespace: " + err.Error()}
		}
		return st
	}
	var mu sync.Mutex
	var written = map[string]bool{}
	forEach(ctx, env, env.Federation.Spec.Clusters, func(ctx context.Context, c v1alpha1.Cluster) []Finding {
		cfg, ok := env.Clusters[c.Name]
		set := func(f func()) { mu.Lock(); defer mu.Unlock(); f() }
		if !ok {
			set(func() {
				st.broken[c.Name] = Finding{Subject: c.Name, Status: Skipped, Message: "the cluster cannot be reached"}
			})
			return nil
		}
		k, err := kubernetes.NewForConfig(cfg)
		if err == nil {
			removeLeftoverProbes(ctx, k, env.Federation.Metadata.Name)
			set(func() { written[c.Name] = true })
			err = writeTrafficProbe(ctx, k, ns[c.Name], trafficWorkloads(st.namespace, c.Name, tp.image(env)))
		}
		if err != nil {
			set(func() {
				st.broken[c.Name] = Finding{Subject: c.Name, Status: Fail, Message: "write the traffic probe: " + err.Error(),
					Hint: "verify needs to create a namespace, NetworkPolicies, Deployments and a Service, and to exec in pods, in every cluster"}
			})
			return nil
		}
		ready := waitReady(ctx, k, st.namespace, tp.timeout())
		set(func() {
			if ready.client != "" {
				st.clients[c.Name] = ready.client
			}
			if ready.echo {
				st.serving = append(st.serving, c.Name)
			}
			if ready.problem != "" {
				st.broken[c.Name] = Finding{Subject: c.Name, Status: Fail,
					Message: fmt.Sprintf("the probe's pods in %s did not become Ready within %s: %s", st.namespace, tp.timeout(), ready.problem),
					Hint:    "an image the nodes cannot pull: pass --probe-image with an image from a registry they reach; a pod the namespace's policies or admission refuse: kubectl -n " + st.namespace + " get events (verify --keep leaves the probe in place)"}
			}
		})
		return nil
	})
	for _, c := range env.Federation.Spec.Clusters {
		if written[c.Name] {
			st.written = append(st.written, c.Name)
		}
	}
	order := map[string]int{}
	for i, c := range env.Federation.Spec.Clusters {
		order[c.Name] = i
	}
	sort.Slice(st.serving, func(i, j int) bool { return order[st.serving[i]] < order[st.serving[j]] })
	return st
}

func (tp *TrafficProbe) timeout() time.Duration {
	if tp.Timeout > 0 {
		return tp.Timeout
	}
	return defaultTrafficTimeout
}

func (tp *TrafficProbe) requests() int {
	if tp.Requests > 0 {
		return tp.Requests
	}
	return DefaultTrafficRequests
}

// Close removes the probe from every cluster it was written into, with a context of its own so
// that an interrupted verify still cleans up, unless Keep. It says what it kept, or nothing.
func (tp *TrafficProbe) Close(ctx context.Context) string {
	tp.once.Do(func() {}) // waits for a probe still being deployed
	st, env := tp.state, tp.env
	if st == nil || len(st.written) == 0 {
		return ""
	}
	if tp.Keep {
		return fmt.Sprintf("the traffic probe is kept: namespace %s in %s", st.namespace, strings.Join(st.written, ", "))
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	forEach(ctx, env, st.written, func(ctx context.Context, cluster string) []Finding {
		if k, err := kubernetes.NewForConfig(env.Clusters[cluster]); err == nil {
			_ = k.CoreV1().Namespaces().Delete(ctx, st.namespace, metav1.DeleteOptions{}) // a leftover is removed by the next verify
		}
		return nil
	})
	return ""
}

// probeNamespace is the probe's namespace and its NetworkPolicies in each cluster, built by the
// federation's compiler as for an application namespace of the file: the same revision label,
// Pod Security level and default policies. The ownership labels are replaced by ProbeLabel, so
// that plan never takes the probe for the federation's, and a leftover is recognised.
func probeNamespace(env *Env, name string) (map[string][]runtime.Object, error) {
	f := *env.Federation
	f.Spec.Namespaces = []v1alpha1.Namespace{{Name: name}}
	d, err := federation.Compile(&f, federation.Facts{})
	if err != nil {
		return nil, err
	}
	out := map[string][]runtime.Object{}
	for _, cd := range d.Clusters {
		for _, o := range cd.Objects {
			var obj interface {
				runtime.Object
				metav1.Object
			}
			switch {
			case o.Kind == "Namespace" && o.Name == name:
				obj = &corev1.Namespace{}
			case o.Kind == "NetworkPolicy" && o.Namespace == name:
				obj = &networkingv1.NetworkPolicy{}
			default:
				continue
			}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, obj); err != nil {
				return nil, fmt.Errorf("%s: %w", o.Address, err)
			}
			labels := obj.GetLabels()
			delete(labels, federation.KubeLabelManagedBy)
			delete(labels, federation.KubeLabelFederation)
			if labels == nil {
				labels = map[string]string{}
			}
			labels[ProbeLabel] = env.Federation.Metadata.Name
			obj.SetLabels(labels)
			obj.SetAnnotations(nil)
			out[cd.Name] = append(out[cd.Name], obj)
		}
	}
	return out, nil
}

// trafficWorkloads are the echo Deployment, its Service and the client Deployment of cluster.
func trafficWorkloads(namespace, cluster, image string) []runtime.Object {
	one := int32(1)
	deployment := func(name string, args []string) *appsv1.Deployment {
		labels := map[string]string{"app": name}
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
			Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: name, Image: image, Command: []string{EchoServerPath}, Args: args,
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: echoContainerPort}}}},
				}}},
		}
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: TrafficEcho, Namespace: namespace, Labels: map[string]string{"app": TrafficEcho}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": TrafficEcho}, Ports: []corev1.ServicePort{{
			Name: "http", Port: 80, TargetPort: intstr.FromInt32(echoContainerPort), Protocol: corev1.ProtocolTCP}}}}
	// The client runs the echo server too, only so that it keeps running: requests are exec'd
	// in it with the image's client.
	return []runtime.Object{
		deployment(TrafficEcho, []string{"--port=" + strconv.Itoa(echoContainerPort), "--cluster=" + cluster}),
		svc,
		deployment(TrafficClient, []string{"--port=" + strconv.Itoa(echoContainerPort)}),
	}
}

// writeTrafficProbe creates the namespace, its policies and the workloads.
func writeTrafficProbe(ctx context.Context, k kubernetes.Interface, namespace, workloads []runtime.Object) error {
	for _, o := range append(slices.Clone(namespace), workloads...) {
		var err error
		switch o := o.(type) {
		case *corev1.Namespace:
			_, err = k.CoreV1().Namespaces().Create(ctx, o, metav1.CreateOptions{})
		case *networkingv1.NetworkPolicy:
			_, err = k.NetworkingV1().NetworkPolicies(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *appsv1.Deployment:
			_, err = k.AppsV1().Deployments(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *corev1.Service:
			_, err = k.CoreV1().Services(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readiness is how the probe's pods of one cluster ended up.
type readiness struct {
	client  string // the Ready client pod
	echo    bool   // an echo pod is Ready
	problem string // why not both, with the pods' reasons and recent events
}

// waitReady waits for a Ready echo pod and a Ready client pod, and on timeout says why not.
func waitReady(ctx context.Context, k kubernetes.Interface, namespace string, timeout time.Duration) readiness {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var r readiness
	var pods []corev1.Pod
	for {
		r = readiness{}
		list, err := k.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		if err == nil {
			pods = list.Items
			for _, p := range pods {
				if !podReady(&p) {
					continue
				}
				switch p.Labels["app"] {
				case TrafficClient:
					r.client = p.Name
				case TrafficEcho:
					r.echo = true
				}
			}
			if r.client != "" && r.echo {
				return r
			}
		}
		select {
		case <-ctx.Done():
			dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer dcancel()
			r.problem = diagnose(dctx, k, namespace, pods, r)
			return r
		case <-time.After(time.Second):
		}
	}
}

func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// diagnose says why the probe's pods are not Ready: each pod's phase, the reasons of its
// waiting or terminated containers and of its false conditions, and the namespace's recent
// Warning events (those of the ReplicaSets too: a pod that admission refused never exists).
func diagnose(ctx context.Context, k kubernetes.Interface, namespace string, pods []corev1.Pod, r readiness) string {
	var parts []string
	for _, want := range []struct {
		app string
		ok  bool
	}{{TrafficEcho, r.echo}, {TrafficClient, r.client != ""}} {
		if want.ok {
			continue
		}
		n := 0
		for _, p := range pods {
			if p.Labels["app"] == want.app {
				n++
				parts = append(parts, "pod "+p.Name+" "+podProblem(&p))
			}
		}
		if n == 0 {
			parts = append(parts, "no pod of "+want.app)
		}
	}
	if evs, err := k.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{}); err == nil {
		items := evs.Items
		sort.SliceStable(items, func(i, j int) bool { return eventTime(&items[i]).Before(eventTime(&items[j])) })
		var warnings []string
		for _, e := range items {
			if e.Type == corev1.EventTypeWarning {
				warnings = append(warnings, fmt.Sprintf("%s %s: %s: %s", strings.ToLower(e.InvolvedObject.Kind), e.InvolvedObject.Name, e.Reason, e.Message))
			}
		}
		if len(warnings) > 5 {
			warnings = warnings[len(warnings)-5:]
		}
		if len(warnings) > 0 {
			parts = append(parts, "events: "+strings.Join(warnings, "; "))
		}
	}
	return strings.Join(parts, "; ")
}

func eventTime(e *corev1.Event) time.Time {
	if !e.LastTimestamp.IsZero() {
		return e.LastTimestamp.Time
	}
	return e.EventTime.Time
}

// podProblem is a pod's phase and the reasons it is not Ready.
func podProblem(p *corev1.Pod) string {
	var why []string
	for _, c := range p.Status.ContainerStatuses {
		switch {
		case c.State.Waiting != nil:
			why = append(why, fmt.Sprintf("container %s waiting: %s %s", c.Name, c.State.Waiting.Reason, c.State.Waiting.Message))
		case c.State.Terminated != nil:
			why = append(why, fmt.Sprintf("container %s terminated: %s (exit code %d) %s", c.Name, c.State.Terminated.Reason, c.State.Terminated.ExitCode, c.State.Terminated.Message))
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Status == corev1.ConditionFalse && c.Reason != "" && (c.Type == corev1.PodScheduled || len(why) == 0) {
			why = append(why, fmt.Sprintf("%s: %s %s", c.Type, c.Reason, c.Message))
		}
	}
	phase := string(p.Status.Phase)
	if phase == "" {
		phase = "Pending"
	}
	if len(why) == 0 {
		return phase
	}
	return phase + " (" + strings.TrimSpace(strings.Join(why, ", ")) + ")"
}

// echoRequest is one request the client reports.
type echoRequest struct {
	Status  int    // 0 when no response came
	Server  string // the response's Server header
	Cluster string // the Cluster the echo server's body names
}

// echoOutput is what the client printed.
type echoOutput struct {
	Requests map[int]*echoRequest
	// Failure is what ended the client without a response: its error output, or exec's error.
	Failure string
}

var eofWord = regexp.MustCompile(`\beof\b`)

var echoLine = regexp.MustCompile(`^\[(\d+)( body)?\] ([A-Za-z-]+)=(.*)$`)

// parseEcho reads the client's output: per request, `[i] StatusCode=…`, `[i] ResponseHeader=
// Server:…` and the echo server's body lines `[i body] Cluster=…`. The client exits non-zero,
// printing the error, when a request got no response.
func parseEcho(stdout, stderr string, execErr error) echoOutput {
	out := echoOutput{Requests: map[int]*echoRequest{}}
	for _, line := range strings.Split(stdout, "\n") {
		m := echoLine.FindStringSubmatch(strings.TrimRight(line, "\r"))
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		r := out.Requests[i]
		if r == nil {
			r = &echoRequest{}
			out.Requests[i] = r
		}
		body, field, value := m[2] != "", m[3], strings.TrimSpace(m[4])
		switch {
		case body && field == "Cluster":
			r.Cluster = value
		case !body && field == "StatusCode":
			r.Status, _ = strconv.Atoi(value)
		case !body && field == "ResponseHeader":
			if k, v, ok := strings.Cut(value, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "server") {
				r.Server = strings.TrimSpace(v)
			}
		}
	}
	// What the client said is the failure; exec's own error (the exit code) only when it said
	// nothing.
	if execErr != nil || (len(out.Requests) == 0 && strings.TrimSpace(stderr) != "") {
		out.Failure = strings.TrimSpace(stderr)
		if out.Failure == "" && execErr != nil {
			out.Failure = execErr.Error()
		}
	}
	return out
}

// Outcomes of a request to a host outside the cluster.
const (
	outcomeReached          = "reached"            // the host answered
	outcomeRefusedBySidecar = "refused by sidecar" // 502 from envoy, or closed at once: the sidecar had nowhere to send it
	outcomeDropped          = "dropped"            // no answer until the timeout: dropped below L7
	outcomeFailed           = "failed"             // anything else (name resolution, connection refused)
)

// classify says what became of a single request to host.
func classify(o echoOutput) (outcome, detail string) {
	if r, ok := o.Requests[0]; ok && r.Status != 0 {
		if r.Status == 502 && strings.EqualFold(r.Server, "envoy") {
			return outcomeRefusedBySidecar, "HTTP 502 from envoy"
		}
		detail = "HTTP " + strconv.Itoa(r.Status)
		if r.Server != "" {
			detail += " from " + r.Server
		}
		return outcomeReached, detail
	}
	f := o.Failure
	low := strings.ToLower(f)
	switch {
	case strings.Contains(low, "deadline exceeded") || strings.Contains(low, "timeout") || strings.Contains(low, "timed out"):
		return outcomeDropped, f
	case strings.Contains(low, "connection reset") || eofWord.MatchString(low):
		// Every outbound connection of a pod with a sidecar ends at the sidecar first: one it
		// closes at once without an answer is what BlackHoleCluster does to TLS and TCP.
		return outcomeRefusedBySidecar, "the connection was closed without an answer (BlackHoleCluster): " + f
	case strings.Contains(low, "x509") || strings.Contains(low, "certificate") || strings.Contains(low, "tls:"):
		return outcomeReached, "a TLS handshake with the host: " + f // the host answered at TLS
	case f == "":
		return outcomeFailed, "the client printed no response"
	}
	return outcomeFailed, f
}

// runClient execs the probe's client in cluster's client pod.
func (tp *TrafficProbe) runClient(ctx context.Context, env *Env, st *trafficState, cluster string, count int, timeout time.Duration, url string) echoOutput {
	cmd := []string{EchoClientPath, "--count=" + strconv.Itoa(count), "--timeout=" + timeout.String(), url}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(count+1)*timeout+30*time.Second)
	defer cancel()
	stdout, stderr, err := kube.Exec(ctx, env.Clusters[cluster], st.namespace, st.clients[cluster], TrafficClient, cmd)
	return parseEcho(string(stdout), string(stderr), err)
}

// perProbeCluster calls fn for every cluster of the file where the probe runs; a cluster where
// it does not gets the finding that says why.
func perProbeCluster(ctx context.Context, env *Env, fn func(ctx context.Context, st *trafficState, cluster string) Finding) []Finding {
	if why := noControlPlane(ctx, env); why != "" {
		return []Finding{{Status: Skipped, Message: why}}
	}
	st := env.Traffic.deployed(ctx, env)
	return forEach(ctx, env, env.Federation.Spec.Clusters, func(ctx context.Context, c v1alpha1.Cluster) []Finding {
		if f, ok := st.broken[c.Name]; ok && st.clients[c.Name] == "" {
			return []Finding{f}
		}
		return []Finding{fn(ctx, st, c.Name)}
	})
}

// trafficBalance sends requests from every cluster's client to the shared echo Service and
// counts which clusters answered: every cluster whose echo pod is Ready must.
func trafficBalance(ctx context.Context, env *Env) []Finding {
	return perProbeCluster(ctx, env, func(ctx context.Context, st *trafficState, cluster string) Finding {
		if f, ok := st.broken[cluster]; ok {
			return f // the client runs but this cluster's echo does not: the others would hide it
		}
		url := fmt.Sprintf("http://%s.%s.svc.cluster.local/", TrafficEcho, st.namespace)
		o := env.Traffic.runClient(ctx, env, st, cluster, env.Traffic.requests(), 5*time.Second, url)
		return judgeBalance(cluster, st.serving, env.Traffic.requests(), o)
	})
}

// judgeBalance is the finding of one client's requests to the shared Service.
func judgeBalance(cluster string, serving []string, sent int, o echoOutput) Finding {
	counts := map[string]int{}
	answered := 0
	for _, r := range o.Requests {
		if r.Status == 200 && r.Cluster != "" {
			counts[r.Cluster]++
			answered++
		}
	}
	var got, missing []string
	for _, c := range serving {
		if counts[c] > 0 {
			got = append(got, fmt.Sprintf("%s %d", c, counts[c]))
		} else {
			missing = append(missing, c)
		}
	}
	for _, c := range slices.Sorted(maps.Keys(counts)) {
		if !slices.Contains(serving, c) {
			got = append(got, fmt.Sprintf("%s %d (not expected)", c, counts[c]))
		}
	}
	tally := fmt.Sprintf("%d of %d requests answered", answered, sent)
	if len(got) > 0 {
		tally += " (" + strings.Join(got, ", ") + ")"
	}
	if o.Failure != "" {
		tally += "; the client failed: " + o.Failure
	}
	if len(missing) > 0 || answered == 0 {
		what := "no cluster answered"
		if answered > 0 {
			what = "no answer from " + strings.Join(missing, ", ")
		}
		return Finding{Subject: cluster, Status: Fail, Message: fmt.Sprintf("from %s to the shared Service: %s: %s", cluster, what, tally),
			Hint: "ASMFED-MESH-002 and ASMFED-MESH-003 say whether istiod sends this cluster's sidecars the other clusters' endpoints; ASMFED-NET-001 and ASMFED-NET-006 whether the pods reach each other"}
	}
	return Finding{Subject: cluster, Status: OK, Message: fmt.Sprintf("from %s, every serving cluster answered: %s", cluster, tally)}
}

// unlistedHost is the first of unlistedHosts the allow-list does not match.
func unlistedHost(allow []v1alpha1.EgressRule) string {
	for _, h := range unlistedHosts {
		listed := false
		for _, r := range allow {
			for _, a := range r.Hosts {
				if a == h || (strings.HasPrefix(a, "*.") && strings.HasSuffix(h, a[1:])) || a == "*" {
					listed = true
				}
			}
		}
		if !listed {
			return h
		}
	}
	return ""
}

// egressRefused asks, from every client, for a host outside the allow-list: the sidecar must
// refuse it itself (HTTP 502 from envoy), not let it out to be dropped by the network.
func egressRefused(ctx context.Context, env *Env) []Finding {
	host := unlistedHost(env.Federation.Spec.Mesh.Egress.Allow)
	if host == "" {
		return []Finding{{Status: Skipped, Message: "the allow-list names every host verify would try (" + strings.Join(unlistedHosts, ", ") + ")"}}
	}
	return perProbeCluster(ctx, env, func(ctx context.Context, st *trafficState, cluster string) Finding {
		o := env.Traffic.runClient(ctx, env, st, cluster, 1, 5*time.Second, "http://"+host+"/")
		return judgeRefused(cluster, host, o)
	})
}

func judgeRefused(cluster, host string, o echoOutput) Finding {
	outcome, detail := classify(o)
	f := Finding{Subject: cluster, Status: Fail}
	switch outcome {
	case outcomeRefusedBySidecar:
		return Finding{Subject: cluster, Status: OK, Message: fmt.Sprintf("the sidecar in %s refuses %s, outside the allow-list: %s", cluster, host, detail)}
	case outcomeReached:
		f.Message = fmt.Sprintf("from %s, %s, outside the allow-list, answered (%s): egress is not REGISTRY_ONLY", cluster, host, detail)
		f.Hint = "ASMFED-EGRESS-001 names what sets ALLOW_ANY; a pod without a sidecar is not restricted either"
	case outcomeDropped:
		f.Message = fmt.Sprintf("from %s, a request to %s, outside the allow-list, got no answer (%s): it was dropped below the sidecar (NetworkPolicy or firewall), not refused by it", cluster, host, detail)
		f.Hint = "the sidecar let the request out: ASMFED-EGRESS-001 says whether it gets REGISTRY_ONLY; check that the probe's pod has its sidecar (the namespace's istio.io/rev label and the injection webhook)"
	default:
		f.Message = fmt.Sprintf("from %s, a request to %s could not be judged: %s", cluster, host, detail)
		f.Hint = "the client could not send the request: resolve " + host + " from a pod of the namespace (kube-dns, asmfed-allow-dns)"
	}
	return f
}

// allowedHost is the first allow-listed host and port a request can name: a wildcard host is
// asked for as www.<domain>; https on 443, http otherwise.
func allowedHost(allow []v1alpha1.EgressRule) (url, hostPort string) {
	for _, r := range allow {
		for _, h := range r.Hosts {
			if h == "*" {
				continue
			}
			if strings.HasPrefix(h, "*.") {
				h = "www." + h[2:]
			}
			for _, p := range r.Ports {
				scheme := "http"
				if p.Number == 443 {
					scheme = "https"
				}
				return fmt.Sprintf("%s://%s:%d/", scheme, h, p.Number), fmt.Sprintf("%s:%d", h, p.Number)
			}
		}
	}
	return "", ""
}

// allowListedReachable asks, from every client, for an allow-listed host: it must answer.
func allowListedReachable(ctx context.Context, env *Env) []Finding {
	url, hp := allowedHost(env.Federation.Spec.Mesh.Egress.Allow)
	if url == "" {
		return []Finding{{Status: Skipped, Message: "the file allow-lists no host"}}
	}
	return perProbeCluster(ctx, env, func(ctx context.Context, st *trafficState, cluster string) Finding {
		o := env.Traffic.runClient(ctx, env, st, cluster, 1, 10*time.Second, url)
		return judgeAllowed(cluster, hp, o)
	})
}

func judgeAllowed(cluster, hostPort string, o echoOutput) Finding {
	outcome, detail := classify(o)
	f := Finding{Subject: cluster, Status: Fail}
	switch outcome {
	case outcomeReached:
		return Finding{Subject: cluster, Status: OK, Message: fmt.Sprintf("from %s, the allow-listed %s answered: %s", cluster, hostPort, detail)}
	case outcomeRefusedBySidecar:
		f.Message = fmt.Sprintf("from %s, the sidecar refuses the allow-listed %s (%s)", cluster, hostPort, detail)
		f.Hint = "ASMFED-EGRESS-001 says whether the sidecar has its cluster; kubectl asmfed apply recreates the ServiceEntry"
	case outcomeDropped:
		f.Message = fmt.Sprintf("from %s, the allow-listed %s got no answer (%s): dropped by the network", cluster, hostPort, detail)
		f.Hint = "ASMFED-NET-006 says whether the namespace's policies let the port out; the nodes need Cloud NAT to reach the internet"
	default:
		f.Message = fmt.Sprintf("from %s, a request to the allow-listed %s failed: %s", cluster, hostPort, detail)
		f.Hint = "resolve the host from a pod of the namespace; ASMFED-NET-006 checks DNS"
	}
	return f
}

// ingressHandshakeTimeout bounds one TLS handshake with the ingress gateway.
const ingressHandshakeTimeout = 10 * time.Second

// ingressCertificates completes a TLS handshake with the ingress gateway of every cluster for
// each host of spec.mesh.ingress.hosts, with that host as SNI, through a port-forward to a
// gateway pod's https port, and compares what the gateway presents with the credential the
// Gateway names: the same chain, byte for byte, valid now, for that name.
func ingressCertificates(ctx context.Context, env *Env) []Finding {
	in := env.Federation.Spec.Mesh.Ingress
	switch {
	case !v1alpha1.Bool(in.Enabled):
		return []Finding{{Status: Skipped, Message: "the file installs no ingress gateway"}}
	case in.TLS == nil:
		return []Finding{{Status: Skipped, Message: "the ingress gateway does not terminate TLS (no spec.mesh.ingress.tls)"}}
	case in.TLS.Mode == v1alpha1.TLSPassthrough:
		return []Finding{{Status: Skipped, Message: "PASSTHROUGH: the workloads behind the gateway present their own certificates"}}
	}
	if why := noControlPlane(ctx, env); why != "" {
		return []Finding{{Status: Skipped, Message: why}}
	}
	credential := in.TLS.CredentialName
	if credential == "" {
		credential = federation.IngressCredentialSecret
	}
	return forEach(ctx, env, env.Federation.Spec.Clusters, func(ctx context.Context, c v1alpha1.Cluster) []Finding {
		if _, ok := env.Clusters[c.Name]; !ok {
			return []Finding{{Subject: c.Name, Status: Skipped, Message: "the cluster cannot be reached"}}
		}
		return gatewayCertificates(ctx, env, c.Name, in, credential)
	})
}

func gatewayCertificates(ctx context.Context, env *Env, cluster string, in v1alpha1.Ingress, credential string) []Finding {
	fail := func(msg, hint string) []Finding {
		return []Finding{{Subject: cluster, Status: Fail, Message: msg, Hint: hint}}
	}
	cfg := env.Clusters[cluster]
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fail(err.Error(), "")
	}
	ns := federation.IstioNamespace
	secret, err := k.CoreV1().Secrets(ns).Get(ctx, credential, metav1.GetOptions{})
	if err != nil {
		return fail(fmt.Sprintf("read the gateway's credential %s/%s: %v", ns, credential, err),
			"kubectl asmfed apply writes asmfed-ingress-credential from certFile and keyFile; a credentialName of the file is yours to create")
	}
	chainPEM := secret.Data[corev1.TLSCertKey]
	if len(chainPEM) == 0 {
		chainPEM = secret.Data["cert"] // Istio's generic Secret format
	}
	want, err := pemcert.Parse(chainPEM)
	if err != nil {
		return fail(fmt.Sprintf("the credential %s/%s holds no certificate chain (tls.crt or cert): %v", ns, credential, err), "")
	}
	selector := labels.SelectorFromSet(federation.IngressGatewaySelector(in.Name)).String()
	pods, err := k.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return fail("list the ingress gateway's pods: "+err.Error(), "")
	}
	var names []string
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		return fail(fmt.Sprintf("no Running pod of the ingress gateway (kubectl -n %s get pods -l %s)", ns, selector),
			"kubectl -n "+ns+" describe deployment "+in.Name+" says why it does not run")
	}
	slices.Sort(names)
	fw, err := kube.PortForward(ctx, cfg, ns, names[0])
	if err != nil {
		return fail(err.Error(), "")
	}
	defer fw.Close()
	var out []Finding
	for _, host := range in.Hosts {
		out = append(out, judgeGatewayCertificate(cluster, names[0], host, credential, want, handshake(ctx, fw, sniFor(host))))
	}
	return out
}

// sniFor is the name a client of host sends: the host, a name under a wildcard host, none for *.
func sniFor(host string) string {
	switch {
	case host == "*":
		return ""
	case strings.HasPrefix(host, "*."):
		return "asmfed-verify." + host[2:]
	}
	return host
}

// handshaken is what the gateway presented, or why the handshake failed.
type handshaken struct {
	sni   string
	chain [][]byte
	err   error
}

func handshake(ctx context.Context, fw *kube.Forward, sni string) handshaken {
	ctx, cancel := context.WithTimeout(ctx, ingressHandshakeTimeout)
	defer cancel()
	conn, err := fw.Dial(ctx, int(httpsTargetPort()))
	if err != nil {
		return handshaken{sni: sni, err: err}
	}
	defer conn.Close()
	// Not verified by crypto/tls: what the gateway presents is compared with the credential,
	// certificate by certificate, and its name and validity checked, by judgeGatewayCertificate.
	tc := tls.Client(conn, &tls.Config{ServerName: sni, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	if err := tc.HandshakeContext(ctx); err != nil {
		return handshaken{sni: sni, err: err}
	}
	h := handshaken{sni: sni}
	for _, c := range tc.ConnectionState().PeerCertificates {
		h.chain = append(h.chain, c.Raw)
	}
	return h
}

// httpsTargetPort is the port the gateway's pods serve the Service's 443 on.
func httpsTargetPort() int32 {
	for _, p := range federation.IngressGatewayPorts {
		if p.Port == 443 {
			return p.TargetPort
		}
	}
	return 8443
}

func judgeGatewayCertificate(cluster, pod, host, credential string, want []*x509.Certificate, got handshaken) Finding {
	subject := cluster + "/" + host
	f := Finding{Subject: subject, Status: Fail}
	sni := got.sni
	if sni == "" {
		sni = "no SNI"
	}
	switch {
	case got.err != nil:
		f.Message = fmt.Sprintf("the ingress gateway (pod %s) completed no TLS handshake for %s (%s): %v", pod, host, sni, got.err)
		f.Hint = "the Gateway asmfed-ingress must list the host, and the gateway must find the credential " + credential + ": kubectl -n istio-system logs " + pod
		return f
	case len(got.chain) == 0:
		f.Message = "the ingress gateway presented no certificate for " + host
		return f
	}
	leaf, err := x509.ParseCertificate(got.chain[0])
	if err != nil {
		f.Message = "the ingress gateway presented a certificate that does not parse: " + err.Error()
		return f
	}
	if !bytes.Equal(got.chain[0], want[0].Raw) {
		f.Message = fmt.Sprintf("for %s the ingress gateway presents %s (%s), not the credential %s's %s (%s)", host,
			leaf.Subject.CommonName, istio.Fingerprint(leaf), credential, want[0].Subject.CommonName, istio.Fingerprint(want[0]))
		f.Hint = "the gateway reloads a changed credential by itself; a Gateway of someone else's that claims the host with another credential wins: kubectl get gateways -A"
		return f
	}
	if len(got.chain) != len(want) || !sameChain(got.chain, want) {
		f.Message = fmt.Sprintf("for %s the ingress gateway presents the credential's certificate with a chain of %d certificates, the credential %s holds %d", host, len(got.chain), credential, len(want))
		f.Hint = "clients that do not have the intermediates cannot verify the certificate: put the full chain in tls.crt"
		return f
	}
	if got.sni != "" {
		if err := leaf.VerifyHostname(got.sni); err != nil {
			f.Message = fmt.Sprintf("the credential %s's certificate is not valid for %s: %v", credential, host, err)
			f.Hint = "issue the certificate with the host among its DNS names"
			return f
		}
	}
	if now := time.Now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		f.Message = fmt.Sprintf("the credential %s's certificate for %s is valid only from %s to %s", credential, host, leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
		f.Hint = "renew the certificate; kubectl asmfed apply writes asmfed-ingress-credential from certFile and keyFile"
		return f
	}
	return Finding{Subject: subject, Status: OK, Message: fmt.Sprintf("the ingress gateway presents the credential %s for %s (%s, %s, until %s)",
		credential, host, sni, istio.Fingerprint(leaf), leaf.NotAfter.Format("2006-01-02"))}
}

func sameChain(got [][]byte, want []*x509.Certificate) bool {
	for i := range got {
		if !bytes.Equal(got[i], want[i].Raw) {
			return false
		}
	}
	return true
}

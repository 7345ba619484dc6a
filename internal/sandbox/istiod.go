package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/asmfed/kubectl-asmfed/internal/istiodtest"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/kube"
)

const (
	// istioNamespace is where istiod pods run and where they read cacerts.
	istioNamespace = "istio-system"
	// istiodLabel selects istiod pods (the chart's pod template label); kwok leaves their
	// readiness to the sandbox (testenv.Options.ProbedPods).
	istiodLabelKey, istiodLabelValue = "app", "istiod"
	// cacertsSecret is the plug-in CA Secret the istiod Deployment mounts at /etc/cacerts.
	cacertsSecret = "cacerts"
	// probePeriod is how often a running istiod's /ready is probed (the chart's readinessProbe
	// periodSeconds) and its mounted files refreshed.
	probePeriod = 3 * time.Second
	// remoteClusterTimeout is istiod's default PILOT_REMOTE_CLUSTER_TIMEOUT: how long it waits
	// for a remote cluster before it reports ready without it.
	remoteClusterTimeout = 30 * time.Second
	stopGrace            = 5 * time.Second
)

// istiodPorts are the pod ports of istiod's listeners, in the order of istiodtest.Args' ports:
// http (/ready, /debug), https (webhooks), grpc (plain xDS), secure grpc (xDS and the CA over
// mTLS), monitoring. A pod's port-forward to one of them reaches the listener of the process.
var istiodPorts = []int32{8080, 15017, 15010, 15012, 15014}

// istiods runs a real pilot-discovery for every istiod pod of one local cluster, the way a kubelet
// runs the pod's container: with the pod's CLUSTER_ID and REVISION, istio-system/cacerts as
// ./etc/cacerts, the cluster's kubeconfig, and the mesh configuration istiod reads itself from the
// istio-<revision> ConfigMap, as it does in a pod that mounts none. Once the process answers
// /ready, the pod's ports are forwarded to it (kwok) and the pod is reported Ready; it is
// probed every few seconds after that, restarted if it exits, and stopped when its pod goes.
type istiods struct {
	cluster *testenv.Cluster
	bin     string
	logf    func(format string, args ...any)

	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	pods map[types.UID]*istiodPod
}

// istiodPod is the process behind one pod.
type istiodPod struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	srv *testenv.Server
}

// startIstiods watches the cluster's istiod pods until stop.
func startIstiods(c *testenv.Cluster, bin string, logf func(format string, args ...any)) *istiods {
	ctx, cancel := context.WithCancel(context.Background())
	s := &istiods{cluster: c, bin: bin, logf: logf, cancel: cancel, pods: map[types.UID]*istiodPod{}}
	factory := informers.NewSharedInformerFactoryWithOptions(c.Client(), 0, informers.WithNamespace(istioNamespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = istiodLabelKey + "=" + istiodLabelValue }))
	inf := factory.Core().V1().Pods().Informer()
	resync := func(any) { s.sync(ctx, inf.GetStore()) }
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    resync,
		UpdateFunc: func(_, obj any) { resync(obj) },
		DeleteFunc: resync,
	})
	factory.Start(ctx.Done())
	s.wg.Go(func() {
		<-ctx.Done()
		factory.Shutdown()
	})
	return s
}

// runnable reports whether a pod should have its process: scheduled, started by kwok and not
// being deleted.
func runnable(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && p.Spec.NodeName != "" && p.Status.Phase == corev1.PodRunning
}

// sync starts a process for every runnable pod that has none and stops those whose pod is gone.
func (s *istiods) sync(ctx context.Context, store cache.Store) {
	want := map[types.UID]*corev1.Pod{}
	for _, obj := range store.List() {
		if p, ok := obj.(*corev1.Pod); ok && runnable(p) {
			want[p.UID] = p
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	for uid, ip := range s.pods {
		if want[uid] == nil {
			ip.cancel()
			delete(s.pods, uid)
		}
	}
	for uid, p := range want {
		if s.pods[uid] != nil {
			continue
		}
		pctx, cancel := context.WithCancel(ctx)
		ip := &istiodPod{cancel: cancel, done: make(chan struct{})}
		s.pods[uid] = ip
		s.wg.Go(func() {
			defer close(ip.done)
			s.run(pctx, p.DeepCopy(), ip)
		})
	}
}

// stop stops every process, by PID, and waits until each is reaped. A nil istiods (a cluster
// without workloads) has nothing to stop.
func (s *istiods) stop() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.cancel()
	s.mu.Unlock()
	s.wg.Wait()
}

// processes lists the running istiod processes.
func (s *istiods) processes() []testenv.Process {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []testenv.Process
	for _, ip := range s.pods {
		ip.mu.Lock()
		if ip.srv != nil && !ip.srv.Exited() {
			out = append(out, ip.srv.Process())
		}
		ip.mu.Unlock()
	}
	return out
}

// run keeps a process running for the pod until ctx ends (the pod went, or the sandbox stops),
// then stops it and the pod's forwarding.
func (s *istiods) run(ctx context.Context, pod *corev1.Pod, ip *istiodPod) {
	name := pod.Name
	defer func() {
		// The pod is gone or going; its forwarding goes too.
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.cluster.StopForwardingPod(cctx, istioNamespace, name)
	}()
	backoff := time.Second
	for ctx.Err() == nil {
		started := time.Now()
		err := s.runOnce(ctx, pod, ip)
		if ctx.Err() != nil {
			return
		}
		s.logf("%s: istiod for pod %s/%s: %v; restarting", s.cluster.Name, istioNamespace, name, err)
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = s.cluster.StopForwardingPod(rctx, istioNamespace, name)
		_ = s.cluster.SetPodReady(rctx, istioNamespace, name, false)
		cancel()
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// runOnce starts one process for the pod and supervises it until it exits (an error) or ctx ends
// (nil, the process stopped).
func (s *istiods) runOnce(ctx context.Context, pod *corev1.Pod, ip *istiodPod) error {
	env := containerEnv(pod)
	clusterID, revision := env["CLUSTER_ID"], env["REVISION"]
	if clusterID == "" {
		clusterID = "Kubernetes" // istiod's default cluster ID
	}
	dir := filepath.Join(s.cluster.Dir, "istiod", pod.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := s.syncCACerts(ctx, dir); err != nil {
		return err
	}
	ports, err := testenv.FreePorts(6)
	if err != nil {
		return err
	}
	// No mesh.yaml or meshNetworks.yaml is written in dir: without them istiod reads the mesh
	// configuration and networks from ConfigMap istio-<REVISION>, and follows its changes, as it
	// does in a pod.
	args := istiodtest.Args(s.cluster.Kubeconfig, clusterID, dir, ports)
	procEnv := append(istiodtest.Env(clusterID, revision, remoteClusterTimeout), "POD_NAME="+pod.Name)
	start := time.Now()
	srv, err := testenv.StartServer(s.bin, args, testenv.ServerOptions{
		Name:    s.cluster.Name + "/istiod/" + pod.Name,
		LogPath: filepath.Join(dir, "istiod.log"),
		Dir:     dir,
		Env:     procEnv,
	})
	if err != nil {
		return err
	}
	ip.mu.Lock()
	ip.srv = srv
	ip.mu.Unlock()
	defer srv.Stop(stopGrace)

	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	ready := func(ctx context.Context) error {
		return httpReady(ctx, http.DefaultClient, "http://"+addr(ports[0])+"/ready")
	}
	// No deadline of its own: a pod whose istiod never becomes ready stays unready, as on GKE.
	if err := srv.WaitReady(ctx, "ready", ready); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	forwards := map[int32]string{}
	for i, port := range istiodPorts {
		forwards[port] = addr(ports[i])
	}
	if err := s.cluster.ForwardPod(ctx, istioNamespace, pod.Name, forwards); err != nil {
		return err
	}
	// The pod is Ready once /ready answers the way clients reach it: through the API server's
	// port-forward, which kwok serves from the forwarding just written.
	if err := srv.WaitReady(ctx, "ready through port-forward", func(ctx context.Context) error {
		fw, err := kube.PortForward(ctx, s.cluster.RESTConfig(), istioNamespace, pod.Name)
		if err != nil {
			return err
		}
		defer fw.Close()
		return httpReady(ctx, fw.HTTPClient(int(istiodPorts[0]), 5*time.Second), "http://"+pod.Name+"/ready")
	}); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if err := s.cluster.SetPodReady(ctx, istioNamespace, pod.Name, true); err != nil {
		return err
	}
	s.logf("%s: istiod for pod %s/%s ready in %s (pid %d, revision %q, cluster ID %s)", s.cluster.Name, istioNamespace,
		pod.Name, time.Since(start).Round(100*time.Millisecond), srv.PID(), revision, clusterID)

	wasReady := true
	tick := time.NewTicker(probePeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if srv.Exited() {
			return fmt.Errorf("exited; end of %s:\n%s", filepath.Join(dir, "istiod.log"), srv.LogTail(10))
		}
		if err := s.syncCACerts(ctx, dir); err != nil && ctx.Err() == nil {
			s.logf("%s: istiod for pod %s/%s: %v", s.cluster.Name, istioNamespace, pod.Name, err)
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		isReady := ready(pctx) == nil
		cancel()
		if isReady != wasReady && ctx.Err() == nil {
			if err := s.cluster.SetPodReady(ctx, istioNamespace, pod.Name, isReady); err == nil {
				wasReady = isReady
			}
		}
	}
}

// containerEnv is the literal environment of the pod's discovery container (or its first).
func containerEnv(pod *corev1.Pod) map[string]string {
	out := map[string]string{}
	if len(pod.Spec.Containers) == 0 {
		return out
	}
	c := pod.Spec.Containers[0]
	for _, cc := range pod.Spec.Containers {
		if cc.Name == "discovery" {
			c = cc
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			out[e.Name] = e.Value
		}
	}
	return out
}

// syncCACerts makes dir/etc/cacerts hold the keys of istio-system/cacerts, as the kubelet keeps the
// optional secret volume the istiod Deployment mounts at /etc/cacerts: istiod resolves
// ./etc/cacerts against its working directory, and uses the plug-in CA it finds there (or signs
// its own root when there is none).
func (s *istiods) syncCACerts(ctx context.Context, dir string) error {
	certDir := filepath.Join(dir, "etc", "cacerts")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return err
	}
	data := map[string][]byte{}
	secret, err := s.cluster.Client().CoreV1().Secrets(istioNamespace).Get(ctx, cacertsSecret, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("read %s/%s: %w", istioNamespace, cacertsSecret, err)
	default:
		data = secret.Data
	}
	entries, err := os.ReadDir(certDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, ok := data[e.Name()]; !ok {
			if err := os.Remove(filepath.Join(certDir, e.Name())); err != nil {
				return err
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(data)) {
		if filepath.Base(k) != k || k == "." || k == ".." {
			continue
		}
		p := filepath.Join(certDir, k)
		if cur, err := os.ReadFile(p); err == nil && bytes.Equal(cur, data[k]) {
			continue
		}
		if err := os.WriteFile(p, data[k], 0o600); err != nil {
			return err
		}
	}
	return nil
}

// httpReady wants 200 from url.
func httpReady(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status + ": " + string(bytes.TrimSpace(body)))
	}
	return nil
}

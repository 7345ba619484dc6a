package istiodtest_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/istiodtest"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

const (
	appNamespace = "sample"
	onlyInB      = "only-in-c2"
	onlyInBHost  = onlyInB + "." + appNamespace + ".svc.cluster.local"
	endpointIP   = "10.101.0.10"
	// waitFor bounds each wait for istiod to reflect a change.
	waitFor = 30 * time.Second
	// remoteSecretPrefix names the remote secrets the engine writes: istio-remote-secret-<peer>.
	remoteSecretPrefix = "istio-remote-secret-"
)

// TestFederationThroughIstiod applies a three-cluster federation with the cluster-side engine,
// runs a real istiod per cluster against the result, and checks through istiod's own debug
// endpoints that the remote secrets federate the clusters, and that a broken secret or a
// revoked token drops the peer.
func TestFederationThroughIstiod(t *testing.T) {
	istiodtest.Require(t)
	begin := time.Now()
	cs := testenv.Clusters(t, 3)
	ctx := context.Background()
	t.Logf("clusters: %s", time.Since(begin).Round(time.Millisecond))

	// What the base chart installs first, the CRDs istiod watches; then the federation, planned
	// and applied by the engine: istio-system, reader accounts and tokens, the remote secrets
	// pointing at each peer's local API server, and cacerts.
	d := applyFederation(t, ctx, cs, fedtest.New("mesh").FleetProject("fleet-project", 123456)).derived

	mark := time.Now()
	ids := istiodtest.StartT(t, cs, istiodtest.Options{Revision: d.Mesh.Revision})
	for _, i := range ids {
		t.Logf("istiod for %s: pid %d, http %s, ready in %s", i.ClusterID, i.PID(), i.HTTPAddr, i.StartupTime.Round(time.Millisecond))
	}
	t.Logf("3 istiods: %s", time.Since(mark).Round(time.Millisecond))
	a, c3 := ids[0], ids[2]

	t.Run("every istiod has every peer synced through the remote secrets", func(t *testing.T) {
		start := time.Now()
		for _, i := range ids {
			want := []istiodtest.ClusterStatus{}
			for _, c := range cs {
				s := istiodtest.ClusterStatus{ID: c.Name, SyncStatus: istiodtest.Synced}
				if c.Name != i.ClusterID {
					s.SecretName = istiodtest.Namespace + "/" + remoteSecretPrefix + c.Name
				}
				want = append(want, s)
			}
			testutil.Eventually(t, waitFor, fmt.Sprintf("istiod %s: /debug/clusterz", i.ClusterID), func() error {
				got, err := i.Clusters(ctx)
				if err != nil {
					return err
				}
				if !slices.Equal(got, want) {
					return fmt.Errorf("got %+v, want %+v", got, want)
				}
				return nil
			})
		}
		t.Logf("all peers synced %s after the istiods were ready", time.Since(start).Round(time.Millisecond))
	})

	b2 := cs[1].Client()
	t.Run("a service with endpoints only in c2 is visible with them from c1 and c3", func(t *testing.T) {
		start := time.Now()
		createServiceWithEndpoints(t, ctx, b2)
		for _, i := range []*istiodtest.Istiod{a, c3} {
			requireService(t, ctx, i, "c2")
		}
		t.Logf("visible in c1 and c3 %s after creation in c2", time.Since(start).Round(time.Millisecond))
	})

	secrets := cs[0].Client().CoreV1().Secrets(istiodtest.Namespace)
	remote := remoteSecretPrefix + "c2"
	t.Run("a remote secret with the wrong server drops the peer", func(t *testing.T) {
		orig, err := secrets.Get(ctx, remote, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		broken := orig.DeepCopy()
		kc, err := clientcmd.Load(broken.Data["c2"])
		if err != nil {
			t.Fatalf("remote secret kubeconfig: %v", err)
		}
		for _, cl := range kc.Clusters {
			cl.Server = "https://127.0.0.1:1" // nothing listens there
		}
		if broken.Data["c2"], err = clientcmd.Write(*kc); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := secrets.Update(ctx, broken, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// A running istiod swaps in the new cluster at once, but keeps serving what the
		// previous secret's connection knows until the new one syncs, which never happens:
		// /debug/clusterz shows the peer not synced while /debug/registryz still lists its
		// services.
		requireNotSynced(t, ctx, a, "c2")
		svc, err := a.Service(ctx, onlyInBHost)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("c2 not synced in c1's istiod %s after its remote secret pointed at a dead server; registryz still has %s: %v",
			time.Since(start).Round(time.Millisecond), onlyInBHost, svc != nil)
		// Restarted, as a new pod, it has only the broken secret and drops the peer entirely.
		start = time.Now()
		if err := a.Restart(ctx); err != nil {
			t.Fatalf("restart c1's istiod: %v", err)
		}
		requirePeerDropped(t, ctx, a, "c2")
		requireSynced(t, ctx, a, "c3")
		t.Logf("c2 dropped from c1's istiod %s after a restart with the broken secret", time.Since(start).Round(time.Millisecond))

		// Putting the secret back brings the peer back.
		fixed, err := secrets.Get(ctx, remote, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fixed.Data = orig.Data
		start = time.Now()
		if _, err := secrets.Update(ctx, fixed, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		requireService(t, ctx, a, "c2")
		requireSynced(t, ctx, a, "c2")
		t.Logf("c2 back in c1's istiod %s after the secret was restored", time.Since(start).Round(time.Millisecond))
	})

	t.Run("a revoked reader token drops the peer", func(t *testing.T) {
		// c1's own reader account in c2: revoking it cuts c1 off and leaves c3's account alone.
		tokenSecret, err := b2.CoreV1().Secrets(istiodtest.Namespace).Get(ctx, federation.ReaderTokenSecret(a.ClusterID), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		token := string(tokenSecret.Data[corev1.ServiceAccountTokenKey])
		if err := b2.CoreV1().Secrets(istiodtest.Namespace).Delete(ctx, federation.ReaderTokenSecret(a.ClusterID), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		// The API server rejects a legacy token once its Secret is gone.
		testutil.Eventually(t, waitFor, "the deleted token is rejected", func() error {
			k, err := kubernetes.NewForConfig(cs[1].TokenConfig(token))
			if err != nil {
				return err
			}
			_, err = k.CoreV1().Services(appNamespace).List(ctx, metav1.ListOptions{})
			if apierrors.IsUnauthorized(err) {
				return nil
			}
			return fmt.Errorf("list services with the revoked token: err = %v, want 401", err)
		})
		// c3's account in c2 is its own and keeps working.
		other, err := b2.CoreV1().Secrets(istiodtest.Namespace).Get(ctx, federation.ReaderTokenSecret(c3.ClusterID), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		k3, err := kubernetes.NewForConfig(cs[1].TokenConfig(string(other.Data[corev1.ServiceAccountTokenKey])))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k3.CoreV1().Services(appNamespace).List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("c3's reader token in c2 after c1's was revoked: %v", err)
		}
		// A running istiod authenticated its watches before the revocation and keeps them
		// until they reconnect (client-go ends watches after 5 to 10 min); a restarted one,
		// like a new pod, cannot list c2 any more.
		if cl, err := c3.Clusters(ctx); err == nil {
			t.Logf("c3's istiod, not restarted, right after the revocation: %+v", cl)
		}
		start := time.Now()
		if err := a.Restart(ctx); err != nil {
			t.Fatalf("restart c1's istiod: %v", err)
		}
		t.Logf("c1's istiod restarted in %s (pid %d)", time.Since(start).Round(time.Millisecond), a.PID())
		requirePeerDropped(t, ctx, a, "c2")
		requireSynced(t, ctx, a, "c3")
		t.Logf("c2 dropped from c1's istiod %s after the restart", time.Since(start).Round(time.Millisecond))
	})

	t.Run("stop leaves no istiod running", func(t *testing.T) {
		for _, i := range ids {
			pid := i.PID()
			i.Stop()
			if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
				t.Errorf("istiod %s (pid %d) still exists after Stop: %v", i.ClusterID, pid, err)
			}
		}
	})
	t.Logf("total: %s", time.Since(begin).Round(time.Millisecond))
}

func createServiceWithEndpoints(t *testing.T, ctx context.Context, k kubernetes.Interface) {
	t.Helper()
	if _, err := k.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appNamespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: onlyInB, Namespace: appNamespace},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": onlyInB},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := k.CoreV1().Services(appNamespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// No pods run in the local clusters: the EndpointSlice is written by hand, as the
	// EndpointSlice controller would for a ready pod.
	port, name, proto, ready := int32(8080), "http", corev1.ProtocolTCP, true
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: onlyInB + "-manual", Namespace: appNamespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: onlyInB, discoveryv1.LabelManagedBy: "istiodtest"},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{endpointIP}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}},
	}
	if _, err := k.DiscoveryV1().EndpointSlices(appNamespace).Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// requireService waits until istiod i knows the service of cluster from that cluster only,
// with the hand-written endpoint.
func requireService(t *testing.T, ctx context.Context, i *istiodtest.Istiod, cluster string) {
	t.Helper()
	testutil.Eventually(t, waitFor, fmt.Sprintf("istiod %s: %s from %s", i.ClusterID, onlyInBHost, cluster), func() error {
		svc, err := i.Service(ctx, onlyInBHost)
		if err != nil {
			return err
		}
		if svc == nil {
			return fmt.Errorf("not in /debug/registryz")
		}
		if got := slices.Sorted(maps.Keys(svc.ClusterVIPs.Addresses)); !slices.Equal(got, []string{cluster}) {
			return fmt.Errorf("/debug/registryz: cluster IPs from clusters %v, want only %s", got, cluster)
		}
		eps, err := i.Endpoints(ctx, onlyInBHost, appNamespace)
		if err != nil {
			return err
		}
		var got []string
		for c, list := range eps {
			for _, e := range list {
				got = append(got, c+"="+strings.Join(e.Addresses, ","))
			}
		}
		if want := []string{cluster + "=" + endpointIP}; !slices.Equal(got, want) {
			return fmt.Errorf("/debug/endpointShardz: endpoints %v, want %v", got, want)
		}
		return nil
	})
}

// requirePeerDropped waits until istiod i no longer has peer synced and no longer knows the
// service whose endpoints only peer has.
func requirePeerDropped(t *testing.T, ctx context.Context, i *istiodtest.Istiod, peer string) {
	t.Helper()
	testutil.Eventually(t, waitFor, fmt.Sprintf("istiod %s: %s dropped", i.ClusterID, peer), func() error {
		cl, err := i.Clusters(ctx)
		if err != nil {
			return err
		}
		for _, c := range cl {
			if c.ID == peer && c.SyncStatus == istiodtest.Synced {
				return fmt.Errorf("/debug/clusterz: %+v", c)
			}
		}
		svc, err := i.Service(ctx, onlyInBHost)
		if err != nil {
			return err
		}
		if svc != nil {
			return fmt.Errorf("/debug/registryz still has %s from %v", onlyInBHost, slices.Sorted(maps.Keys(svc.ClusterVIPs.Addresses)))
		}
		eps, err := i.Endpoints(ctx, onlyInBHost, appNamespace)
		if err != nil {
			return err
		}
		if len(eps) != 0 {
			return fmt.Errorf("/debug/endpointShardz still has %v", eps)
		}
		t.Logf("istiod %s: /debug/clusterz %+v", i.ClusterID, cl)
		return nil
	})
}

func requireNotSynced(t *testing.T, ctx context.Context, i *istiodtest.Istiod, peer string) {
	t.Helper()
	testutil.Eventually(t, waitFor, fmt.Sprintf("istiod %s: %s not synced", i.ClusterID, peer), func() error {
		cl, err := i.Clusters(ctx)
		if err != nil {
			return err
		}
		for _, c := range cl {
			if c.ID == peer && c.SyncStatus == istiodtest.Synced {
				return fmt.Errorf("/debug/clusterz: %+v", c)
			}
		}
		t.Logf("istiod %s: /debug/clusterz %+v", i.ClusterID, cl)
		return nil
	})
}

func requireSynced(t *testing.T, ctx context.Context, i *istiodtest.Istiod, peer string) {
	t.Helper()
	testutil.Eventually(t, waitFor, fmt.Sprintf("istiod %s: %s synced", i.ClusterID, peer), func() error {
		cl, err := i.Clusters(ctx)
		if err != nil {
			return err
		}
		for _, c := range cl {
			if c.ID == peer && c.SyncStatus == istiodtest.Synced {
				return nil
			}
		}
		return fmt.Errorf("/debug/clusterz: %+v", cl)
	})
}

package testenv_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
)

var shared = &testenv.Shared{Count: 3}

func TestMain(m *testing.M) {
	if os.Getenv(panicChildEnv) == "1" {
		panicChild()
	}
	os.Exit(shared.Run(m))
}

func clientFor(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// whoami returns the user name the API server sees for cfg.
func whoami(t *testing.T, cfg *rest.Config) (string, error) {
	t.Helper()
	r, err := clientFor(t, cfg).AuthenticationV1().SelfSubjectReviews().Create(context.Background(),
		&authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return r.Status.UserInfo.Username, nil
}

func TestSharedClustersStartInParallel(t *testing.T) {
	cs := shared.Get(t, 3)
	var sum time.Duration
	hosts, issuers, cas := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, c := range cs {
		t.Logf("cluster %s: %s, ready in %s", c.Name, c.Host, c.StartupTime.Round(time.Millisecond))
		sum += c.StartupTime
		hosts[c.Host], issuers[c.Issuer], cas[string(c.CAData)] = true, true, true
		v, err := c.Client().Discovery().ServerVersion()
		if err != nil {
			t.Fatalf("%s: server version: %v", c.Name, err)
		}
		if v.GitVersion != testenv.KubernetesVersion {
			t.Errorf("%s: server version %s, want %s", c.Name, v.GitVersion, testenv.KubernetesVersion)
		}
		if !strings.HasPrefix(c.Host, "https://127.0.0.1:") {
			t.Errorf("%s: host %s is not on 127.0.0.1", c.Name, c.Host)
		}
	}
	if len(hosts) != 3 || len(issuers) != 3 || len(cas) != 3 {
		t.Errorf("clusters share hosts, issuers or CAs: %d hosts, %d issuers, %d CAs", len(hosts), len(issuers), len(cas))
	}
	total := shared.StartupTime()
	t.Logf("3 clusters (etcd, API servers, controller managers) ready in %s; sum of per-cluster times %s",
		total.Round(time.Millisecond), sum.Round(time.Millisecond))
	if total >= sum {
		t.Errorf("clusters did not start in parallel: total %s >= sum of per-cluster times %s", total, sum)
	}

	for _, p := range shared.Environment().Processes() {
		if rss, hwm, ok := memory(p.PID); ok {
			t.Logf("%s: RSS %d MB, peak %d MB", p.Name, rss>>10, hwm>>10)
		}
	}

	// The clusters share one etcd but not their objects.
	ctx := context.Background()
	ns := cs[0].Namespace(t)
	if _, err := cs[1].Client().CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s of %s visible in %s: %v", ns, cs[0].Name, cs[1].Name, err)
	}
}

func TestControllersPopulateNamespace(t *testing.T) {
	t.Parallel()
	c := shared.Get(t, 1)[0]
	ctx := context.Background()
	ns := c.Namespace(t)
	testutil.Eventually(t, 30*time.Second, "default service account", func() error {
		_, err := c.Client().CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	testutil.Eventually(t, 30*time.Second, "kube-root-ca.crt", func() error {
		cm, err := c.Client().CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		if err == nil && cm.Data["ca.crt"] != string(c.CAData) {
			t.Fatalf("kube-root-ca.crt holds another CA")
		}
		return err
	})
	testutil.Eventually(t, 30*time.Second, "aggregated view role", func() error {
		r, err := c.Client().RbacV1().ClusterRoles().Get(ctx, "view", metav1.GetOptions{})
		if err == nil && len(r.Rules) == 0 {
			return errFmt("ClusterRole view has no rules yet")
		}
		return err
	})
}

// memory reads a process's resident and peak resident set size in KiB from
// /proc (Linux only).
func memory(pid int) (rss, hwm int, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "VmRSS:":
			rss = n
		case "VmHWM:":
			hwm = n
		}
	}
	return rss, hwm, true
}

type errFmt string

func (e errFmt) Error() string { return string(e) }

func TestServiceAccountTokenSecret(t *testing.T) {
	t.Parallel()
	c := shared.Get(t, 3)[1]
	ctx := context.Background()
	ns := c.Namespace(t)
	core := c.Client().CoreV1()
	if _, err := core.ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "reader"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "reader-token",
			Annotations: map[string]string{corev1.ServiceAccountNameKey: "reader"},
		},
		Type: corev1.SecretTypeServiceAccountToken,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var secret *corev1.Secret
	testutil.Eventually(t, 30*time.Second, "token Secret filled in", func() error {
		var err error
		secret, err = core.Secrets(ns).Get(ctx, "reader-token", metav1.GetOptions{})
		if err == nil && len(secret.Data[corev1.ServiceAccountTokenKey]) == 0 {
			return errFmt("no token yet")
		}
		return err
	})
	if got := string(secret.Data[corev1.ServiceAccountRootCAKey]); got != string(c.CAData) {
		t.Errorf("token Secret ca.crt is not the cluster CA")
	}
	if got := string(secret.Data[corev1.ServiceAccountNamespaceKey]); got != ns {
		t.Errorf("token Secret namespace = %q, want %q", got, ns)
	}
	user, err := whoami(t, c.TokenConfig(string(secret.Data[corev1.ServiceAccountTokenKey])))
	if err != nil {
		t.Fatalf("authenticate with the Secret's token: %v", err)
	}
	if want := "system:serviceaccount:" + ns + ":reader"; user != want {
		t.Errorf("token authenticates as %q, want %q", user, want)
	}
}

func TestTokenRequest(t *testing.T) {
	t.Parallel()
	c := shared.Get(t, 3)[2]
	ctx := context.Background()
	ns := c.Namespace(t)
	if _, err := c.Client().CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "requester"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hour := int64(3600)
	tr, err := c.Client().CoreV1().ServiceAccounts(ns).CreateToken(ctx, "requester", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &hour},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}
	claims := jwtClaims(t, tr.Status.Token)
	if claims.Issuer != c.Issuer {
		t.Errorf("token issuer %q, want %q", claims.Issuer, c.Issuer)
	}
	user, err := whoami(t, c.TokenConfig(tr.Status.Token))
	if err != nil {
		t.Fatalf("authenticate with the requested token: %v", err)
	}
	if want := "system:serviceaccount:" + ns + ":requester"; user != want {
		t.Errorf("token authenticates as %q, want %q", user, want)
	}
	// Tokens are bound to the issuing cluster's key.
	other := shared.Get(t, 3)[0]
	if _, err := whoami(t, other.TokenConfig(tr.Status.Token)); !apierrors.IsUnauthorized(err) {
		t.Errorf("%s's token accepted by %s: %v", c.Name, other.Name, err)
	}
}

type claims struct {
	Issuer string `json:"iss"`
}

func jwtClaims(t *testing.T, token string) claims {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRBACDeniesUnprivilegedToken(t *testing.T) {
	t.Parallel()
	c := shared.Get(t, 1)[0]
	ctx := context.Background()
	ns := c.Namespace(t)
	admin := c.Client()
	if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "nobody"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "nobody", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nobody := clientFor(t, c.TokenConfig(tr.Status.Token))
	if _, err := nobody.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("list secrets with an unprivileged token: got %v, want Forbidden", err)
	}
	if _, err := nobody.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("list namespaces with an unprivileged token: got %v, want Forbidden", err)
	}

	// A Role grants exactly what it says.
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "configmap-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "nobody-reads-configmaps"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "configmap-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "nobody"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "RoleBinding takes effect", func() error {
		_, err := nobody.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		return err
	})
	if _, err := nobody.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("list secrets after a configmap-only grant: got %v, want Forbidden", err)
	}

	// A client certificate outside system:masters is subject to RBAC too.
	cfg, err := c.UserConfig("alice", "developers")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clientFor(t, cfg).CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("list secrets as alice: got %v, want Forbidden", err)
	}
}

func TestNamespaceDeletionCompletes(t *testing.T) {
	t.Parallel()
	c := shared.Get(t, 2)[1]
	ctx := context.Background()
	core := c.Client().CoreV1()
	name := testenv.UniqueName(t)
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.ConfigMaps(name).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "data"}, Data: map[string]string{"k": "v"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := core.Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 60*time.Second, "namespace deleted", func() error {
		ns, err := core.Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil {
			return errFmt("namespace is " + string(ns.Status.Phase))
		}
		return err
	})
}

func TestGarbageCollectorDeletesDependents(t *testing.T) {
	t.Parallel()
	c := shared.Get(t, 1)[0]
	ctx := context.Background()
	ns := c.Namespace(t)
	cms := c.Client().CoreV1().ConfigMaps(ns)
	owner, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name:            "dependent",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID}},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 60*time.Second, "dependent collected", func() error {
		_, err := cms.Get(ctx, "dependent", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return errFmt("dependent still exists")
	})
}

// kubectl is an independent client: it must accept the kubeconfigs as
// written, alone and merged.
func TestKubectl(t *testing.T) {
	t.Parallel()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv(testenv.EnvRequire) == "1" {
			t.Fatalf("kubectl not found: %v", err)
		}
		t.Skipf("kubectl not found: %v", err)
	}
	cs := shared.Get(t, 2)
	home := t.TempDir()
	run := func(kubeconfig string, args ...string) string {
		t.Helper()
		cmd := exec.Command(kubectl, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+home)
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return strings.TrimSpace(string(out))
	}

	c := cs[0]
	ns := testenv.UniqueName(t)
	run(c.Kubeconfig, "create", "namespace", ns)
	t.Cleanup(func() {
		_ = c.Client().CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	if _, err := c.Client().CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); err != nil {
		t.Errorf("namespace created by kubectl not seen by client-go: %v", err)
	}
	run(c.Kubeconfig, "-n", ns, "create", "configmap", "settings", "--from-literal=mode=strict")
	if got := run(c.Kubeconfig, "-n", ns, "get", "configmap", "settings", "-o", "jsonpath={.data.mode}"); got != "strict" {
		t.Errorf("kubectl get configmap: %q, want strict", got)
	}
	if got := run(c.Kubeconfig, "auth", "can-i", "*", "*"); got != "yes" {
		t.Errorf("admin kubectl auth can-i: %q, want yes", got)
	}

	merged := c.Kubeconfig + string(filepath.ListSeparator) + cs[1].Kubeconfig
	contexts := strings.Fields(run(merged, "config", "get-contexts", "-o", "name"))
	slices.Sort(contexts)
	if want := []string{cs[0].Name, cs[1].Name}; !slices.Equal(contexts, want) {
		t.Errorf("merged kubeconfig contexts = %v, want %v", contexts, want)
	}
	if got := run(merged, "--context", cs[1].Name, "get", "namespace", ns, "--ignore-not-found", "-o", "name"); got != "" {
		t.Errorf("namespace %s of %s found through context %s: %q", ns, c.Name, cs[1].Name, got)
	}
}

package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// addonClusters are the clusters of samples/addons.
var addonClusters = []string{"cluster3", "cluster4"}

// prismaCanaries plants the secrets of a copy of samples/addons: the console token as the file
// holds it and as a Secret stores it, and every value of the Defender manifest's Secrets, base64
// as the file holds it and each line of it decoded (PEM armour aside).
func prismaCanaries(t *testing.T, cn *canaries, dir string) (token string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "prisma-token.txt"))
	if err != nil {
		t.Fatal(err)
	}
	token = strings.TrimSpace(string(raw))
	cn.add("Prisma Cloud console token", token)
	cn.add("Prisma Cloud console token, base64", base64.StdEncoding.EncodeToString([]byte(token)))
	manifest, err := os.ReadFile(filepath.Join(dir, "prisma-defender.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, errs := v1alpha1.ParseDefenderManifest("prisma-defender.yaml", manifest, v1alpha1.DefaultPrismaNamespace)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	n := 0
	for _, o := range objs {
		if o["kind"] != "Secret" {
			continue
		}
		data, _ := o["data"].(map[string]any)
		for k, v := range data {
			what := fmt.Sprintf("Defender manifest Secret key %s", k)
			cn.add(what+", base64", v.(string))
			decoded, err := base64.StdEncoding.DecodeString(v.(string))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(decoded), "\n") {
				if line = strings.TrimSpace(line); len(line) >= 12 && !strings.HasPrefix(line, "-----") {
					cn.add(what, line)
				}
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("the sample's Defender manifest has no Secret values to look for")
	}
	return token
}

// kubectlAgainst runs kubectl against a sandbox cluster, as an operator would, with a kubeconfig
// of the endpoint and CA the container API reports and the sandbox's access token.
func kubectlAgainst(t *testing.T, sb *sandboxEnv, cluster string) func(args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal("kubectl is not installed; the operator's view of this test needs it")
	}
	cfg := clusterConfig(t, sb, cluster)
	kc := clientcmdapi.NewConfig()
	kc.Clusters[cluster] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[cluster] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts[cluster] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: cluster}
	kc.CurrentContext = cluster
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", path}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
}

// gkeClusters lists the names of the GKE clusters the simulator holds in the sample's project.
func gkeClusters(t *testing.T, sb *sandboxEnv) []string {
	t.Helper()
	resp, err := http.Get(sb.env[endpointEnv] + "/v1/projects/asm-multicluster-demo/locations/-/clusters")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var list struct {
		Clusters []struct{ Name string } `json:"clusters"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("list clusters: %v\n%s", err, body)
	}
	var names []string
	for _, c := range list.Clusters {
		names = append(names, c.Name)
	}
	return names
}

// samples/addons end to end in the sandbox, whose nodes run pods: apply installs the Prisma Cloud
// Defenders in every cluster (a ready Defender on every node, as kubectl shows, the token Secret
// holding the token of tokenFile, the namespace privileged and not injected, the Console on the
// allow-list); a second plan has no changes; verify's add-on checks pass; an object the vendor's
// manifest no longer holds is pruned while a hand-made object in the Defender namespace stays;
// destroy removes the clusters and everything in them. No command prints, saves or writes the
// console token or any value of the manifest's Secrets: validate, plan (text, JSON, --out),
// apply, render (overlays, --derived, --graph), verify (text, JSON, --junit) and destroy.
func TestAddonsSample(t *testing.T) {
	sb := startWorkloadSandbox(t)
	ctx := context.Background()
	seedOrdersDB(t, sb)
	file := fedtest.WithRoot(t, "../../samples/addons/federation.yaml")
	dir := filepath.Dir(file)
	cn := &canaries{t: t, values: map[string]string{}}
	token := prismaCanaries(t, cn, dir)
	ns := v1alpha1.DefaultPrismaNamespace
	must := func(r result, args ...string) result {
		t.Helper()
		if r.code != exitOK {
			t.Fatalf("%v: code %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		return r
	}
	runOK := func(args ...string) result {
		t.Helper()
		return must(cn.run(sb, args...), args...)
	}
	files := map[string]string{}

	runOK("validate", "-f", file)
	planFile := filepath.Join(dir, "plan.json")
	runOK("plan", "-f", file, "--out", planFile)
	files["the saved plan"] = planFile
	runOK("plan", "-f", file, "-o", "json")
	// The clusters do not exist yet: apply shows the cluster side's plan once it has made them.
	ap := runOK("apply", planFile, "--auto-approve", "--timeout", "3m")
	for _, want := range []string{"k8s:cluster3/twistlock/DaemonSet/twistlock-defender-ds", "k8s:cluster4/twistlock/Secret/prisma-cloud-token", "(sensitive sha256:"} {
		if !strings.Contains(ap.stdout, want) {
			t.Errorf("apply does not show %s in the cluster side's plan", want)
		}
	}

	t.Run("the Defenders run in every cluster", func(t *testing.T) {
		for _, name := range addonClusters {
			client := clusterClient(t, sb, name)
			nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(nodes.Items) == 0 {
				t.Fatalf("%s has no nodes", name)
			}
			// kubectl, as an operator checks it; apply has waited for every Defender to be ready.
			got := kubectlAgainst(t, sb, name)("get", "daemonset", "-n", ns, "twistlock-defender-ds", "-o", "jsonpath={.status.desiredNumberScheduled} {.status.numberReady}")
			if want := fmt.Sprintf("%d %d", len(nodes.Items), len(nodes.Items)); got != want {
				t.Errorf("%s: the Defender DaemonSet has desired and ready %q, want %q for %d nodes", name, got, want, len(nodes.Items))
			}
			pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=twistlock-defender"})
			if err != nil {
				t.Fatal(err)
			}
			onNode := map[string]int{}
			for _, p := range pods.Items {
				for _, c := range p.Status.Conditions {
					if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
						onNode[p.Spec.NodeName]++
					}
				}
			}
			for _, n := range nodes.Items {
				if onNode[n.Name] != 1 {
					t.Errorf("%s: node %s runs %d ready Defenders, want 1", name, n.Name, onNode[n.Name])
				}
			}

			sec, err := client.CoreV1().Secrets(ns).Get(ctx, federation.PrismaTokenSecret, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if string(sec.Data[federation.PrismaTokenKey]) != token {
				t.Errorf("%s: Secret %s does not hold the token of prisma-token.txt", name, federation.PrismaTokenSecret)
			}
			n, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range map[string]string{"pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/audit": "privileged",
				"pod-security.kubernetes.io/warn": "privileged", "istio-injection": "disabled", federation.KubeLabelManagedBy: federation.ManagedByValue} {
				if n.Labels[k] != v {
					t.Errorf("%s: namespace %s label %s = %q, want %q", name, ns, k, n.Labels[k], v)
				}
			}
			dyn, err := dynamic.NewForConfig(clusterConfig(t, sb, name))
			if err != nil {
				t.Fatal(err)
			}
			se, err := dyn.Resource(schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "serviceentries"}).
				Namespace("istio-system").Get(ctx, federation.PrismaConsoleEntry, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if hosts, _, _ := unstructured.NestedStringSlice(se.Object, "spec", "hosts"); len(hosts) != 1 || hosts[0] != "us-west1.cloud.twistlock.com" {
				t.Errorf("%s: the Console's ServiceEntry has hosts %v", name, hosts)
			}
		}
	})

	if r := cn.run(sb, "plan", "-f", file, "--detailed-exitcode"); r.code != exitOK {
		t.Errorf("the plan after apply has changes (code %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	runOK("render", "-f", file)
	runOK("render", "-f", file, "--derived")
	runOK("render", "-f", file, "--graph")

	junit := filepath.Join(dir, "verify.xml")
	files["the JUnit report"] = junit
	v := runOK("verify", "-f", file, "--only", "ASMFED-ADDON-00*", "--junit", junit)
	for _, want := range []string{"ASMFED-ADDON-001", "ASMFED-ADDON-002"} {
		if !strings.Contains(v.stdout, want) {
			t.Errorf("verify --only ASMFED-ADDON-00* does not report %s:\n%s", want, v.stdout)
		}
	}
	var rep struct {
		Checks []struct{ ID, Status string } `json:"checks"`
	}
	vj := runOK("verify", "-f", file, "--only", "ASMFED-ADDON-00*", "-o", "json")
	if err := json.Unmarshal([]byte(vj.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Checks {
		if c.Status != "ok" {
			t.Errorf("%s: %s, want ok", c.ID, c.Status)
		}
	}
	if len(rep.Checks) != 2 {
		t.Errorf("verify --only ASMFED-ADDON-00* ran %d checks, want 2: %+v", len(rep.Checks), rep.Checks)
	}
	// The whole of verify, as an operator runs it after apply: the traffic probes need images the
	// sandbox does not run.
	runOK("verify", "-f", file, "--skip-traffic")

	t.Run("an object the manifest no longer holds is pruned, a hand-made one stays", func(t *testing.T) {
		client := clusterClient(t, sb, "cluster3")
		handMade := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "operator-notes", Namespace: ns}, StringData: map[string]string{"note": "kept by hand"}}
		if _, err := client.CoreV1().Secrets(ns).Create(ctx, handMade, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		manifest := filepath.Join(dir, "prisma-defender.yaml")
		data, err := os.ReadFile(manifest)
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, doc := range strings.Split(string(data), "\n---\n") {
			if !strings.Contains(doc, "\nkind: Service\n") {
				keep = append(keep, doc)
			}
		}
		if len(keep) != strings.Count(string(data), "\n---\n") {
			t.Fatal("the sample's manifest no longer holds exactly one Service")
		}
		if err := os.WriteFile(manifest, []byte(strings.Join(keep, "\n---\n")), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runOK("plan", "-f", file)
		for _, c := range addonClusters {
			if want := fmt.Sprintf("- k8s:%s/twistlock/Service/defender", c); !strings.Contains(r.stdout, want) {
				t.Errorf("plan does not delete the Service in %s:\n%s", c, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "operator-notes") {
			t.Errorf("plan names the hand-made Secret:\n%s", r.stdout)
		}
		runOK("apply", "-f", file, "--auto-approve")
		for _, c := range addonClusters {
			if _, err := clusterClient(t, sb, c).CoreV1().Services(ns).Get(ctx, "defender", metav1.GetOptions{}); err == nil {
				t.Errorf("%s: the Service the manifest no longer holds is still there", c)
			}
		}
		if _, err := client.CoreV1().Secrets(ns).Get(ctx, "operator-notes", metav1.GetOptions{}); err != nil {
			t.Errorf("the hand-made Secret in %s is gone: %v", ns, err)
		}
		if r := cn.run(sb, "plan", "-f", file, "--detailed-exitcode"); r.code != exitOK {
			t.Errorf("the plan after the prune has changes (code %d):\n%s", r.code, r.stdout)
		}
	})

	runOK("destroy", "-f", file, "--auto-approve")
	if left := gkeClusters(t, sb); len(left) > 0 {
		t.Errorf("destroy left the clusters %v, and the Defenders in them", left)
	}

	for what, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cn.none(what, string(data))
	}
}

// A Defender manifest whose image path carries the tenant's registry token: render --derived,
// in every format, shows the image with the token redacted and never the token.
func TestRenderRedactsRegistryToken(t *testing.T) {
	file := fedtest.WithRoot(t, "../../samples/addons/federation.yaml")
	manifest := filepath.Join(filepath.Dir(file), "prisma-defender.yaml")
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	const token = "CANARYregistryToken0123456789abcdef"
	const plain = "image: registry.twistlock.com/twistlock/defender:"
	if !strings.Contains(string(data), plain) {
		t.Fatalf("the sample's manifest no longer names %q", plain)
	}
	data = []byte(strings.Replace(string(data), plain, "image: registry-auth.twistlock.com/tw_"+token+"/twistlock/defender:", 1))
	if err := os.WriteFile(manifest, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--derived"}, {"--derived", "-o", "json"}, {"--derived", "-o", "yaml"}, {}, {"--graph"}} {
		r := run(t, append([]string{"render", "-f", file}, args...)...)
		if r.code != exitOK {
			t.Fatalf("render %v: code %d\n%s", args, r.code, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, token) {
			t.Errorf("render %v shows the registry token", args)
		}
		// The text names the objects; JSON and YAML show them whole.
		if len(args) > 1 && args[0] == "--derived" && !strings.Contains(r.stdout, "registry-auth.twistlock.com/tw_<redacted>/twistlock/defender:") {
			t.Errorf("render %v does not show the image with the token redacted:\n%s", args, r.stdout)
		}
	}
	if r := run(t, "validate", "-f", file); r.code != exitOK || strings.Contains(r.stdout+r.stderr, token) {
		t.Errorf("validate: code %d, or it shows the token\n%s%s", r.code, r.stdout, r.stderr)
	}
}

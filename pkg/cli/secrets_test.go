package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// canaries are secrets planted in the inputs: no command may print them, save them in a plan or
// send them anywhere.
type canaries struct {
	t      *testing.T
	values map[string]string // canary → what it is
}

func (c *canaries) add(what, v string) {
	if len(v) < 12 {
		c.t.Fatalf("canary %s is too short to search for: %q", what, v)
	}
	c.values[v] = what
}

// pemBody plants every base64 line of a PEM file's body.
func (c *canaries) pemBody(what string, data []byte) {
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); len(line) >= 40 && !strings.HasPrefix(line, "-----") {
			c.add(what, line)
		}
	}
}

// none fails when out holds any canary.
func (c *canaries) none(where, out string) {
	c.t.Helper()
	for v, what := range c.values {
		if strings.Contains(out, v) {
			c.t.Errorf("%s shows the %s", where, what)
		}
	}
}

func (c *canaries) run(sb *sandboxEnv, args ...string) result {
	c.t.Helper()
	r := runAgainst(c.t, sb, args...)
	c.none(strings.Join(args, " ")+": stdout", r.stdout)
	c.none(strings.Join(args, " ")+": stderr", r.stderr)
	return r
}

// The secret-canary suite: tokens, CA keys, TLS keys, a token file named as an overlay, as -f
// and as a saved plan's source, and remote secrets carrying tokenFile or
// insecure-skip-tls-verify. Nothing of them shows in any stdout, stderr or plan file of validate,
// plan (text, JSON, --out), render, apply and verify, error paths included, nor goes out in a
// request.
func TestSecretCanaries(t *testing.T) {
	sb := startSandbox(t)
	dir := t.TempDir()
	cn := &canaries{t: t, values: map[string]string{}}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	token := "CANARY-token-" + hex.EncodeToString(raw)
	cn.add("token in a token file", token)
	tokenFile := write(t, dir, "token", token+"\n")

	// Every request anyone sends to a server a remote secret names.
	var mu sync.Mutex
	var outbound []string
	recorder := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dump, _ := httputil.DumpRequest(r, true)
		mu.Lock()
		outbound = append(outbound, string(dump))
		mu.Unlock()
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	t.Cleanup(recorder.Close)

	// A plug-in CA root and an ingress certificate given as files.
	if r := run(t, "ca", "init", "--out", filepath.Join(dir, "ca")); r.code != 0 {
		t.Fatalf("ca init: %s", r.stderr)
	}
	rootKey, err := os.ReadFile(filepath.Join(dir, "ca", "root-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cn.pemBody("CA key", rootKey)
	for _, name := range []string{"leaf-cert.pem", "leaf-key.pem"} {
		data, err := os.ReadFile(filepath.Join("../api/v1alpha1/testdata/files", name))
		if err != nil {
			t.Fatal(err)
		}
		write(t, dir, name, string(data))
		if name == "leaf-key.pem" {
			cn.pemBody("TLS key", data)
		}
	}
	sample, err := os.ReadFile(twoCluster)
	if err != nil {
		t.Fatal(err)
	}
	fedYAML := strings.Replace(string(sample), "        credentialName: shop-tls\n", "        certFile: leaf-cert.pem\n        keyFile: leaf-key.pem\n", 1)
	if !strings.Contains(fedYAML, "    ca:\n      mode: plugin\n") {
		t.Fatal("the sample changed: it no longer uses the plug-in CA from ca/ beside it")
	}
	fed := write(t, dir, "federation.yaml", fedYAML)
	withOverlay := write(t, dir, "overlay-token.yaml", strings.Replace(fedYAML, "  mesh:\n", "  mesh:\n    overlays:\n      - file: token\n", 1))

	// A token file named as an overlay, as -f, and as a saved plan's source: every command's
	// error path.
	for _, f := range []string{withOverlay, tokenFile} {
		for _, args := range [][]string{{"validate"}, {"validate", "-o", "json"}, {"render"}, {"plan"}, {"plan", "-o", "json"}, {"apply", "--auto-approve"}, {"verify"}, {"verify", "-o", "json"}} {
			if r := cn.run(sb, append(args, "-f", f)...); r.code == 0 {
				t.Errorf("%v -f %s succeeded", args, f)
			}
		}
	}
	bogus, _ := json.Marshal(map[string]any{"formatVersion": plan.FormatVersion, "federation": "asm-sample", "changes": []any{},
		"summary": map[string]int{}, "liveFingerprint": map[string]any{}, "source": map[string]string{"file": tokenFile, "digest": "sha256:00"}})
	if r := cn.run(sb, "apply", write(t, dir, "bogus-plan.json", string(bogus))); r.code == 0 {
		t.Error("a saved plan naming a token file as its source was applied")
	}
	// -f on a device fails at once instead of reading forever.
	done := make(chan result, 1)
	go func() { done <- runAgainst(t, sb, "validate", "-f", "/dev/zero") }()
	select {
	case r := <-done:
		if r.code == 0 || !strings.Contains(r.stderr, "not a regular file") {
			t.Errorf("validate -f /dev/zero: code %d\n%s", r.code, r.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("validate -f /dev/zero still running after 20s")
	}

	// The real flow: plan (text, JSON, saved), apply, verify.
	planFile := filepath.Join(dir, "plan.json")
	cn.run(sb, "validate", "-f", fed)
	cn.run(sb, "plan", "-f", fed, "-o", "json")
	r := cn.run(sb, "plan", "-f", fed, "--out", planFile)
	if r.code != 0 {
		t.Fatalf("plan: code %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "files read:") || !strings.Contains(r.stdout, "leaf-key.pem") {
		t.Errorf("plan does not say which files it read:\n%s", r.stdout)
	}
	if r := cn.run(sb, "apply", planFile, "--wait=false", "--auto-approve"); r.code != 0 {
		t.Fatalf("apply: code %d\n%s", r.code, r.stderr)
	}
	cn.run(sb, "render", "-f", fed)

	// The reader tokens apply issued are secrets too.
	cs := clusterClient(t, sb, "cluster3")
	sec, err := cs.CoreV1().Secrets("istio-system").Get(context.Background(), "istio-remote-secret-cluster4", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.Load(sec.Data["cluster4"])
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range kc.AuthInfos {
		cn.add("reader token", a.Token)
	}
	if r := cn.run(sb, "verify", "-f", fed); r.code != 0 {
		t.Fatalf("verify after apply: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	cn.run(sb, "plan", "-f", fed)
	cn.run(sb, "plan", "-f", fed, "-o", "json", "--out", planFile)

	// Remote secrets rewritten by someone who can write Secrets in istio-system.
	for _, tc := range []struct {
		name     string
		user     clientcmdapi.AuthInfo
		insecure bool
		want     string
	}{
		{"tokenFile", clientcmdapi.AuthInfo{TokenFile: tokenFile}, false, "tokenFile, which istiod refuses"},
		{"insecure-skip-tls-verify", clientcmdapi.AuthInfo{Token: token}, true, "insecure-skip-tls-verify"},
	} {
		bad := clientcmdapi.NewConfig()
		bad.Clusters["c"] = &clientcmdapi.Cluster{Server: recorder.URL, InsecureSkipTLSVerify: tc.insecure}
		if !tc.insecure {
			bad.Clusters["c"].CertificateAuthorityData = pemOf(recorder.Certificate().Raw)
		}
		bad.AuthInfos["u"] = &tc.user
		bad.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
		bad.CurrentContext = "c"
		data, err := clientcmd.Write(*bad)
		if err != nil {
			t.Fatal(err)
		}
		sec.Data["cluster4"] = data
		if sec, err = cs.CoreV1().Secrets("istio-system").Update(context.Background(), sec, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		r := cn.run(sb, "verify", "-f", fed)
		if r.code != exitChecksFailed || !strings.Contains(r.stdout, tc.want) {
			t.Errorf("verify with a remote secret carrying %s: code %d\n%s%s", tc.name, r.code, r.stdout, r.stderr)
		}
		cn.run(sb, "verify", "-f", fed, "-o", "json")
	}

	saved, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	cn.none("the saved plan", string(saved))
	mu.Lock()
	defer mu.Unlock()
	if len(outbound) > 0 {
		t.Errorf("%d requests went to the server a rewritten remote secret names; the first:\n%s", len(outbound), outbound[0])
	}
	for i, req := range outbound {
		cn.none(fmt.Sprintf("outbound request %d", i), req)
	}
}

func write(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pemOf(der []byte) []byte {
	return []byte("-----BEGIN CERTIFICATE-----\n" + base64.StdEncoding.EncodeToString(der) + "\n-----END CERTIFICATE-----\n")
}

// clusterClient reaches a sandbox cluster as the plugin does: the endpoint and CA the container
// API reports, and the sandbox's access token.
func clusterClient(t *testing.T, sb *sandboxEnv, name string) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(clusterConfig(t, sb, name))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// clusterConfig is the rest configuration clusterClient uses.
func clusterConfig(t *testing.T, sb *sandboxEnv, name string) *rest.Config {
	t.Helper()
	resp, err := http.Get(sb.env[endpointEnv] + "/v1/projects/asm-multicluster-demo/locations/us-west2/clusters/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var c struct {
		Endpoint   string `json:"endpoint"`
		MasterAuth struct {
			ClusterCaCertificate string `json:"clusterCaCertificate"`
		} `json:"masterAuth"`
	}
	if err := json.Unmarshal(body, &c); err != nil || c.Endpoint == "" {
		t.Fatalf("get cluster %s: %v\n%s", name, err, body)
	}
	ca, err := base64.StdEncoding.DecodeString(c.MasterAuth.ClusterCaCertificate)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := os.ReadFile(sb.env[accessTokenFileEnv])
	if err != nil {
		t.Fatal(err)
	}
	host := c.Endpoint
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	return &rest.Config{Host: host, BearerToken: strings.TrimSpace(string(tok)), TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
}

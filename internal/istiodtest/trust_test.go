package istiodtest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	pb "istio.io/api/security/v1alpha1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/istiodtest"
	"github.com/asmfed/kubectl-asmfed/internal/pemcert"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/clusterlayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
	"github.com/asmfed/kubectl-asmfed/pkg/verify"
)

const (
	// workloadNamespace and workloadAccount are the identity a workload certificate is issued to.
	workloadNamespace = "shop"
	workloadAccount   = "cart"
	// caAudience is the audience istiod's CA accepts tokens for (TOKEN_AUDIENCES, default istio-ca).
	caAudience = "istio-ca"
)

// applied is a federation planned and applied to local clusters by the cluster-side engine.
type applied struct {
	fed     *v1alpha1.Federation
	derived *federation.Desired
	root    *istio.Root
	// dir holds the federation's files: the plug-in root in ca/, where the file looks for it.
	dir string
}

// applyFederation installs the Istio CRDs in every cluster, then plans and applies b's federation,
// defaulted as the CLI defaults it (an in-cluster control plane with the plug-in CA, its root
// created in a temporary directory as `kubectl asmfed ca init` would), with the cluster-side
// engine: istio-system, namespaces, reader accounts and tokens, remote secrets pointing at each
// peer's local API server, and cacerts.
func applyFederation(t *testing.T, ctx context.Context, cs []*testenv.Cluster, b *fedtest.Builder, namespaces ...string) applied {
	t.Helper()
	mark := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	for n, c := range cs {
		wg.Go(func() {
			_, errs[n] = istiodtest.InstallCRDs(ctx, c.RESTConfig())
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("Istio CRDs: %s", time.Since(mark).Round(time.Millisecond))

	mark = time.Now()
	configs := map[string]*rest.Config{}
	peers := map[string]string{}
	for n, c := range cs {
		b.Cluster(fedtest.Cluster(c.Name).Ranges(fmt.Sprintf("10.10.%d.0/24", n), fmt.Sprintf("10.%d.0.0/16", 100+n),
			fmt.Sprintf("172.16.%d.0/24", n), fmt.Sprintf("192.168.%d.0/28", n)))
		configs[c.Name] = c.RESTConfig()
		peers[c.Name] = c.Host
	}
	f := b.Raw()
	for _, ns := range namespaces {
		f.Spec.Namespaces = append(f.Spec.Namespaces, v1alpha1.Namespace{Name: ns})
	}
	v1alpha1.SetDefaults(f)
	if f.Spec.Mesh.CA.Mode != v1alpha1.CAPlugin {
		t.Fatalf("an in-cluster control plane defaults to mesh.ca.mode %q, want plugin", f.Spec.Mesh.CA.Mode)
	}
	dir := t.TempDir()
	fedtest.Root(t, dir)
	root, err := istio.LoadRootFiles(v1alpha1.ResolvePath(dir, f.Spec.Mesh.CA.RootCertFile), v1alpha1.ResolvePath(dir, f.Spec.Mesh.CA.RootKeyFile))
	if err != nil {
		t.Fatalf("the root at the default paths: %v", err)
	}
	d, err := federation.Compile(f, federation.Facts{})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	r, err := clusterlayer.Plan(ctx, configs, d, clusterlayer.Options{PeerServers: peers, CARoot: root})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	rep, err := clusterlayer.Apply(ctx, r, clusterlayer.ApplyOptions{})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("apply: %v", err)
	}
	t.Logf("plan and apply: %s, %d steps", time.Since(mark).Round(time.Millisecond), len(rep.Results))
	return applied{fed: f, derived: d, root: root, dir: dir}
}

// TestOneRootThroughIstiod applies a three-cluster federation with the plug-in CA, runs a real
// istiod per cluster with the cacerts apply installed, and measures the root of trust: every
// istiod publishes the file's root in every namespace, a workload certificate cluster 1's istiod
// issues through its CA service verifies against cluster 2's published root, and an istiod
// started without cacerts signs with a root of its own, which ASMFED-TRUST-001 reports by name.
func TestOneRootThroughIstiod(t *testing.T) {
	istiodtest.Require(t)
	begin := time.Now()
	cs := testenv.Clusters(t, 3)
	ctx := context.Background()
	t.Logf("clusters: %s", time.Since(begin).Round(time.Millisecond))

	a := applyFederation(t, ctx, cs, fedtest.New("mesh").FleetProject("fleet-project", 123456), workloadNamespace)
	trustDomain := a.fed.Spec.Mesh.TrustDomain
	mark := time.Now()
	ids := istiodtest.StartT(t, cs, istiodtest.Options{Revision: a.derived.Mesh.Revision, MeshConfig: "trustDomain: " + trustDomain + "\n"})
	for _, i := range ids {
		if !i.PluggedCA {
			t.Fatalf("istiod for %s started without the cacerts apply installed", i.ClusterID)
		}
		t.Logf("istiod for %s: pid %d, ready in %s", i.ClusterID, i.PID(), i.StartupTime.Round(time.Millisecond))
	}
	t.Logf("3 istiods: %s", time.Since(mark).Round(time.Millisecond))

	configs := map[string]*rest.Config{}
	for _, c := range cs {
		configs[c.Name] = c.RESTConfig()
	}
	env := &verify.Env{Federation: a.fed, Derived: a.derived, BaseDir: a.dir, Clusters: configs}
	namespaces := []string{istiodtest.Namespace, workloadNamespace}

	t.Run("every istiod publishes the file's root in every namespace", func(t *testing.T) {
		start := time.Now()
		for _, c := range cs {
			for _, ns := range namespaces {
				testutil.Eventually(t, waitFor, fmt.Sprintf("%s/%s/%s in %s", ns, verify.RootConfigMap, "root-cert.pem", c.Name), func() error {
					got, err := publishedRoot(ctx, c, ns)
					if err != nil {
						return err
					}
					if !got.Equal(a.root.Cert) {
						return fmt.Errorf("root %s, want the file's %s", istio.Fingerprint(got), a.root.Fingerprint())
					}
					return nil
				})
			}
		}
		t.Logf("the file's root %s published in %v of every cluster %s after the istiods were ready", a.root.Fingerprint(), namespaces, time.Since(start).Round(time.Millisecond))
		r := verify.Run(ctx, env, trustCheck(t))
		for _, f := range r.Results {
			if f.Status != verify.OK {
				t.Errorf("ASMFED-TRUST-001: %+v", f)
			}
		}
		if len(r.Results) != 2*len(cs) {
			t.Errorf("ASMFED-TRUST-001 found %d findings, want cacerts and the published root of each of %d clusters: %+v", len(r.Results), len(cs), r.Results)
		}
	})

	t.Run("a workload certificate of c1's istiod verifies against c2's published root", func(t *testing.T) {
		c2Root, err := publishedRoot(ctx, cs[1], workloadNamespace)
		if err != nil {
			t.Fatal(err)
		}
		trusted := x509.NewCertPool()
		trusted.AddCert(c2Root)
		token := requestToken(t, ctx, cs[0], caAudience)
		start := time.Now()
		chain, err := requestCertificate(ctx, ids[0], trusted, token)
		if err != nil {
			t.Fatalf("CreateCertificate at c1's istiod: %v", err)
		}
		t.Logf("c1's istiod issued a chain of %d certificates in %s", len(chain), time.Since(start).Round(time.Millisecond))
		leaf := chain[0]
		wantID := fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", trustDomain, workloadNamespace, workloadAccount)
		var ids []string
		for _, u := range leaf.URIs {
			ids = append(ids, u.String())
		}
		if !slices.Equal(ids, []string{wantID}) {
			t.Errorf("workload certificate identities %v, want %s", ids, wantID)
		}
		inters := x509.NewCertPool()
		for _, c := range chain[1:] {
			inters.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: trusted, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("c1's workload certificate does not verify against c2's published root: %v", err)
		}
		// The intermediate that signed it is c1's, from the cacerts apply installed there.
		if got := leaf.Issuer.Locality; !slices.Equal(got, []string{cs[0].Name}) {
			t.Errorf("issued by an intermediate of %v, want c1's", got)
		}
		// A root the federation does not use does not trust it: the verification above means something.
		foreign := x509.NewCertPool()
		foreign.AddCert(fedtest.Root(t, t.TempDir()).Cert)
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: foreign, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
			t.Error("the workload certificate verifies against a foreign root too")
		}
	})

	t.Run("the CA refuses a token for another audience", func(t *testing.T) {
		c1Root, err := publishedRoot(ctx, cs[0], istiodtest.Namespace)
		if err != nil {
			t.Fatal(err)
		}
		trusted := x509.NewCertPool()
		trusted.AddCert(c1Root)
		_, err = requestCertificate(ctx, ids[0], trusted, requestToken(t, ctx, cs[0], "not-"+caAudience))
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("CreateCertificate with a token for another audience: %v, want Unauthenticated", err)
		}
	})

	t.Run("without cacerts, c3's istiod signs with a root of its own and ASMFED-TRUST-001 fails naming c3", func(t *testing.T) {
		c3 := ids[2]
		if err := cs[2].Client().CoreV1().Secrets(istiodtest.Namespace).Delete(ctx, istiodtest.CACertsSecret, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := c3.Restart(ctx); err != nil {
			t.Fatalf("restart c3's istiod: %v", err)
		}
		if c3.PluggedCA {
			t.Fatal("c3's istiod restarted with cacerts mounted after the Secret was deleted")
		}
		var own *x509.Certificate
		testutil.Eventually(t, waitFor, "c3 publishes a root of its own", func() error {
			for _, ns := range namespaces {
				got, err := publishedRoot(ctx, cs[2], ns)
				if err != nil {
					return err
				}
				if got.Equal(a.root.Cert) {
					return fmt.Errorf("%s still has the file's root", ns)
				}
				own = got
			}
			return nil
		})
		t.Logf("c3's istiod publishes its self-signed root %s (%s) %s after the restart", istio.Fingerprint(own), own.Subject, time.Since(start).Round(time.Millisecond))
		r := verify.Run(ctx, env, trustCheck(t))
		var failed []string
		for _, f := range r.Results {
			if f.Status == verify.Fail {
				failed = append(failed, f.Subject)
				t.Logf("× %s: %s (hint: %s)", f.Subject, f.Message, f.Hint)
			} else if f.Status != verify.OK {
				t.Errorf("ASMFED-TRUST-001: %+v", f)
			}
		}
		if !r.Failed() || !slices.Equal(failed, []string{"c3", "c3"}) {
			t.Errorf("ASMFED-TRUST-001 failed for %v, want c3's cacerts and c3's published root", failed)
		}
		for _, f := range r.Results {
			if f.Subject == "c3" && strings.HasPrefix(f.Message, "publishes root") && !strings.Contains(f.Message, istio.Fingerprint(own)) {
				t.Errorf("the finding does not name c3's root %s: %s", istio.Fingerprint(own), f.Message)
			}
		}
	})
	t.Logf("total: %s", time.Since(begin).Round(time.Millisecond))
}

func trustCheck(t *testing.T) []verify.Check {
	t.Helper()
	for _, c := range verify.Checks() {
		if c.ID == "ASMFED-TRUST-001" {
			return []verify.Check{c}
		}
	}
	t.Fatal("no check ASMFED-TRUST-001")
	return nil
}

// publishedRoot reads the root istiod published in namespace ns of cluster c.
func publishedRoot(ctx context.Context, c *testenv.Cluster, ns string) (*x509.Certificate, error) {
	cm, err := c.Client().CoreV1().ConfigMaps(ns).Get(ctx, verify.RootConfigMap, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	certs, err := pemcert.Parse([]byte(cm.Data["root-cert.pem"]))
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", ns, verify.RootConfigMap, err)
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("%s/%s holds %d roots, want 1", ns, verify.RootConfigMap, len(certs))
	}
	return certs[0], nil
}

// requestToken creates the workload's service account in c (once) and returns a token for it,
// issued by the TokenRequest API for audience, as the kubelet projects one into a pod.
func requestToken(t *testing.T, ctx context.Context, c *testenv.Cluster, audience string) string {
	t.Helper()
	sas := c.Client().CoreV1().ServiceAccounts(workloadNamespace)
	if _, err := sas.Get(ctx, workloadAccount, metav1.GetOptions{}); err != nil {
		if _, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: workloadAccount}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ttl := int64(600)
	tr, err := sas.CreateToken(ctx, workloadAccount, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{audience}, ExpirationSeconds: &ttl},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest in %s: %v", c.Name, err)
	}
	return tr.Status.Token
}

// requestCertificate sends a CSR to istiod's CA service on its secure gRPC address, as a
// sidecar does: over TLS, verifying istiod's serving certificate against roots for the name
// istiod signs it for (ISTIOD_CUSTOM_HOST), authenticated with the service-account token. It
// returns the issued chain, leaf first.
func requestCertificate(ctx context.Context, i *istiodtest.Istiod, roots *x509.CertPool, token string) ([]*x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	// istiod signs for the caller's identity, whatever the request asks for.
	id, _ := url.Parse(fmt.Sprintf("spiffe://cluster.local/ns/%s/sa/%s", workloadNamespace, workloadAccount))
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: []*url.URL{id}}, key)
	if err != nil {
		return nil, err
	}
	csr := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	creds := credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12})
	conn, err := grpc.NewClient(i.SecureGRPCAddr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	resp, err := pb.NewIstioCertificateServiceClient(conn).CreateCertificate(ctx, &pb.IstioCertificateRequest{Csr: string(csr), ValidityDuration: 3600})
	if err != nil {
		return nil, err
	}
	var chain []*x509.Certificate
	for _, p := range resp.CertChain {
		certs, err := pemcert.Parse([]byte(p))
		if err != nil {
			return nil, fmt.Errorf("issued chain: %w", err)
		}
		chain = append(chain, certs...)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("istiod issued an empty chain")
	}
	return chain, nil
}

package verify

import (
	"context"
	"crypto/x509"
	"fmt"
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/asmfed/kubectl-asmfed/internal/pemcert"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
)

// RootConfigMap is the ConfigMap istiod writes into every namespace it watches, holding the root
// its workload certificates chain to under rootConfigMapKey: what a sidecar trusts.
const (
	RootConfigMap    = "istio-ca-root-cert"
	rootConfigMapKey = "root-cert.pem"
)

// sharedTrust measures the root of trust rather than assuming it: the root each cluster's control
// plane publishes in istio-system and in the federation's namespaces (RootConfigMap) must be the
// same in every cluster and, with the plug-in CA, the file's root. With the plug-in CA, each
// cluster's cacerts must also hold an intermediate of that root, which is what istiod signs with.
func sharedTrust(ctx context.Context, env *Env) []Finding {
	ca := env.Federation.Spec.Mesh.CA
	var fileRoot *x509.Certificate
	if ca.Mode == v1alpha1.CAPlugin {
		rootPEM, err := v1alpha1.ReadFile(v1alpha1.ResolvePath(env.BaseDir, ca.RootCertFile))
		if err != nil {
			return []Finding{{Status: Fail, Message: "read the root certificate: " + err.Error()}}
		}
		if fileRoot, err = parseCert(rootPEM); err != nil {
			return []Finding{{Status: Fail, Message: "the root certificate: " + err.Error()}}
		}
	}
	namespaces := []string{federation.IstioNamespace}
	for _, ns := range env.Federation.Spec.Namespaces {
		namespaces = append(namespaces, ns.Name)
	}

	var out []Finding
	published := map[string]publishedRoots{}
	var names []string
	for _, c := range env.Federation.Spec.Clusters {
		cfg, ok := env.Clusters[c.Name]
		if !ok {
			out = append(out, Finding{Subject: c.Name, Status: Skipped, Message: "the cluster cannot be reached"})
			continue
		}
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			out = append(out, Finding{Subject: c.Name, Status: Fail, Message: err.Error()})
			continue
		}
		if fileRoot != nil {
			out = append(out, checkCACerts(ctx, dyn, c.Name, fileRoot))
		}
		p, err := readPublishedRoots(ctx, dyn, namespaces)
		if err != nil {
			out = append(out, Finding{Subject: c.Name, Status: Fail, Message: "list the " + RootConfigMap + " ConfigMaps: " + err.Error()})
			continue
		}
		published[c.Name] = p
		names = append(names, c.Name)
	}
	return append(out, comparePublished(names, published, namespaces, fileRoot, env.Federation.Spec.Mesh.ControlPlane)...)
}

// checkCACerts checks that a cluster's cacerts carry the file's root and an intermediate it signed.
func checkCACerts(ctx context.Context, dyn dynamic.Interface, cluster string, root *x509.Certificate) Finding {
	want := istio.Fingerprint(root)
	sec, err := dyn.Resource(secretsGVR).Namespace(federation.IstioNamespace).Get(ctx, "cacerts", metav1.GetOptions{})
	if err != nil {
		return Finding{Subject: cluster, Status: Fail, Message: "istio-system/cacerts: " + err.Error(),
			Hint: "without it istiod signs with a root of its own; kubectl asmfed apply installs it"}
	}
	rootData, _, _ := unstructuredBytes(sec.Object, istio.KeyRootCert)
	caData, _, _ := unstructuredBytes(sec.Object, istio.KeyCACert)
	got, err := parseCert(rootData)
	if err != nil || !got.Equal(root) {
		return Finding{Subject: cluster, Status: Fail, Message: "cacerts: root-cert.pem is not the federation's root " + want,
			Hint: "workloads of this cluster would not trust the others'; kubectl asmfed apply replaces cacerts"}
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	inter, err := parseCert(caData)
	if err == nil {
		_, err = inter.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	}
	if err != nil {
		return Finding{Subject: cluster, Status: Fail, Message: "cacerts: ca-cert.pem does not chain to the root: " + err.Error(),
			Hint: "kubectl asmfed apply issues a new intermediate"}
	}
	return Finding{Subject: cluster, Status: OK, Message: "cacerts: intermediate " + inter.Subject.CommonName + " chains to root " + want}
}

// publishedRoots is what one cluster publishes: the root bundle of RootConfigMap by namespace
// (absent: none there), each bundle the sorted fingerprints of its certificates.
type publishedRoots map[string]string

// readPublishedRoots lists RootConfigMap in every namespace in one call and keeps those of
// namespaces. A ConfigMap that holds no certificate differs from every root.
func readPublishedRoots(ctx context.Context, dyn dynamic.Interface, namespaces []string) (publishedRoots, error) {
	list, err := dyn.Resource(configMapsGVR).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + RootConfigMap})
	if err != nil {
		return nil, err
	}
	p := publishedRoots{}
	for _, cm := range list.Items {
		if !slices.Contains(namespaces, cm.GetNamespace()) {
			continue
		}
		data, _ := cm.Object["data"].(map[string]any)
		text, _ := data[rootConfigMapKey].(string)
		p[cm.GetNamespace()] = bundleFingerprint([]byte(text))
	}
	return p, nil
}

// bundleFingerprint names a PEM bundle of roots by the fingerprints of its certificates, sorted
// and joined with " + "; data that holds none is "(no certificate)".
func bundleFingerprint(data []byte) string {
	certs, err := pemcert.Parse(data)
	if err != nil {
		return "(no certificate)"
	}
	fps := make([]string, len(certs))
	for i, c := range certs {
		fps[i] = istio.Fingerprint(c)
	}
	slices.Sort(fps)
	return strings.Join(slices.Compact(fps), " + ")
}

// comparePublished judges each reachable cluster's published root against the federation's: the
// file's root with the plug-in CA, otherwise the one most clusters publish in istio-system.
func comparePublished(names []string, published map[string]publishedRoots, namespaces []string, fileRoot *x509.Certificate, controlPlane string) []Finding {
	if len(names) == 0 {
		return nil
	}
	none := true
	for _, n := range names {
		none = none && len(published[n]) == 0
	}
	if none {
		hint := "istiod publishes its root in every namespace it watches once it runs: see its pods with kubectl -n istio-system get pods"
		if controlPlane == v1alpha1.ControlPlaneManaged {
			hint = "the managed control plane publishes it once it runs (ASMFED-MESH-001)"
		}
		return []Finding{{Status: Warn, Message: "no cluster publishes " + RootConfigMap + " yet: the root the control plane signs with cannot be measured", Hint: hint}}
	}
	var want, wantIs string
	if fileRoot != nil {
		want = istio.Fingerprint(fileRoot)
		wantIs = "the federation's root is " + want
	} else {
		var holders []string
		want, holders = majorityRoot(names, published)
		wantIs = strings.Join(holders, ", ") + " publish " + want
	}
	inNamespaces := strings.Join(namespaces, ", ")
	var out []Finding
	for _, n := range names {
		p := published[n]
		var missing, differ []string
		other := map[string]bool{}
		for _, ns := range namespaces {
			got, ok := p[ns]
			switch {
			case !ok:
				missing = append(missing, ns)
			case got != want:
				differ = append(differ, ns)
				other[got] = true
			}
		}
		switch {
		case len(p) == 0:
			out = append(out, Finding{Subject: n, Status: Fail,
				Message: fmt.Sprintf("no %s in %s: the control plane publishes no root here, while the other clusters do", RootConfigMap, inNamespaces),
				Hint:    "istiod writes it into every namespace once it runs: see its pods with kubectl -n istio-system get pods"})
		case len(differ) > 0:
			hint := "istiod signs with a root of its own when it has no cacerts or started before they existed: kubectl asmfed apply installs cacerts, then restart istiod (kubectl -n istio-system rollout restart deployment -l app=istiod) to load them"
			if fileRoot == nil {
				hint = "every cluster must get its certificates from the fleet's CA: check the cluster's fleet membership and ASMFED-MESH-001"
			}
			out = append(out, Finding{Subject: n, Status: Fail,
				Message: fmt.Sprintf("publishes root %s in %s, but %s: workloads here and in the other clusters do not trust each other",
					strings.Join(slices.Sorted(maps.Keys(other)), " and "), strings.Join(differ, ", "), wantIs),
				Hint: hint})
		case len(missing) > 0:
			out = append(out, Finding{Subject: n, Status: Fail,
				Message: fmt.Sprintf("publishes root %s, but not in %s", want, strings.Join(missing, ", ")),
				Hint:    "istiod writes " + RootConfigMap + " into every namespace it watches: check that the namespace exists (kubectl asmfed apply creates it) and is not excluded by meshConfig.discoverySelectors"})
		case fileRoot != nil:
			out = append(out, Finding{Subject: n, Status: OK, Message: fmt.Sprintf("publishes the federation's root %s in %s", want, inNamespaces)})
		default:
			out = append(out, Finding{Subject: n, Status: OK, Message: fmt.Sprintf("publishes root %s in %s, as every cluster does", want, inNamespaces)})
		}
	}
	return out
}

// majorityRoot is the root most clusters publish in istio-system (on a tie, the first cluster's)
// and the clusters that publish it.
func majorityRoot(names []string, published map[string]publishedRoots) (string, []string) {
	by := map[string][]string{}
	best := ""
	for _, n := range names {
		r, ok := published[n][federation.IstioNamespace]
		if !ok {
			continue
		}
		by[r] = append(by[r], n)
		if best == "" || len(by[r]) > len(by[best]) {
			best = r
		}
	}
	return best, by[best]
}

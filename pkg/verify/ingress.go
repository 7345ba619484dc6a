package verify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/asmfed/kubectl-asmfed/internal/pemcert"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
	"github.com/asmfed/kubectl-asmfed/pkg/kube"
)

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

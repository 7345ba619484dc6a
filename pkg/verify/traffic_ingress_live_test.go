package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/kubelettest"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// selfSigned is a certificate for dnsName and its key, as a TLS certificate and as PEM.
func selfSigned(t *testing.T, dnsName string) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// gatewayServer serves TLS with cert on 127.0.0.1 until t ends, as the gateway's https port.
func gatewayServer(t *testing.T, cert tls.Certificate) string {
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// ASMFED-TRAFFIC-004 against a real API server, through a port-forward to the gateway's pod:
// the credential's certificate presented for the host passes; another certificate, and the
// credential's certificate for another name, fail naming what is wrong; no gateway pod fails.
func TestIngressCertificateOnALiveCluster(t *testing.T) {
	cs := testenv.Clusters(t, 1)
	ctx := context.Background()
	f, d := sample(t, "two-cluster-private")
	const host, credential = "shop.internal.example.com", "shop-tls"
	cfg := cs[0].RESTConfig()
	k := cs[0].Client()
	env := &Env{Federation: f, Derived: d, Clusters: map[string]*rest.Config{"cluster3": cfg},
		Istiods: func(context.Context, string) ([]Istiod, error) { return []Istiod{{Name: "istiod-1"}}, nil }, Traffic: &TrafficProbe{}}
	check := []Check{byID(t, "ASMFED-TRAFFIC-004")}
	if _, err := k.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: federation.IstioNamespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	setCredential := func(certPEM []byte) {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: credential, Namespace: federation.IstioNamespace}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: []byte("unused")}}
		if _, err := k.CoreV1().Secrets(s.Namespace).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			if _, err := k.CoreV1().Secrets(s.Namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	shop, shopPEM := selfSigned(t, host)
	other, _ := selfSigned(t, host)
	wrongName, wrongNamePEM := selfSigned(t, "other.example.com")
	setCredential(shopPEM)

	r := Run(ctx, env, check)
	want(t, r, "ASMFED-TRAFFIC-004", "cluster3", Fail, "no Running pod of the ingress gateway (kubectl -n istio-system get pods -l istio=ingressgateway)")
	want(t, r, "ASMFED-TRAFFIC-004", "cluster4", Skipped, "the cluster cannot be reached")

	kl := kubelettest.Start(t, cfg, "node-1")
	gw := "istio-ingressgateway-0"
	if _, err := kl.RunPod(ctx, federation.IstioNamespace, gw, federation.IngressGatewaySelector("istio-ingressgateway"),
		map[int32]string{8443: gatewayServer(t, shop)}); err != nil {
		t.Fatal(err)
	}
	r = Run(ctx, env, check)
	want(t, r, "ASMFED-TRAFFIC-004", "cluster3/"+host, OK, "presents the credential shop-tls for "+host)

	kl.SetPorts(federation.IstioNamespace, gw, map[int32]string{8443: gatewayServer(t, other)})
	r = Run(ctx, env, check)
	want(t, r, "ASMFED-TRAFFIC-004", "cluster3/"+host, Fail, "not the credential shop-tls's")

	setCredential(wrongNamePEM)
	kl.SetPorts(federation.IstioNamespace, gw, map[int32]string{8443: gatewayServer(t, wrongName)})
	r = Run(ctx, env, check)
	want(t, r, "ASMFED-TRAFFIC-004", "cluster3/"+host, Fail, "certificate is not valid for "+host)

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	kl.SetPorts(federation.IstioNamespace, gw, map[int32]string{8443: closed.Addr().String()})
	r = Run(ctx, env, check)
	want(t, r, "ASMFED-TRAFFIC-004", "cluster3/"+host, Fail, "completed no TLS handshake for "+host)
}

package istio_test

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/asmfed/kubectl-asmfed/internal/pemcert"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
)

func TestIntermediatesChainToTheRoot(t *testing.T) {
	root, err := istio.NewRoot(istio.RootOptions{Organization: "example"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	seen := map[string]bool{}
	for _, cluster := range []string{"c1", "c2"} {
		data, err := root.IssueIntermediate(cluster, istio.IntermediateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if problem := istio.CheckCACerts(data, root, now, 30*24*time.Hour); problem != "" {
			t.Errorf("%s: fresh intermediate: %s", cluster, problem)
		}
		if err := istio.VerifyChain(data[istio.KeyCertChain], root, now); err != nil {
			t.Errorf("%s: %v", cluster, err)
		}
		c, err := pemcert.First(data[istio.KeyCACert])
		if err != nil {
			t.Fatal(err)
		}
		if !c.IsCA || !c.MaxPathLenZero || c.KeyUsage&x509.KeyUsageCertSign == 0 || c.Subject.Locality[0] != cluster {
			t.Errorf("%s: intermediate %+v", cluster, c.Subject)
		}
		if seen[string(data[istio.KeyCAKey])] {
			t.Errorf("%s reuses a key", cluster)
		}
		seen[string(data[istio.KeyCAKey])] = true
	}
}

func TestCheckCACerts(t *testing.T) {
	root, _ := istio.NewRoot(istio.RootOptions{})
	other, _ := istio.NewRoot(istio.RootOptions{})
	good, _ := root.IssueIntermediate("c1", istio.IntermediateOptions{})
	foreign, _ := other.IssueIntermediate("c1", istio.IntermediateOptions{})
	short, _ := root.IssueIntermediate("c1", istio.IntermediateOptions{Validity: 24 * time.Hour})
	mixed := istio.CACerts{}
	for k, v := range good {
		mixed[k] = v
	}
	mixed[istio.KeyCAKey] = foreign[istio.KeyCAKey]
	now := time.Now()
	for _, tc := range []struct {
		name string
		data istio.CACerts
		want string
	}{
		{"good", good, ""},
		{"missing", istio.CACerts{}, "missing ca-cert.pem"},
		{"other root", foreign, "root-cert.pem is another root (" + other.Fingerprint() + ")"},
		{"wrong key", mixed, "ca-key.pem does not match ca-cert.pem"},
		{"expiring", short, "ca-cert.pem expires "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := istio.CheckCACerts(tc.data, root, now, 30*24*time.Hour)
			if (tc.want == "") != (got == "") || !strings.HasPrefix(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			for _, k := range []string{string(good[istio.KeyCAKey]), string(foreign[istio.KeyCAKey])} {
				if strings.Contains(got, strings.Split(k, "\n")[1]) {
					t.Error("key material in the message")
				}
			}
		})
	}
}

func TestParseRootRefuses(t *testing.T) {
	root, _ := istio.NewRoot(istio.RootOptions{})
	data, _ := root.IssueIntermediate("c1", istio.IntermediateOptions{})
	if _, err := istio.ParseRoot(root.CertPEM, data[istio.KeyCAKey]); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("mismatched key: %v", err)
	}
	if _, err := istio.ParseRoot([]byte("junk"), []byte("junk")); err == nil {
		t.Error("junk accepted")
	}
	if !strings.HasPrefix(root.Fingerprint(), "SHA256:") || len(root.Fingerprint()) != len("SHA256:")+32*3-1 {
		t.Errorf("fingerprint %q", root.Fingerprint())
	}
}

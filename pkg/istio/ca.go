package istio

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/asmfed/kubectl-asmfed/internal/pemcert"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
)

// File names of a root written by WriteFiles, and the keys of the cacerts Secret istiod reads
// when a plug-in CA is used.
const (
	RootCertFile = "root-cert.pem"
	RootKeyFile  = "root-key.pem"

	KeyCACert      = "ca-cert.pem"
	KeyCAKey       = "ca-key.pem"
	KeyRootCert    = "root-cert.pem"
	KeyCertChain   = "cert-chain.pem"
	DefaultOrg     = "asmfed"
	rootValidity   = 10 * 365 * 24 * time.Hour
	interValidity  = 365 * 24 * time.Hour
	clockSkewGrace = 5 * time.Minute
)

// RootOptions tune NewRoot.
type RootOptions struct {
	// Organization is the subject's O; default "asmfed".
	Organization string
	// CommonName is the subject's CN; default "<Organization> root CA".
	CommonName string
	// Validity of the root; default 10 years.
	Validity time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Root is the mesh's shared root of trust for the plug-in CA: every cluster's istiod signs
// workload certificates with an intermediate issued by it, so workloads of all clusters trust
// each other. The key is held in memory only to sign intermediates; nothing here prints it.
type Root struct {
	Cert    *x509.Certificate
	CertPEM []byte
	key     crypto.Signer
	keyPEM  []byte
}

// NewRoot creates a self-signed root CA with an ECDSA P-256 key.
func NewRoot(opts RootOptions) (*Root, error) {
	if opts.Organization == "" {
		opts.Organization = DefaultOrg
	}
	if opts.CommonName == "" {
		opts.CommonName = opts.Organization + " root CA"
	}
	if opts.Validity <= 0 {
		opts.Validity = rootValidity
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate root key: %w", err)
	}
	now := opts.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{opts.Organization}, CommonName: opts.CommonName},
		NotBefore:             now.Add(-clockSkewGrace),
		NotAfter:              now.Add(opts.Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("sign root certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode root key: %w", err)
	}
	return ParseRoot(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
}

// ParseRoot reads a root from PEM: the first certificate of certPEM and its private key (PKCS#8,
// PKCS#1 or SEC 1). Errors never quote key material.
func ParseRoot(certPEM, keyPEM []byte) (*Root, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, errors.New("the root key does not match the root certificate, or one of them is not PEM")
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("parse root certificate: %w", err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, errors.New("the root certificate is not a CA certificate; create one with `kubectl asmfed ca init`")
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("the root key cannot sign")
	}
	block, _ := pem.Decode(certPEM)
	return &Root{Cert: cert, CertPEM: pem.EncodeToMemory(block), key: signer, keyPEM: bytes.Clone(keyPEM)}, nil
}

// LoadRootFiles reads a root from the files a federation's mesh.ca names.
func LoadRootFiles(certFile, keyFile string) (*Root, error) {
	certPEM, err := v1alpha1.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read root certificate: %w", err)
	}
	keyPEM, err := v1alpha1.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read root key: %w", err)
	}
	r, err := ParseRoot(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("root %s / %s: %w", certFile, keyFile, err)
	}
	return r, nil
}

// WriteFiles writes root-cert.pem and root-key.pem into dir (created 0700 if missing), both
// 0600. It refuses to overwrite an existing root unless overwrite is set, since replacing the
// root breaks trust with every cluster still using intermediates of the old one.
func (r *Root) WriteFiles(dir string, overwrite bool) (certPath, keyPath string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("create %s: %w", dir, err)
	}
	certPath, keyPath = filepath.Join(dir, RootCertFile), filepath.Join(dir, RootKeyFile)
	if !overwrite {
		for _, p := range []string{certPath, keyPath} {
			if _, err := os.Stat(p); err == nil {
				return "", "", fmt.Errorf("%s already exists: a new root would not be trusted by clusters using the old one (pass --force to replace it)", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return "", "", err
			}
		}
	}
	if err := writeFile0600(keyPath, r.keyPEM); err != nil {
		return "", "", err
	}
	if err := writeFile0600(certPath, r.CertPEM); err != nil {
		return "", "", err
	}
	return certPath, keyPath, nil
}

func writeFile0600(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// A file that existed keeps its mode on open; make sure it is private.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// Fingerprint is the SHA-256 of the root certificate's DER, as "SHA256:AB:CD:…", the form
// openssl x509 -fingerprint -sha256 prints. Plans show it in place of the root.
func (r *Root) Fingerprint() string { return Fingerprint(r.Cert) }

// Fingerprint of any certificate, in the form of Root.Fingerprint.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	parts := make([]string, 0, len(sum))
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return "SHA256:" + strings.Join(parts, ":")
}

// IntermediateOptions tune IssueIntermediate.
type IntermediateOptions struct {
	// Validity of the intermediate; default 1 year.
	Validity time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// CACerts is the content of one cluster's cacerts Secret, keyed as istiod expects.
type CACerts map[string][]byte

// IssueIntermediate creates a key and an intermediate CA certificate for cluster, signed by the
// root, and returns the cacerts Secret data: ca-cert.pem, ca-key.pem, root-cert.pem and
// cert-chain.pem (the intermediate then the root).
func (r *Root) IssueIntermediate(cluster string, opts IntermediateOptions) (CACerts, error) {
	if opts.Validity <= 0 {
		opts.Validity = interValidity
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate intermediate key for %s: %w", cluster, err)
	}
	now := opts.Now()
	notAfter := now.Add(opts.Validity)
	if notAfter.After(r.Cert.NotAfter) {
		notAfter = r.Cert.NotAfter
	}
	org := r.Cert.Subject.Organization
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: org, CommonName: "Intermediate CA", Locality: []string{cluster}},
		NotBefore:             now.Add(-clockSkewGrace),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, r.Cert, key.Public(), r.key)
	if err != nil {
		return nil, fmt.Errorf("sign intermediate for %s: %w", cluster, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode intermediate key for %s: %w", cluster, err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return CACerts{
		KeyCACert:    certPEM,
		KeyCAKey:     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		KeyRootCert:  bytes.Clone(r.CertPEM),
		KeyCertChain: append(bytes.Clone(certPEM), r.CertPEM...),
	}, nil
}

// CheckCACerts says whether the data of a live cacerts Secret is a usable intermediate of root
// that stays valid for at least renewBefore: "" when it is, otherwise the problem in a few words
// (which never quote key material).
func CheckCACerts(data map[string][]byte, root *Root, now time.Time, renewBefore time.Duration) string {
	for _, k := range []string{KeyCACert, KeyCAKey, KeyRootCert, KeyCertChain} {
		if len(data[k]) == 0 {
			return "missing " + k
		}
	}
	liveRoot, err := pemcert.First(data[KeyRootCert])
	if err != nil {
		return "root-cert.pem is not a certificate"
	}
	if !liveRoot.Equal(root.Cert) {
		return "root-cert.pem is another root (" + Fingerprint(liveRoot) + ")"
	}
	inter, err := pemcert.First(data[KeyCACert])
	if err != nil {
		return "ca-cert.pem is not a certificate"
	}
	if _, err := tls.X509KeyPair(data[KeyCACert], data[KeyCAKey]); err != nil {
		return "ca-key.pem does not match ca-cert.pem"
	}
	if err := VerifyChain(data[KeyCertChain], root, now); err != nil {
		return "cert-chain.pem does not chain to the root"
	}
	pool := x509.NewCertPool()
	pool.AddCert(root.Cert)
	if _, err := inter.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return "ca-cert.pem is not signed by the root"
	}
	if !inter.IsCA {
		return "ca-cert.pem is not a CA certificate"
	}
	if inter.NotAfter.Before(now.Add(renewBefore)) {
		return "ca-cert.pem expires " + inter.NotAfter.UTC().Format(time.RFC3339)
	}
	return ""
}

// VerifyChain checks that the first certificate of chainPEM verifies against root, with the rest
// of chainPEM as intermediates.
func VerifyChain(chainPEM []byte, root *Root, now time.Time) error {
	certs, err := pemcert.Parse(chainPEM)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(root.Cert)
	inters := x509.NewCertPool()
	for _, c := range certs[1:] {
		inters.AddCert(c)
	}
	_, err = certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n
}

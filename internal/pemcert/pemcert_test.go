package pemcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

func certPEM(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestParse(t *testing.T) {
	a, b := certPEM(t, "a"), certPEM(t, "b")
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("SECRET-CANARY")})
	tests := []struct {
		name    string
		data    []byte
		want    []string
		wantErr string
	}{
		{"one", a, []string{"a"}, ""},
		{"a chain, in order, keys skipped", append(append(append([]byte{}, b...), key...), a...), []string{"b", "a"}, ""},
		{"no certificate", key, nil, "no PEM CERTIFICATE block"},
		{"not PEM", []byte("SECRET-CANARY"), nil, "no PEM CERTIFICATE block"},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("SECRET-CANARY")}), nil, "x509"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := Parse(tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "SECRET-CANARY") {
					t.Fatalf("err = %v, want one containing %q and no input bytes", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range certs {
				got = append(got, c.Subject.CommonName)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			first, err := First(tt.data)
			if err != nil || first.Subject.CommonName != tt.want[0] {
				t.Errorf("First = %v, %v; want %s", first, err, tt.want[0])
			}
		})
	}
}

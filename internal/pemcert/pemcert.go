// Package pemcert reads X.509 certificates from PEM: the one parser behind file validation, the
// plug-in CA and verify. It never returns or quotes the bytes it was given, so callers can use
// it on files that may hold secrets.
package pemcert

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
)

// Parse decodes every CERTIFICATE block of PEM data, in order; other blocks (keys) are skipped.
func Parse(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return certs, nil
}

// First decodes the first certificate of a PEM bundle.
func First(data []byte) (*x509.Certificate, error) {
	certs, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

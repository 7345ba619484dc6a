package pemcert

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the PEM parser: nothing may panic, a success returns at
// least one certificate, and an error never quotes the input.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("../../pkg/api/v1alpha1/testdata/files/*.pem")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nQ0FOQVJZLXNlY3JldC12YWx1ZS0wMTIz\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := Parse(data)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificate")
		}
		if err != nil && len(data) >= 16 && strings.Contains(err.Error(), string(data[:16])) {
			t.Fatalf("the error quotes the input: %v", err)
		}
	})
}

package clusterlayer

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestKubeconfigsWriteAsClientcmd holds the per-target document with the token put in equal, byte
// for byte, to clientcmd's own writing of each kubeconfig: the plan compares it with what apply
// wrote, so one differing byte would be a perpetual change. Tokens the YAML encoder quotes take the
// long way, and are equal too.
func TestKubeconfigsWriteAsClientcmd(t *testing.T) {
	jwt := "eyJhbGciOiJSUzI1NiIsImtpZCI6IkFCQyJ9." + strings.Repeat("eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50In0", 8) + ".c2lnbmF0dXJlLV9fLS0"
	ca := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	tokens := []struct {
		name, token string
		standIn     bool // written from the per-target document
	}{
		{"a service account token", jwt, true},
		{"a YAML boolean before the dot", "true.false", true},
		{"a YAML null before the dot", "null.x", true},
		{"yes and no", "yes.no", true},
		{"ends with a dot", "y.", true},
		{"exponent-like", "E.5", true},
		{"a bare word, quoted by YAML", "true", false},
		{"a number", "12.5", false},
		{"a space", "a b.c", false},
		{"a colon", "a:b.c", false},
		{"a leading dash", "-a.b", false},
		{"empty", "", false},
		{"the stand-in itself", tokenStandIn, true},
	}
	targets := []struct{ name, server string }{
		{"c2", "https://10.0.0.2"},
		{"cluster-with-a-long-name", "https://private.endpoint.example:443"},
	}
	k := &kubeconfigs{}
	for _, tt := range tokens {
		for _, target := range targets {
			t.Run(tt.name+"/"+target.name, func(t *testing.T) {
				if got := plainToken.MatchString(tt.token); got != tt.standIn {
					t.Errorf("plainToken.MatchString(%q) = %v, want %v", tt.token, got, tt.standIn)
				}
				want, err := remoteKubeconfig(target.name, target.server, ca, tt.token)
				if err != nil {
					t.Fatal(err)
				}
				got, err := k.write(target.name, target.server, ca, tt.token)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(string(want), string(got)); diff != "" {
					t.Errorf("kubeconfig (-clientcmd +written):\n%s", diff)
				}
			})
		}
	}
	if n := len(k.templates); n != len(targets) {
		t.Errorf("%d documents written with the stand-in, want one per target (%d)", n, len(targets))
	}
}

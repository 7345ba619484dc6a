package verify

import (
	"errors"
	"strings"
	"testing"
)

func TestRemoteRESTConfigRefusesWhatIstiodRefuses(t *testing.T) {
	const head = `apiVersion: v1
kind: Config
current-context: c
contexts:
- name: c
  context: {cluster: c, user: u}
`
	cluster := "clusters:\n- name: c\n  cluster: {server: 'https://10.0.0.2', certificate-authority-data: Zm9v}\n"
	tests := []struct {
		name, kubeconfig string
		// want is "" when the kubeconfig is used, else the field named in the refusal.
		want   string
		istiod bool
	}{
		{name: "token", kubeconfig: cluster + "users:\n- name: u\n  user: {token: abc}\n"},
		{name: "oidc auth provider", kubeconfig: cluster + "users:\n- name: u\n  user: {auth-provider: {name: oidc, config: {idp-issuer-url: 'https://x'}}}\n"},
		{name: "tokenFile", kubeconfig: cluster + "users:\n- name: u\n  user: {tokenFile: /etc/shadow}\n", want: "users[u].tokenFile", istiod: true},
		{name: "client-key file", kubeconfig: cluster + "users:\n- name: u\n  user: {client-certificate-data: Zm9v, client-key: /root/key}\n", want: "users[u].client-key", istiod: true},
		{name: "client-certificate file", kubeconfig: cluster + "users:\n- name: u\n  user: {client-certificate: /root/cert}\n", want: "users[u].client-certificate", istiod: true},
		{name: "exec", kubeconfig: cluster + "users:\n- name: u\n  user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh}}\n", want: "users[u].exec", istiod: true},
		{name: "gcp auth provider", kubeconfig: cluster + "users:\n- name: u\n  user: {auth-provider: {name: gcp}}\n", want: "users[u].auth-provider gcp", istiod: true},
		{name: "unused user with tokenFile", kubeconfig: cluster + "users:\n- name: u\n  user: {token: abc}\n- name: other\n  user: {tokenFile: /x}\n", want: "users[other].tokenFile", istiod: true},
		{name: "insecure-skip-tls-verify", kubeconfig: "clusters:\n- name: c\n  cluster: {server: 'https://10.0.0.2', insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: abc}\n", want: "clusters[c].insecure-skip-tls-verify"},
		{name: "proxy-url", kubeconfig: "clusters:\n- name: c\n  cluster: {server: 'https://10.0.0.2', certificate-authority-data: Zm9v, proxy-url: 'http://evil.example:3128'}\nusers:\n- name: u\n  user: {token: abc}\n", want: "clusters[c].proxy-url"},
		{name: "CA from a local file", kubeconfig: "clusters:\n- name: c\n  cluster: {server: 'https://10.0.0.2', certificate-authority: /dev/zero}\nusers:\n- name: u\n  user: {token: abc}\n", want: "clusters[c].certificate-authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := remoteRESTConfig([]byte(head + tt.kubeconfig))
			if tt.want == "" {
				if err != nil || cfg.BearerToken == "" && cfg.AuthProvider == nil {
					t.Fatalf("refused a safe kubeconfig: %v", err)
				}
				return
			}
			var refused *refusedKubeconfig
			if !errors.As(err, &refused) || !strings.HasPrefix(refused.field, tt.want) || refused.istiod != tt.istiod {
				t.Fatalf("got %v (%+v), want a refusal of %s (istiod %v)", err, refused, tt.want, tt.istiod)
			}
		})
	}
}

package verify

import (
	"fmt"
	"sort"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// refusedKubeconfig is a remote secret's kubeconfig that verify will not use, and why.
type refusedKubeconfig struct {
	// field is the kubeconfig field at fault, e.g. users[reader].tokenFile.
	field string
	// istiod is true when istiod refuses it too, so the secret does not work at all.
	istiod bool
}

func (e *refusedKubeconfig) Error() string {
	if e.istiod {
		return fmt.Sprintf("its kubeconfig sets %s, which istiod refuses: the secret gives istiod no access", e.field)
	}
	return fmt.Sprintf("its kubeconfig sets %s, which would send its credentials without checking the server", e.field)
}

// remoteRESTConfig turns a remote secret's kubeconfig into a client configuration with the same
// rules istiod applies to it (pkg/kube's sanitizeKubeConfig, with no insecure options allowed):
// no auth provider but oidc, no exec plug-in, and nothing read from a local file (tokenFile,
// client-certificate, client-key). A remote secret is written by whoever can write Secrets in the
// holder's istio-system, yet verify runs on the operator's machine, so it refuses more than
// istiod: a server certificate left unchecked (insecure-skip-tls-verify), a proxy, and a CA
// read from a local file. Each user is rebuilt from the fields istiod keeps, so a field added
// to kubeconfigs later is not used unreviewed.
func remoteRESTConfig(data []byte) (*rest.Config, error) {
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("its kubeconfig does not parse: %w", err)
	}
	for _, name := range sortedKeys(cfg.AuthInfos) {
		a := cfg.AuthInfos[name]
		if a == nil {
			continue
		}
		at := func(field string) error {
			return &refusedKubeconfig{field: fmt.Sprintf("users[%s].%s", name, field), istiod: true}
		}
		switch {
		case a.AuthProvider != nil && a.AuthProvider.Name != "oidc":
			return nil, at("auth-provider " + a.AuthProvider.Name)
		case a.ClientKey != "":
			return nil, at("client-key")
		case a.ClientCertificate != "":
			return nil, at("client-certificate")
		case a.TokenFile != "":
			return nil, at("tokenFile")
		case a.Exec != nil:
			return nil, at("exec")
		}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{
			ClientCertificateData: a.ClientCertificateData,
			ClientKeyData:         a.ClientKeyData,
			Token:                 a.Token,
			Impersonate:           a.Impersonate,
			ImpersonateGroups:     a.ImpersonateGroups,
			ImpersonateUserExtra:  a.ImpersonateUserExtra,
			Username:              a.Username,
			Password:              a.Password,
			AuthProvider:          a.AuthProvider,
		}
	}
	for _, name := range sortedKeys(cfg.Clusters) {
		c := cfg.Clusters[name]
		if c == nil {
			continue
		}
		at := func(field string) error {
			return &refusedKubeconfig{field: fmt.Sprintf("clusters[%s].%s", name, field)}
		}
		switch {
		case c.InsecureSkipTLSVerify:
			return nil, at("insecure-skip-tls-verify")
		case c.ProxyURL != "":
			return nil, at("proxy-url")
		case c.CertificateAuthority != "":
			return nil, at("certificate-authority (a local file)")
		}
	}
	rc, err := clientcmd.NewDefaultClientConfig(*cfg, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("its kubeconfig names no usable context: %w", err)
	}
	return rc, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

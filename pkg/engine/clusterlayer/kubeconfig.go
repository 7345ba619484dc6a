package clusterlayer

import (
	"bytes"
	"fmt"
	"regexp"
	"sync"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// remoteKubeconfig is the kubeconfig istiod reads from a remote secret: one cluster named after
// the peer, its server and CA, and the reader account's bearer token (never an exec plugin:
// istiod could not run it).
func remoteKubeconfig(name, server string, ca []byte, token string) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("encode the kubeconfig of remote secret for %s: %w", name, err)
	}
	return out, nil
}

// kubeconfigs writes the remote secrets' kubeconfigs of one plan. Every peer's secret for one
// target holds the same document but for the token, so the document is written once per target
// (name, server and CA) with a stand-in token, and each secret's is that document with its token
// in place of the stand-in: for a federation of n clusters, n YAML encodings instead of n(n-1).
// A token the YAML encoder might quote or fold is written the long way.
type kubeconfigs struct {
	mu        sync.Mutex
	templates map[kubeconfigKey]*kubeconfigTemplate
}

type kubeconfigKey struct{ name, server, ca string }

// kubeconfigTemplate is a document split around its stand-in token; ok is false when the stand-in
// did not appear exactly once.
type kubeconfigTemplate struct {
	before, after []byte
	ok            bool
}

// tokenStandIn is a token of the shape plainToken accepts, long enough never to occur by chance.
const tokenStandIn = "asmfed.token-stand-in.b6c1f0e2a7d94c3e8f5a1b2c3d4e5f60"

// plainToken matches the tokens YAML writes as they are, unquoted and on one line: a letter
// first (no number, no indicator), then letters, digits, '.', '_' and '-', with a dot somewhere
// (never a boolean or null). Service account tokens (JWTs: base64url segments joined by dots)
// are of this shape.
var plainToken = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*\.[A-Za-z0-9._-]*$`)

// write returns the kubeconfig remoteKubeconfig writes, byte for byte.
func (k *kubeconfigs) write(name, server string, ca []byte, token string) ([]byte, error) {
	if !plainToken.MatchString(token) {
		return remoteKubeconfig(name, server, ca, token)
	}
	t, err := k.template(kubeconfigKey{name, server, string(ca)})
	if err != nil {
		return nil, err
	}
	if !t.ok {
		return remoteKubeconfig(name, server, ca, token)
	}
	out := make([]byte, 0, len(t.before)+len(token)+len(t.after))
	out = append(out, t.before...)
	out = append(out, token...)
	return append(out, t.after...), nil
}

func (k *kubeconfigs) template(key kubeconfigKey) (*kubeconfigTemplate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if t := k.templates[key]; t != nil {
		return t, nil
	}
	doc, err := remoteKubeconfig(key.name, key.server, []byte(key.ca), tokenStandIn)
	if err != nil {
		return nil, err
	}
	t := &kubeconfigTemplate{}
	if bytes.Count(doc, []byte(tokenStandIn)) == 1 {
		before, after, _ := bytes.Cut(doc, []byte(tokenStandIn))
		t.before, t.after, t.ok = before, after, true
	}
	if k.templates == nil {
		k.templates = map[kubeconfigKey]*kubeconfigTemplate{}
	}
	k.templates[key] = t
	return t, nil
}

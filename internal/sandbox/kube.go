// Package sandbox backs the Google Cloud simulator with real local Kubernetes clusters: every GKE
// cluster the simulator creates is a kube-apiserver on 127.0.0.1, reached with an access token the
// sandbox writes. It serves the asmfed-sandbox command and end-to-end tests; the shipped plugin
// never imports it.
package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
)

// AccessTokenEnv names the file holding the OAuth access token the plugin sends to GKE clusters
// (and to Google APIs off loopback). The sandbox's clusters accept the token it writes there.
const AccessTokenEnv = "ASMFED_GCP_ACCESS_TOKEN_FILE"

// Principal is who the sandbox's access token authenticates as, to the simulated Connect
// Gateway and Resource Manager's testIamPermissions: the principal to take permissions away from
// (gcpfake.Denial) to see what a caller without them sees.
const Principal = "user:operator@example.com"

// KubeBackend backs every GKE cluster the simulator creates with a real local kube-apiserver, so
// that the plugin's path from "the cluster exists in GCP" to "talk to its API" is the real one:
// the container API returns the server's address as the endpoint (public and private) and its CA,
// and the simulated Connect Gateway passes calls to it. It is a gcpfake.Authenticator: the
// simulator knows its token as Principal's.
type KubeBackend struct {
	env   *testenv.Environment
	token string

	mu sync.Mutex
	// local maps a GKE cluster (project/location/name) to its local cluster's name.
	local map[string]string
}

// StartKube starts the local Kubernetes environment in dir and writes the access token its API
// servers accept to tokenFile (mode 0600).
func StartKube(ctx context.Context, dir, tokenFile string, logw io.Writer) (*KubeBackend, error) {
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	token := "sandbox." + hex.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(tokenFile), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write access token: %w", err)
	}
	env, err := testenv.Start(ctx, testenv.Options{Dir: dir, AdminToken: token, Logf: func(format string, args ...any) {
		fmt.Fprintf(logw, "asmfed-sandbox: "+format+"\n", args...)
	}})
	if err != nil {
		return nil, fmt.Errorf("start local Kubernetes (build the binaries with hack/testbin/build.sh): %w", err)
	}
	return &KubeBackend{env: env, token: token, local: map[string]string{}}, nil
}

// Authenticate knows the token the sandbox wrote as Principal's.
func (b *KubeBackend) Authenticate(token string) (string, bool) {
	if subtle.ConstantTimeCompare([]byte(token), []byte(b.token)) == 1 {
		return Principal, true
	}
	return "", false
}

// localName names the local cluster behind one provisioning of a GKE cluster: the GKE name (cut
// to fit), and a random suffix, since two projects may each have a cluster of the same name and a
// GKE cluster deleted and created again is a new, empty cluster while the old one's objects stay
// in the shared etcd under its name.
func localName(name string) (string, error) {
	raw := make([]byte, 3)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	const maxBase = 40 - 1 - 6 // the local name is a DNS label of at most 40 characters
	base := strings.TrimRight(name[:min(len(name), maxBase)], "-")
	return base + "-" + hex.EncodeToString(raw), nil
}

// Provision starts a local API server for a new GKE cluster. The simulator calls it from the
// cluster's create operation; when it fails or ctx ends first, whatever it started is stopped.
func (b *KubeBackend) Provision(ctx context.Context, project, location, name string) (string, []byte, error) {
	local, err := localName(name)
	if err != nil {
		return "", nil, err
	}
	cs, err := b.env.AddClusters(ctx, local)
	if err != nil {
		b.env.RemoveCluster(local)
		return "", nil, err
	}
	b.mu.Lock()
	b.local[gkeKey(project, location, name)] = local
	b.mu.Unlock()
	return cs[0].Host, cs[0].CAData, nil
}

// Release stops the local API server of a deleted GKE cluster. The simulator calls it from the
// delete operation, after any Provision of the cluster has returned.
func (b *KubeBackend) Release(project, location, name string) {
	key := gkeKey(project, location, name)
	b.mu.Lock()
	local, ok := b.local[key]
	delete(b.local, key)
	b.mu.Unlock()
	if ok {
		b.env.RemoveCluster(local)
	}
}

func gkeKey(project, location, name string) string { return project + "/" + location + "/" + name }

// Stop stops every local server.
func (b *KubeBackend) Stop() error { return b.env.Stop() }

// Package sandbox backs the Google Cloud simulator with real local Kubernetes clusters: every GKE
// cluster the simulator creates is a kube-apiserver on 127.0.0.1, reached with an access token the
// sandbox writes. It serves the asmfed-sandbox command and end-to-end tests; the shipped plugin
// never imports it.
package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
)

// AccessTokenEnv names the file holding the OAuth access token the plugin sends to GKE clusters
// (and to Google APIs off loopback). The sandbox's clusters accept the token it writes there.
const AccessTokenEnv = "ASMFED_GCP_ACCESS_TOKEN_FILE"

// KubeBackend backs every GKE cluster the simulator creates with a real local kube-apiserver, so
// that the plugin's path from "the cluster exists in GCP" to "talk to its API" is the real one:
// the container API returns the server's address as the endpoint (public and private) and its CA.
type KubeBackend struct {
	env *testenv.Environment
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
	return &KubeBackend{env: env}, nil
}

// clusterKey names the local cluster of a GKE cluster: the GKE name, plus a short hash of its
// project and location, since two projects may each have a cluster of the same name.
func clusterKey(project, location, name string) string {
	sum := sha256.Sum256([]byte(project + "/" + location))
	return fmt.Sprintf("%s-%s", name, hex.EncodeToString(sum[:3]))
}

// Provision starts a local API server for a new GKE cluster.
func (b *KubeBackend) Provision(ctx context.Context, project, location, name string) (string, []byte, error) {
	cs, err := b.env.AddClusters(ctx, clusterKey(project, location, name))
	if err != nil {
		return "", nil, err
	}
	return cs[0].Host, cs[0].CAData, nil
}

// Release is called when the GKE cluster is deleted. The local API server keeps running until the
// sandbox stops (the environment has no per-cluster stop); nothing reaches it any more.
func (b *KubeBackend) Release(project, location, name string) {}

// Stop stops every local server.
func (b *KubeBackend) Stop() error { return b.env.Stop() }

// Package sandbox backs the Google Cloud simulator with real local Kubernetes clusters: every GKE
// cluster the simulator creates is a kube-apiserver on 127.0.0.1, reached with an access token the
// sandbox writes, with GKE-shaped nodes that kwok runs, and a real pilot-discovery behind every
// istiod pod. It serves the asmfed-sandbox command and end-to-end tests; the shipped plugin never
// imports it.
package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/asmfed/kubectl-asmfed/internal/istiodtest"
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
//
// With WithWorkloads, each cluster also runs a kube-scheduler, kwok with one node per zone of each
// node pool, and the controllers that turn Deployments into pods, so the control plane apply
// installs runs: pods are scheduled and reported Running, and every istiod pod is backed by a real
// pilot-discovery process (see istiods) whose ports the pod forwards to.
type KubeBackend struct {
	env       *testenv.Environment
	token     string
	workloads bool
	pilot     string
	logf      func(format string, args ...any)
	stopOnce  sync.Once

	mu sync.Mutex
	// local maps a GKE cluster (project/location/name) to its local cluster.
	local map[string]*localCluster
}

// localCluster is the local control plane behind one GKE cluster.
type localCluster struct {
	name    string
	cluster *testenv.Cluster
	istiods *istiods
}

// KubeOption configures StartKube.
type KubeOption func(*KubeBackend)

// WithWorkloads gives every cluster nodes and a running control plane: kube-scheduler, kwok with
// GKE-shaped nodes, the controllers Deployments need, and a real pilot-discovery behind each
// istiod pod. It needs kube-scheduler, kwok and pilot-discovery in the cache besides the API
// server's binaries (hack/testbin/ensure.sh; Require checks them in tests), and costs about
// 0.4 GB more per cluster. Without it a cluster is an API server and its controller manager,
// and Deployments get no pods.
func WithWorkloads() KubeOption { return func(b *KubeBackend) { b.workloads = true } }

// StartKube starts the local Kubernetes environment in dir and writes the access token its API
// servers accept to tokenFile (mode 0600).
func StartKube(ctx context.Context, dir, tokenFile string, logw io.Writer, opts ...KubeOption) (*KubeBackend, error) {
	b := &KubeBackend{local: map[string]*localCluster{}}
	for _, o := range opts {
		o(b)
	}
	if b.workloads {
		var err error
		if b.pilot, err = istiodtest.FindBinary(""); err != nil {
			return nil, err
		}
	}
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
	var logMu sync.Mutex
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(logw, "asmfed-sandbox: "+format+"\n", args...)
	}
	envOpts := testenv.Options{Dir: dir, AdminToken: token, Logf: logf}
	if b.workloads {
		envOpts.Workloads, envOpts.ProbedPods = true, istiodLabelKey+"="+istiodLabelValue
	}
	env, err := testenv.Start(ctx, envOpts)
	if err != nil {
		return nil, fmt.Errorf("start local Kubernetes (build the binaries with hack/testbin/ensure.sh): %w", err)
	}
	b.env, b.token, b.logf = env, token, logf
	return b, nil
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

// Provision starts a local control plane for a new GKE cluster and, with workloads, a node per
// zone of each of its node pools and the watch on its istiod pods. The simulator calls it from the
// cluster's create operation; when it fails or ctx ends first, whatever it started is stopped.
func (b *KubeBackend) Provision(ctx context.Context, project string, c *containerpb.Cluster) (string, []byte, error) {
	local, err := localName(c.GetName())
	if err != nil {
		return "", nil, err
	}
	podCIDR := c.GetClusterIpv4Cidr()
	if _, err := netip.ParsePrefix(podCIDR); err != nil {
		podCIDR = ""
	}
	cs, err := b.env.AddClusterSpecs(ctx, testenv.ClusterSpec{Name: local, PodCIDR: podCIDR})
	if err != nil {
		b.env.RemoveCluster(local)
		return "", nil, err
	}
	lc := &localCluster{name: local, cluster: cs[0]}
	if b.workloads {
		start := time.Now()
		if err := cs[0].AddNodes(ctx, gkeNodes(project, c)...); err != nil {
			b.env.RemoveCluster(local)
			return "", nil, err
		}
		b.logf("cluster %s (%s): nodes Ready in %s", c.GetName(), local, time.Since(start).Round(time.Millisecond))
		lc.istiods = startIstiods(cs[0], b.pilot, b.logf)
	}
	b.mu.Lock()
	b.local[gkeKey(project, c.GetLocation(), c.GetName())] = lc
	b.mu.Unlock()
	return cs[0].Host, cs[0].CAData, nil
}

// Release stops the local control plane of a deleted GKE cluster, its istiods first. The simulator
// calls it from the delete operation, after any Provision of the cluster has returned.
func (b *KubeBackend) Release(project, location, name string) {
	key := gkeKey(project, location, name)
	b.mu.Lock()
	lc, ok := b.local[key]
	delete(b.local, key)
	b.mu.Unlock()
	if ok {
		lc.istiods.stop()
		b.env.RemoveCluster(lc.name)
	}
}

func gkeKey(project, location, name string) string { return project + "/" + location + "/" + name }

// Cluster returns the local cluster behind a GKE cluster, or nil.
func (b *KubeBackend) Cluster(project, location, name string) *testenv.Cluster {
	b.mu.Lock()
	defer b.mu.Unlock()
	if lc := b.local[gkeKey(project, location, name)]; lc != nil {
		return lc.cluster
	}
	return nil
}

// Processes lists every server the backend runs: the environment's and the istiods.
func (b *KubeBackend) Processes() []testenv.Process {
	out := b.env.Processes()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, lc := range b.local {
		out = append(out, lc.istiods.processes()...)
	}
	return out
}

// Stop stops every local server: the istiods, then the clusters.
func (b *KubeBackend) Stop() error {
	b.stopOnce.Do(func() {
		b.mu.Lock()
		locals := slices.Collect(maps.Values(b.local))
		b.mu.Unlock()
		var wg sync.WaitGroup
		for _, lc := range locals {
			wg.Go(lc.istiods.stop)
		}
		wg.Wait()
	})
	return b.env.Stop()
}

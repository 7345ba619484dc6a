package istiodtest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Get fetches a path of istiod's HTTP listener, such as "/debug/clusterz",
// and returns the body of a 200 response.
func (i *Istiod) Get(ctx context.Context, path string) ([]byte, error) {
	return i.get(ctx, path)
}

func (i *Istiod) getJSON(ctx context.Context, path string, v any) error {
	body, err := i.get(ctx, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// Sync statuses of a cluster in /debug/clusterz.
const (
	Synced  = "synced"
	Syncing = "syncing"
	Timeout = "timeout"
	Closed  = "closed"
)

// ClusterStatus is one entry of /debug/clusterz: a cluster istiod reads
// services and endpoints from. SecretName is namespace/name of the remote
// secret it came from, empty for istiod's own cluster.
type ClusterStatus struct {
	ID         string `json:"id"`
	SecretName string `json:"secretName"`
	SyncStatus string `json:"syncStatus"`
}

// Clusters reads /debug/clusterz, sorted by ID.
func (i *Istiod) Clusters(ctx context.Context) ([]ClusterStatus, error) {
	var out []ClusterStatus
	if err := i.getJSON(ctx, "/debug/clusterz", &out); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b ClusterStatus) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Service is the part of a /debug/registryz entry tests look at.
type Service struct {
	Hostname   string `json:"hostname"`
	Attributes struct {
		ServiceRegistry string
		Name            string
		Namespace       string
	} `json:"Attributes"`
	// ClusterVIPs are the Service's cluster IPs by cluster ID: which
	// clusters istiod has seen the Service in.
	ClusterVIPs struct {
		Addresses map[string][]string `json:"Addresses"`
	} `json:"clusterVIPs"`
}

// Services reads /debug/registryz: every service istiod knows, merged across
// clusters.
func (i *Istiod) Services(ctx context.Context) ([]Service, error) {
	var out []Service
	if err := i.getJSON(ctx, "/debug/registryz", &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Service returns the registryz entry for hostname, or nil.
func (i *Istiod) Service(ctx context.Context, hostname string) (*Service, error) {
	svcs, err := i.Services(ctx)
	if err != nil {
		return nil, err
	}
	for n := range svcs {
		if svcs[n].Hostname == hostname {
			return &svcs[n], nil
		}
	}
	return nil, nil
}

// Endpoint is the part of an endpoint in /debug/endpointShardz tests look at.
type Endpoint struct {
	Addresses []string `json:"Addresses"`
	Network   string   `json:"Network"`
}

// Endpoints reads /debug/endpointShardz for one service and returns its
// endpoints by cluster ID (shard keys are "<registry>/<cluster>", e.g.
// "Kubernetes/c2"); empty when istiod has none.
func (i *Istiod) Endpoints(ctx context.Context, hostname, namespace string) (map[string][]Endpoint, error) {
	var shardz map[string]map[string]struct {
		Shards map[string][]Endpoint `json:"Shards"`
	}
	if err := i.getJSON(ctx, "/debug/endpointShardz", &shardz); err != nil {
		return nil, err
	}
	out := map[string][]Endpoint{}
	for key, eps := range shardz[hostname][namespace].Shards {
		_, cluster, _ := strings.Cut(key, "/")
		if len(eps) > 0 {
			out[cluster] = append(out[cluster], eps...)
		}
	}
	return out, nil
}

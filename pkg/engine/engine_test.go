package engine_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

func TestReachable(t *testing.T) {
	f := fedtest.New("mesh").
		Cluster(fedtest.Cluster("c1").Ranges("10.10.0.0/24", "10.100.0.0/16", "172.16.0.0/24", "192.168.0.0/28")).
		Cluster(fedtest.Cluster("c2").Ranges("10.10.1.0/24", "10.101.0.0/16", "172.16.1.0/24", "192.168.1.0/28")).
		Build()
	running := func(name string) gcplayer.ClusterAccess {
		return gcplayer.ClusterAccess{Name: name, Status: "RUNNING", Endpoint: "10.0.0.1"}
	}
	tests := []struct {
		name         string
		contexts     map[string]string
		access       map[string]gcplayer.ClusterAccess
		configErr    error
		wantHosts    map[string]string
		wantNotReady []string
		wantErr      bool
	}{
		{name: "both running", access: map[string]gcplayer.ClusterAccess{"c1": running("c1"), "c2": running("c2")},
			wantHosts: map[string]string{"c1": "https://c1", "c2": "https://c2"}},
		{name: "one missing, one provisioning", access: map[string]gcplayer.ClusterAccess{"c2": {Name: "c2", Status: "PROVISIONING", Endpoint: "10.0.0.2"}},
			wantHosts: map[string]string{}, wantNotReady: []string{"c1", "c2"}},
		{name: "running without an endpoint yet", access: map[string]gcplayer.ClusterAccess{"c1": running("c1"), "c2": {Name: "c2", Status: "RUNNING"}},
			wantHosts: map[string]string{"c1": "https://c1"}, wantNotReady: []string{"c2"}},
		{name: "a kubeconfig context reaches a cluster GKE does not report", contexts: map[string]string{"c2": "ctx"}, access: map[string]gcplayer.ClusterAccess{"c1": running("c1")},
			wantHosts: map[string]string{"c1": "https://c1", "c2": "https://c2"}},
		{name: "a configuration that fails is an error", access: map[string]gcplayer.ClusterAccess{"c1": running("c1")}, configErr: errors.New("no token"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := *f
			g.Spec.Clusters = append([]v1alpha1.Cluster(nil), f.Spec.Clusters...)
			for i := range g.Spec.Clusters {
				g.Spec.Clusters[i].KubeconfigContext = tt.contexts[g.Spec.Clusters[i].Name]
			}
			d, err := federation.Compile(&g, federation.Facts{})
			if err != nil {
				t.Fatal(err)
			}
			opts := engine.ClusterOptions{Config: func(c federation.ClusterDesired, _ gcplayer.ClusterAccess) (*rest.Config, error) {
				if tt.configErr != nil {
					return nil, tt.configErr
				}
				return &rest.Config{Host: "https://" + c.Name}, nil
			}}
			configs, notReady, err := engine.Reachable(d, tt.access, opts)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			hosts := map[string]string{}
			for name, c := range configs {
				hosts[name] = c.Host
			}
			if diff := cmp.Diff(tt.wantHosts, hosts); diff != "" {
				t.Errorf("reachable (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNotReady, notReady); diff != "" {
				t.Errorf("not ready (-want +got):\n%s", diff)
			}
		})
	}
}

package sandbox_test

import (
	"context"
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/sandbox"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
)

const parent = "projects/demo/locations/us-west2"

// GKE clusters of the simulator backed by real local API servers: a create outlives a caller that
// leaves at once and ends RUNNING with an API the sandbox token reaches; a delete, during
// provisioning or after, stops the API server, and the name can be created again as a new cluster.
func TestKubeBackendClusterLifecycle(t *testing.T) {
	testenv.Require(t)
	srv, tokenFile := sandbox.StartT(t)
	cm, err := container.NewClusterManagerRESTClient(context.Background(), srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close()
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		// deleteWhileProvisioning deletes the cluster right after the create call.
		deleteWhileProvisioning bool
	}{
		{name: "c1"},
		{name: "c2", deleteWhileProvisioning: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			create := createAndLeave(t, cm, tc.name)
			var old *containerpb.Cluster
			if !tc.deleteWhileProvisioning {
				if op := waitOp(t, cm, create.Name); op.Error != nil {
					t.Fatalf("create: %v", op.Error)
				}
				old = runningCluster(t, cm, tc.name, token)
			}

			del, err := cm.DeleteCluster(context.Background(), &containerpb.DeleteClusterRequest{Name: parent + "/clusters/" + tc.name})
			if err != nil {
				t.Fatal(err)
			}
			if op := waitOp(t, cm, del.Name); op.Error != nil {
				t.Fatalf("delete: %v", op.Error)
			}
			if tc.deleteWhileProvisioning {
				if op := waitOp(t, cm, create.Name); codes.Code(op.GetError().GetCode()) != codes.Aborted {
					t.Errorf("create cut short by the delete: error %v, want ABORTED", op.GetError())
				}
			} else if _, err := clientFor(t, old, token).CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{}); err == nil {
				t.Errorf("the deleted cluster's API server at %s still answers", old.Endpoint)
			}

			again := createAndLeave(t, cm, tc.name)
			if op := waitOp(t, cm, again.Name); op.Error != nil {
				t.Fatalf("create the name again: %v", op.Error)
			}
			c := runningCluster(t, cm, tc.name, token)
			if old != nil && c.Endpoint == old.Endpoint {
				t.Errorf("the new cluster has the deleted one's endpoint %s", c.Endpoint)
			}
		})
	}
}

// createAndLeave creates a cluster with a context cancelled as soon as the call returns.
func createAndLeave(t *testing.T, cm *container.ClusterManagerClient, name string) *containerpb.Operation {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	op, err := cm.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: name, InitialNodeCount: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("create call took %v: it should return before the control plane starts", d)
	}
	return op
}

// waitOp polls an operation until it is DONE, for at most 3 minutes (a local control plane starts
// in seconds; the bound is for a loaded machine).
func waitOp(t *testing.T, cm *container.ClusterManagerClient, name string) *containerpb.Operation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for {
		op, err := cm.GetOperation(ctx, &containerpb.GetOperationRequest{Name: parent + "/operations/" + name})
		if err != nil {
			t.Fatalf("operation %s: %v", name, err)
		}
		if op.Status == containerpb.Operation_DONE {
			return op
		}
		select {
		case <-ctx.Done():
			t.Fatalf("operation %s still %v after 3 minutes", name, op.Status)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// runningCluster reads the cluster, which must be RUNNING with an API that answers to the sandbox
// token over TLS verified with the CA the container API returned.
func runningCluster(t *testing.T, cm *container.ClusterManagerClient, name string, token []byte) *containerpb.Cluster {
	t.Helper()
	c, err := cm.GetCluster(context.Background(), &containerpb.GetClusterRequest{Name: parent + "/clusters/" + name})
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != containerpb.Cluster_RUNNING || !strings.HasPrefix(c.Endpoint, "127.0.0.1:") {
		t.Fatalf("cluster %s: %v at %q, want RUNNING on a local API server", name, c.Status, c.Endpoint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := clientFor(t, c, token).CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{}); err != nil {
		t.Fatalf("cluster %s's API with the sandbox token: %v", name, err)
	}
	return c
}

func clientFor(t *testing.T, c *containerpb.Cluster, token []byte) kubernetes.Interface {
	t.Helper()
	ca, err := base64.StdEncoding.DecodeString(c.GetMasterAuth().GetClusterCaCertificate())
	if err != nil {
		t.Fatalf("clusterCaCertificate is not base64: %v", err)
	}
	cfg := &rest.Config{Host: "https://" + c.Endpoint, BearerToken: strings.TrimSpace(string(token)),
		TLSClientConfig: rest.TLSClientConfig{CAData: ca}, Timeout: 5 * time.Second}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/option"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/sandbox"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
)

// With --kube, a GKE cluster created through the container API is a real API server: its endpoint
// and CA come back from the API, and the access token the sandbox wrote authenticates to it.
func TestKubeBackedClusters(t *testing.T) {
	sandbox.RequireWorkloads(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--latency", "none", "--state", dir, "--pid-file", pidFile, "--kube"}, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var url string
	if err := testutil.Poll(15*time.Second, "sandbox writes "+pidFile, func() error {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return err
		}
		f := strings.Fields(string(b))
		if len(f) != 2 {
			return fmt.Errorf("pid file = %q, want a PID and a URL", b)
		}
		url = f[1]
		return nil
	}); err != nil {
		t.Fatalf("sandbox did not start: %v\n%s", err, stderr.String())
	}
	tokenFile := filepath.Join(dir, "access-token")
	if !strings.Contains(stdout.String(), "export "+sandbox.AccessTokenEnv+"="+tokenFile) {
		t.Errorf("env output lacks the access token file:\n%s", stdout.String())
	}
	// gcloud sends the same token, which the simulated Connect Gateway checks.
	if !strings.Contains(stdout.String(), "export CLOUDSDK_AUTH_ACCESS_TOKEN_FILE="+tokenFile) || strings.Contains(stdout.String(), "CLOUDSDK_AUTH_DISABLE_CREDENTIALS") {
		t.Errorf("env output does not point gcloud at the access token:\n%s", stdout.String())
	}
	if fi, err := os.Stat(tokenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("access token file: %v %v", err, fi)
	}

	cm, err := container.NewClusterManagerRESTClient(ctx, option.WithEndpoint(url), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close()
	op, err := cm.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: "projects/demo-project/locations/us-west2",
		Cluster: &containerpb.Cluster{Name: "c1", InitialNodeCount: 1}})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 3*time.Minute, "cluster c1 created", func() error {
		if op.GetStatus() == containerpb.Operation_DONE {
			return nil
		}
		next, err := cm.GetOperation(ctx, &containerpb.GetOperationRequest{Name: "projects/demo-project/locations/us-west2/operations/" + op.GetName()})
		if err != nil {
			return err
		}
		if op = next; op.GetStatus() != containerpb.Operation_DONE {
			return fmt.Errorf("operation %s is %s", op.GetName(), op.GetStatus())
		}
		return nil
	})
	if op.GetError() != nil {
		t.Fatalf("create operation: %v", op.GetError())
	}
	c, err := cm.GetCluster(ctx, &containerpb.GetClusterRequest{Name: "projects/demo-project/locations/us-west2/clusters/c1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.GetEndpoint(), "127.0.0.1:") && !strings.HasPrefix(c.GetEndpoint(), "https://127.0.0.1:") {
		t.Fatalf("endpoint %q is not a local API server", c.GetEndpoint())
	}
	ca := []byte(c.GetMasterAuth().GetClusterCaCertificate())
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	host := c.GetEndpoint()
	if !strings.HasPrefix(host, "https://") {
		host = "https://" + host
	}
	cfg := &rest.Config{Host: host, BearerToken: strings.TrimSpace(string(token)), TLSClientConfig: rest.TLSClientConfig{CAData: decodeCA(t, ca)}}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{}); err != nil {
		t.Fatalf("the cluster's API with the sandbox token: %v", err)
	}
}

// decodeCA reads clusterCaCertificate, which GKE returns base64-encoded.
func decodeCA(t *testing.T, b []byte) []byte {
	t.Helper()
	out, err := base64.StdEncoding.DecodeString(string(b))
	if err != nil {
		t.Fatalf("clusterCaCertificate is not base64: %v", err)
	}
	return out
}

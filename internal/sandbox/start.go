package sandbox

import (
	"context"
	"io"
	"path/filepath"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
)

// StartT starts a sandbox for the duration of a test: the simulator on 127.0.0.1 with its GKE
// clusters backed by local API servers (StartKube, in a temporary directory), both stopped when
// t ends. It returns the simulator and the file holding the access token the clusters accept.
// t is a testing.TB; the package does not import testing.
func StartT(t interface {
	testenv.TB
	TempDir() string
}, opts ...KubeOption) (srv *gcpfake.Server, tokenFile string) {
	t.Helper()
	dir := t.TempDir()
	tokenFile = filepath.Join(dir, "access-token")
	kb, err := StartKube(context.Background(), filepath.Join(dir, "kube"), tokenFile, io.Discard, opts...)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(func() { kb.Stop() })
	return gcpfake.Start(t, gcpfake.WithClusterBackend(kb)), tokenFile
}

package testenv

import (
	"context"
	"net"
	"sync"
	"testing"
)

// A port taken between probing and binding makes the server exit with
// "address already in use"; the start is retried with fresh ports.
func TestStartRetriesTakenPorts(t *testing.T) {
	Require(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().(*net.TCPAddr).Port

	var (
		mu    sync.Mutex
		calls int
	)
	// The first etcd attempt and the first API server attempt get the busy port.
	ports := func(n int) ([]int, error) {
		mu.Lock()
		calls++
		call := calls
		mu.Unlock()
		p, err := freePorts(n)
		if err == nil && (call == 1 || call == 3) {
			p[0] = busy
		}
		return p, err
	}
	env, err := start(context.Background(), Options{Logf: t.Logf}, ports)
	if err != nil {
		t.Fatalf("start with a busy etcd port: %v", err)
	}
	defer env.Stop()
	cs, err := env.AddClusters(context.Background(), "retry")
	if err != nil {
		t.Fatalf("add cluster with a busy API server port: %v", err)
	}
	if calls != 4 {
		t.Errorf("port choices = %d, want 4 (two retries)", calls)
	}
	if _, err := cs[0].Client().Discovery().ServerVersion(); err != nil {
		t.Errorf("cluster after retry: %v", err)
	}
}

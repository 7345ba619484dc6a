package kube_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/asmfed/kubectl-asmfed/internal/kubelettest"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/kube"
)

// echo listens on 127.0.0.1 and answers every line with its name and the line, until t ends.
func echo(t *testing.T, name string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s := bufio.NewScanner(c)
				for s.Scan() {
					if _, err := c.Write([]byte(name + ": " + s.Text() + "\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

func roundTrip(addr, line string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

// PortForward reaches each forwarded port of a pod through the real API server's portforward
// subresource and a kubelet that serves it with the kubelet's own streaming code; a pod that does
// not exist is an error naming it; Close closes the local ports.
func TestPortForward(t *testing.T) {
	c := testenv.Clusters(t, 1)[0]
	ctx := context.Background()
	kl := kubelettest.Start(t, c.RESTConfig(), "node-1")
	if _, err := c.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kl.RunPod(ctx, "app", "web", nil, map[int32]string{8080: echo(t, "http"), 15012: echo(t, "grpc")}); err != nil {
		t.Fatal(err)
	}

	fw, err := kube.PortForward(ctx, c.RESTConfig(), "app", "web", 8080, 15012)
	if err != nil {
		t.Fatalf("PortForward: %v", err)
	}
	for port, want := range map[int]string{8080: "http: hello\n", 15012: "grpc: hello\n"} {
		addr := fw.Addr(port)
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Fatalf("Addr(%d) = %q, want a loopback address", port, addr)
		}
		for range 3 { // a forward carries many connections
			got, err := roundTrip(addr, "hello")
			if err != nil || got != want {
				t.Errorf("through the forward of port %d: %q, %v; want %q", port, got, err, want)
			}
		}
	}
	if got := fw.Addr(9999); got != "" {
		t.Errorf("Addr of a port not forwarded = %q, want empty", got)
	}
	addr := fw.Addr(8080)
	fw.Close()
	fw.Close()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Close", addr)
	}

	if _, err := kube.PortForward(ctx, c.RESTConfig(), "app", "gone", 8080); err == nil || !strings.Contains(err.Error(), "app/gone") {
		t.Errorf("PortForward to a pod that does not exist: %v, want an error naming app/gone", err)
	}
}

package kube_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"

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

func roundTrip(c net.Conn, line string) (string, error) {
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

// A port-forward session reaches each port of a pod through the real API server's portforward
// subresource and a kubelet that serves it with the kubelet's own streaming code, many
// connections at once; a port nothing listens on is an error the kubelet's report names; a pod
// that does not exist is an error naming it; after Close nothing is dialed.
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

	fw, err := kube.PortForward(ctx, c.RESTConfig(), "app", "web")
	if err != nil {
		t.Fatalf("PortForward: %v", err)
	}
	var conns []net.Conn
	for range 3 { // several connections per port, open together
		for port, want := range map[int]string{8080: "http: hello\n", 15012: "grpc: hello\n"} {
			conn, err := fw.Dial(ctx, port)
			if err != nil {
				t.Fatalf("Dial(%d): %v", port, err)
			}
			conns = append(conns, conn)
			if got, err := roundTrip(conn, "hello"); err != nil || got != want {
				t.Errorf("through port %d: %q, %v; want %q", port, got, err, want)
			}
		}
	}
	for _, conn := range conns {
		if err := conn.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}

	conn, err := fw.Dial(ctx, 9999)
	if err != nil {
		t.Fatalf("Dial(9999): %v", err)
	}
	if got, err := roundTrip(conn, "hello"); err == nil || !strings.Contains(err.Error(), "9999") {
		t.Errorf("through a port nothing listens on: %q, %v; want an error naming the port", got, err)
	}
	conn.Close()

	fw.Close()
	fw.Close()
	if _, err := fw.Dial(ctx, 8080); err == nil {
		t.Error("Dial after Close succeeded")
	}

	if _, err := kube.PortForward(ctx, c.RESTConfig(), "app", "gone"); err == nil || !strings.Contains(err.Error(), "app/gone") {
		t.Errorf("PortForward to a pod that does not exist: %v, want an error naming app/gone", err)
	}
}

package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Forward is a port-forward to one pod, open until Close: each forwarded port of the pod listens
// on 127.0.0.1 at the address Addr gives.
type Forward struct {
	addrs map[int]string
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	err   error
}

// PortForward forwards ports of a pod to free ports on 127.0.0.1 through the API server's
// portforward subresource, as kubectl port-forward does: over WebSocket, falling back to SPDY
// when the API server does not upgrade to it. It returns once every port listens, or ctx ends;
// the forward itself lasts until Close, whatever becomes of ctx. Nothing is printed.
func PortForward(ctx context.Context, cfg *rest.Config, namespace, pod string, ports ...int) (*Forward, error) {
	if len(ports) == 0 {
		return nil, errors.New("port-forward: no port")
	}
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	u := k.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	tunnel, err := portforward.NewSPDYOverWebsocketDialer(u, cfg)
	if err != nil {
		return nil, err
	}
	dialer = portforward.NewFallbackDialer(tunnel, dialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	specs := make([]string, len(ports))
	for i, p := range ports {
		specs[i] = "0:" + strconv.Itoa(p) // a free local port for each
	}
	f := &Forward{stop: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, specs, f.stop, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", namespace, pod, err)
	}
	go func() {
		defer close(f.done)
		f.err = fw.ForwardPorts()
	}()
	select {
	case <-ready:
	case <-f.done:
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", namespace, pod, f.err)
	case <-ctx.Done():
		f.Close()
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", namespace, pod, ctx.Err())
	}
	got, err := fw.GetPorts()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", namespace, pod, err)
	}
	f.addrs = map[int]string{}
	for _, p := range got {
		f.addrs[int(p.Remote)] = "127.0.0.1:" + strconv.Itoa(int(p.Local))
	}
	return f, nil
}

// Addr is the local address (127.0.0.1:port) that reaches the pod's port, or "" when that port
// is not forwarded.
func (f *Forward) Addr(port int) string { return f.addrs[port] }

// Close stops forwarding and returns once the local ports are closed. It is safe to call more
// than once.
func (f *Forward) Close() {
	f.once.Do(func() { close(f.stop) })
	<-f.done
}

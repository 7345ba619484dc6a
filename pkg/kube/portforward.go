package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// PortForward forwards a local port on 127.0.0.1 to remotePort of a pod, through the cluster's
// API server as kubectl port-forward does: over WebSocket, falling back to SPDY for API servers
// without it. It returns once the local port listens, with its address (127.0.0.1:<port>) and a
// stop function that closes the listener and the tunnel; stop is safe to call more than once.
//
// Every connection to the address is a stream in one tunnel. As with kubectl port-forward, a
// connection the pod's side refuses (nothing listens on remotePort) ends the whole forwarding:
// later connections fail until PortForward is called again. ctx bounds setting up the tunnel;
// cancelling it later also stops the forwarding.
func PortForward(ctx context.Context, cfg *rest.Config, namespace, pod string, remotePort int) (localAddr string, stop func(), err error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", nil, err
	}
	url := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return "", nil, err
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	tunneling, err := portforward.NewSPDYOverWebsocketDialer(url, cfg)
	if err != nil {
		return "", nil, err
	}
	dialer = portforward.NewFallbackDialer(tunneling, dialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})

	stopCh, ready := make(chan struct{}), make(chan struct{})
	var once sync.Once
	stop = func() { once.Do(func() { close(stopCh) }) }
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(remotePort)}, stopCh, ready, io.Discard, io.Discard)
	if err != nil {
		return "", nil, err
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-done:
		if err == nil {
			err = errors.New("forwarding ended before it listened")
		}
		return "", nil, fmt.Errorf("port-forward to pod %s/%s port %d: %w", namespace, pod, remotePort, err)
	case <-ctx.Done():
		stop()
		return "", nil, fmt.Errorf("port-forward to pod %s/%s port %d: %w", namespace, pod, remotePort, ctx.Err())
	}
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-stopCh:
		case <-done:
		}
	}()
	ports, err := fw.GetPorts()
	if err != nil || len(ports) != 1 {
		stop()
		return "", nil, fmt.Errorf("port-forward to pod %s/%s port %d: local port: %v", namespace, pod, remotePort, err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local))), stop, nil
}

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
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Forward is a port-forward session with one pod, open until Close. Dial opens a connection to
// one of the pod's ports through it, as kubectl port-forward does for each connection to its
// local port, but without a local listener: only the caller can use the forward, and a failure
// comes back to the caller instead of being logged.
type Forward struct {
	pod  string
	conn httpstream.Connection

	mu     sync.Mutex
	next   int
	closed bool
}

// PortForward opens a port-forward session with a pod through the API server's portforward
// subresource, as kubectl port-forward does: over WebSocket, falling back to SPDY when the API
// server does not upgrade to it. Nothing is printed.
func PortForward(ctx context.Context, cfg *rest.Config, namespace, pod string) (*Forward, error) {
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
	f := &Forward{pod: namespace + "/" + pod}
	type dialed struct {
		conn     httpstream.Connection
		protocol string
		err      error
	}
	done := make(chan dialed, 1)
	go func() {
		conn, protocol, err := dialer.Dial(portforward.PortForwardProtocolV1Name)
		done <- dialed{conn, protocol, err}
	}()
	select {
	case d := <-done:
		if d.err != nil {
			return nil, fmt.Errorf("port-forward to pod %s: %w", f.pod, d.err)
		}
		if d.protocol != portforward.PortForwardProtocolV1Name {
			d.conn.Close()
			return nil, fmt.Errorf("port-forward to pod %s: the server speaks %q, not %q", f.pod, d.protocol, portforward.PortForwardProtocolV1Name)
		}
		f.conn = d.conn
		return f, nil
	case <-ctx.Done():
		go func() { // the dial cannot be interrupted: close what it opens
			if d := <-done; d.conn != nil {
				d.conn.Close()
			}
		}()
		return nil, fmt.Errorf("port-forward to pod %s: %w", f.pod, ctx.Err())
	}
}

// Dial opens a connection to the pod's port: a pair of streams (data, and errors the kubelet
// reports) in the session, as kubectl makes for each local connection. An error the kubelet
// reports (nothing listens on the port) ends the connection's Read.
func (f *Forward) Dial(ctx context.Context, port int) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	id, closed := f.next, f.closed
	f.next++
	f.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("port-forward to pod %s: closed", f.pod)
	}
	select {
	case <-f.conn.CloseChan():
		return nil, fmt.Errorf("port-forward to pod %s: %w", f.pod, portforward.ErrLostConnectionToPod)
	default:
	}
	headers := http.Header{}
	headers.Set(corev1.StreamType, corev1.StreamTypeError)
	headers.Set(corev1.PortHeader, strconv.Itoa(port))
	headers.Set(corev1.PortForwardRequestIDHeader, strconv.Itoa(id))
	errStream, err := f.conn.CreateStream(headers)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s, port %d: %w", f.pod, port, err)
	}
	errStream.Close() // nothing is written to it
	headers.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := f.conn.CreateStream(headers)
	if err != nil {
		f.conn.RemoveStreams(errStream)
		return nil, fmt.Errorf("port-forward to pod %s, port %d: %w", f.pod, port, err)
	}
	c := &streamConn{f: f, port: port, data: data, errStream: errStream, errDone: make(chan struct{})}
	go func() {
		defer close(c.errDone)
		msg, err := io.ReadAll(errStream)
		switch {
		case len(msg) > 0:
			c.remote = fmt.Errorf("port-forward to pod %s, port %d: %s", f.pod, port, msg)
		case err != nil:
			c.remote = fmt.Errorf("port-forward to pod %s, port %d: %w", f.pod, port, err)
		}
	}()
	return c, nil
}

// Close ends the session and every connection in it. It is safe to call more than once.
func (f *Forward) Close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	_ = f.conn.Close()
}

// streamConn is one connection to a pod's port: a data stream of a port-forward session as a
// net.Conn. Deadlines are not supported: Close abandons the connection.
type streamConn struct {
	f         *Forward
	port      int
	data      httpstream.Stream
	errStream httpstream.Stream
	errDone   chan struct{}
	remote    error // what the kubelet reported, once errDone is closed
	closeOnce sync.Once
}

// remoteErrWait bounds the wait, at the end of the data, for the kubelet's report of why.
const remoteErrWait = time.Second

func (c *streamConn) Read(p []byte) (int, error) {
	n, err := c.data.Read(p)
	if err != nil {
		select {
		case <-c.errDone:
			if c.remote != nil {
				return n, c.remote
			}
		case <-time.After(remoteErrWait):
		}
	}
	return n, err
}

func (c *streamConn) Write(p []byte) (int, error) { return c.data.Write(p) }

// Close resets the data stream, which ends both directions at once, and forgets both streams.
func (c *streamConn) Close() error {
	c.closeOnce.Do(func() {
		_ = c.data.Reset()
		c.f.conn.RemoveStreams(c.data, c.errStream)
	})
	return nil
}

func (c *streamConn) LocalAddr() net.Addr  { return forwardAddr("local") }
func (c *streamConn) RemoteAddr() net.Addr { return forwardAddr(c.f.pod + ":" + strconv.Itoa(c.port)) }

func (c *streamConn) SetDeadline(time.Time) error      { return errNoDeadline }
func (c *streamConn) SetReadDeadline(time.Time) error  { return errNoDeadline }
func (c *streamConn) SetWriteDeadline(time.Time) error { return errNoDeadline }

var errNoDeadline = errors.New("a port-forwarded connection has no deadlines: close it instead")

// forwardAddr names an end of a port-forwarded connection.
type forwardAddr string

func (a forwardAddr) Network() string { return "portforward" }
func (a forwardAddr) String() string  { return string(a) }

// HTTPClient is an HTTP client whose every connection is a Dial to the pod's port: requests name
// any host (the pod's name reads well) and reach the pod. Its connections are not reused.
func (f *Forward) HTTPClient(port int, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return f.Dial(ctx, port) },
	}}
}

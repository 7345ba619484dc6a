package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// probePath is what Probe reads: one object every identity the tool works as may read, so that
// an answer proves the address, the transport, the credentials and the authorization in front of
// the API server (a gateway's, the API server's own) all work.
const probePath = "api/v1/namespaces/kube-system"

// maxProbeBody bounds how much of a refusal Probe keeps: enough for an error's JSON.
const maxProbeBody = 8 << 10

// ProbeError is how an API server, or what stands in front of it, did not answer a probe: the
// HTTP status and the start of the body of a refusal, or the transport error when no answer came.
type ProbeError struct {
	// Host is the address tried (the configuration's host, with any path).
	Host string
	// Status is the HTTP status of a refusal; 0 when no HTTP answer came.
	Status int
	// Body is the start of the refusal's body.
	Body []byte
	// Err is the transport error (timeout, connection refused, TLS), or nil for a refusal.
	Err error
	// Timeout is how long the probe waited.
	Timeout time.Duration
}

func (e *ProbeError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Host, e.Err)
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.Host, e.Status, strings.TrimSpace(string(e.Body)))
}

func (e *ProbeError) Unwrap() error { return e.Err }

// TimedOut reports whether the probe got no answer before its deadline.
func (e *ProbeError) TimedOut() bool {
	if e.Err == nil {
		return false
	}
	if errors.Is(e.Err, context.DeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// Probe reads one object of the API server cfg points at, within timeout, with cfg's transport
// and credentials, and returns nil when it answered (200, or 404 for a cluster without the
// object), or a *ProbeError saying how it did not. It does not retry: a probe is a question.
func Probe(ctx context.Context, cfg *rest.Config, timeout time.Duration) error {
	base, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return &ProbeError{Host: cfg.Host, Err: err}
	}
	client, err := rest.HTTPClientFor(rest.CopyConfig(cfg))
	if err != nil {
		return &ProbeError{Host: cfg.Host, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.JoinPath(probePath).String(), nil)
	if err != nil {
		return &ProbeError{Host: cfg.Host, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return &ProbeError{Host: cfg.Host, Err: err, Timeout: timeout}
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody))
	if resp.StatusCode == http.StatusNotFound && IsKubeStatus(body) {
		return nil
	}
	return &ProbeError{Host: cfg.Host, Status: resp.StatusCode, Body: body, Timeout: timeout}
}

// IsKubeStatus reports whether a body is a Kubernetes Status object: the answer of an API server
// itself, rather than of something in front of it.
func IsKubeStatus(body []byte) bool {
	var st struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	return json.Unmarshal(body, &st) == nil && st.Kind == "Status" && st.APIVersion == "v1"
}

package kube

import (
	"io"
	"net/http"

	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/pkg/retry"
)

// WithRetries returns a copy of cfg whose requests are retried, by p's budget (the one the
// Google Cloud clients use), when the API server answers 429 (API priority and fairness, or a
// rate limit in front of it) or 503 (a control plane being upgraded or resized). A request whose
// body cannot be sent again is not retried. Retrying twice over is avoided: a configuration
// already wrapped is wrapped once.
func WithRetries(cfg *rest.Config, p retry.Policy) *rest.Config {
	c := rest.CopyConfig(cfg)
	p = p.WithDefaults()
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		if _, ok := rt.(*retryTransport); ok {
			return rt
		}
		return &retryTransport{base: rt, p: p}
	})
	return c
}

// retryableStatus are the answers of an API server worth retrying.
func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable
}

type retryTransport struct {
	base http.RoundTripper
	p    retry.Policy
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	b := t.p.Start()
	for {
		resp, err := t.base.RoundTrip(req)
		if err != nil || !retryableStatus(resp.StatusCode) {
			return resp, err
		}
		if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
			return resp, nil
		}
		wait, more := b.Next(retry.RetryAfter(resp.Header, t.p.Now()))
		if !more {
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		if err := t.p.Sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		next := req.Clone(req.Context())
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			next.Body = body
		}
		req = next
	}
}

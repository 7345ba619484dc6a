package gcp

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		kind     ErrorKind
		hintHas  string
		resource string
	}{
		{
			name: "permission with the permission named",
			err:  &googleapi.Error{Code: 403, Message: "Required 'compute.firewalls.create' permission for 'projects/p/global/firewalls/x'", Errors: []googleapi.ErrorItem{{Reason: "forbidden"}}},
			kind: KindPermissionDenied, hintHas: "grant compute.firewalls.create on projects/p/global/firewalls/x",
		},
		{
			name: "API not enabled names the API and the command",
			err: &googleapi.Error{Code: 403, Message: "Compute Engine API has not been used in project 1234567 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/compute.googleapis.com/overview?project=1234567",
				Errors: []googleapi.ErrorItem{{Reason: "accessNotConfigured"}}},
			kind: KindAPINotEnabled, hintHas: "gcloud services enable compute.googleapis.com --project 1234567",
		},
		{
			name: "quota",
			err:  &googleapi.Error{Code: 403, Message: "Quota 'FIREWALLS' exceeded. Limit: 200.0 globally.", Errors: []googleapi.ErrorItem{{Reason: "quotaExceeded"}}},
			kind: KindQuota, hintHas: "quota",
		},
		{name: "rate limit", err: &googleapi.Error{Code: 429, Message: "Rate Limit Exceeded"}, kind: KindQuota},
		{name: "precondition", err: &googleapi.Error{Code: 412, Message: "Precondition Failed"}, kind: KindPrecondition, hintHas: "run plan and apply again"},
		{name: "stale fingerprint", err: &googleapi.Error{Code: 400, Message: "Supplied fingerprint does not match current metadata fingerprint."}, kind: KindPrecondition},
		{name: "conflict", err: &googleapi.Error{Code: 409, Message: "The resource 'projects/p/global/networks/n' already exists"}, kind: KindConflict},
		{name: "not found", err: &googleapi.Error{Code: 404, Message: "not found"}, kind: KindNotFound},
		// ALREADY_EXISTS and ABORTED share HTTP 409; only ALREADY_EXISTS means the resource is there.
		{name: "gRPC already exists", err: grpcErr(codes.AlreadyExists, "Already exists: projects/p/locations/l/clusters/c."), kind: KindConflict},
		{name: "gRPC aborted", err: grpcErr(codes.Aborted, "Operation was aborted."), kind: KindAborted, hintHas: "run apply again"},
		{name: "REST aborted", err: &googleapi.Error{Code: 409, Message: "Operation was aborted.", Body: `{"error":{"code":409,"message":"Operation was aborted.","status":"ABORTED"}}`}, kind: KindAborted},
		{name: "REST already exists", err: &googleapi.Error{Code: 409, Message: "Already exists: projects/p/locations/l/clusters/c.", Body: `{"error":{"code":409,"status":"ALREADY_EXISTS"}}`}, kind: KindConflict},
		{name: "aborted operation", err: &opError{code: 409, grpc: codes.Aborted, msg: "operation op-1 failed: the cluster is being deleted"}, kind: KindAborted},
		// Google maps FAILED_PRECONDITION to 400.
		{name: "gRPC failed precondition", err: grpcErr(codes.FailedPrecondition, "Cluster is running incompatible operation."), kind: KindPrecondition},
		{name: "failed operation", err: &opError{code: 429, msg: "operation op-1 failed: QUOTA_EXCEEDED"}, kind: KindQuota},
		{name: "server error", err: &googleapi.Error{Code: 503, Message: "backend unavailable"}, kind: KindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify("create firewall rule", "projects/p/global/firewalls/x", tt.err)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("not classified: %v", err)
			}
			if e.Kind != tt.kind {
				t.Errorf("kind %q, want %q (%v)", e.Kind, tt.kind, err)
			}
			if !strings.Contains(e.Hint, tt.hintHas) {
				t.Errorf("hint %q lacks %q", e.Hint, tt.hintHas)
			}
			if !strings.HasPrefix(err.Error(), "create firewall rule projects/p/global/firewalls/x: ") {
				t.Errorf("error does not name the call and resource: %v", err)
			}
			if !errors.Is(err, tt.err) {
				t.Error("the original error is not wrapped")
			}
		})
	}
}

func grpcErr(c codes.Code, msg string) error {
	ae, ok := apierror.FromError(status.Error(c, msg))
	if !ok {
		panic("not an API error")
	}
	return ae
}

func TestHTTPFromGRPC(t *testing.T) {
	for c, want := range map[codes.Code]int{codes.AlreadyExists: 409, codes.Aborted: 409, codes.FailedPrecondition: 400, codes.NotFound: 404} {
		if got := httpFromGRPC(c); got != want {
			t.Errorf("%v: HTTP %d, want %d", c, got, want)
		}
	}
}

func TestRetry(t *testing.T) {
	var slept []time.Duration
	c := &Clients{cfg: Config{Retry: RetryPolicy{Attempts: 4, Initial: 100 * time.Millisecond, Max: time.Second,
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}.WithDefaults()}}
	ctx := context.Background()

	calls := 0
	retryAfter := &googleapi.Error{Code: 429, Message: "slow down", Header: http.Header{"Retry-After": []string{"1"}}}
	err := c.do(ctx, "list firewall rules", "projects/p", func(context.Context) error {
		calls++
		if calls < 3 {
			return retryAfter
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("429 twice then success: err %v after %d calls", err, calls)
	}
	for _, d := range slept {
		if d != time.Second {
			t.Errorf("Retry-After: 1 not honoured, slept %v", d)
		}
	}

	calls, slept = 0, nil
	err = c.do(ctx, "list firewall rules", "projects/p", func(context.Context) error {
		calls++
		return &googleapi.Error{Code: 503, Message: "unavailable"}
	})
	if calls != 4 || !IsKind(err, KindUnavailable) {
		t.Errorf("503 forever: %d calls, err %v", calls, err)
	}
	for i, d := range slept {
		if d <= 0 || d > min(100*time.Millisecond<<i, time.Second) {
			t.Errorf("backoff %d: %v outside (0, %v]", i, d, 100*time.Millisecond<<i)
		}
	}

	calls = 0
	err = c.do(ctx, "create network", "projects/p/global/networks/n", func(context.Context) error {
		calls++
		return &googleapi.Error{Code: 400, Message: "Invalid value for field 'resource.name'"}
	})
	if calls != 1 || !IsKind(err, KindInvalid) {
		t.Errorf("400 retried or misclassified: %d calls, %v", calls, err)
	}
}

func TestLoopbackOnlyWithoutTLS(t *testing.T) {
	if _, err := clientOptions(context.Background(), Config{Endpoint: "http://10.0.0.5:8080"}); err == nil {
		t.Error("a plain-HTTP endpoint off loopback was accepted")
	}
	if _, err := clientOptions(context.Background(), Config{Endpoint: "127.0.0.1:8080"}); err == nil {
		t.Error("an endpoint without a scheme was accepted")
	}
	if _, err := clientOptions(context.Background(), Config{Endpoint: "http://127.0.0.1:8080"}); err != nil {
		t.Errorf("loopback sandbox refused: %v", err)
	}
}

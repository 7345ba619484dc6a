package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/googleapis/gax-go/v2/apierror"

	"github.com/asmfed/kubectl-asmfed/pkg/retry"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
)

// ErrorKind classifies an API error by what the user should do about it.
type ErrorKind string

// Error kinds.
const (
	KindPermissionDenied ErrorKind = "permission denied"
	KindAPINotEnabled    ErrorKind = "API not enabled"
	KindQuota            ErrorKind = "quota exceeded"
	KindPrecondition     ErrorKind = "precondition failed"
	KindConflict         ErrorKind = "already exists"
	KindAborted          ErrorKind = "aborted"
	KindNotFound         ErrorKind = "not found"
	KindInvalid          ErrorKind = "invalid request"
	KindUnavailable      ErrorKind = "unavailable"
	KindOther            ErrorKind = "error"
)

// Error is an API error with the call and resource it concerns, what kind of problem it is, and
// the fix when it is known.
type Error struct {
	Kind     ErrorKind
	Call     string
	Resource string
	Code     int
	Message  string
	Hint     string
	Err      error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", e.Call, e.Resource, e.Message)
	if e.Hint != "" {
		fmt.Fprintf(&b, " (hint: %s)", e.Hint)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// IsKind reports whether err is an API error of kind k.
func IsKind(err error, k ErrorKind) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind == k
	}
	return false
}

var (
	requiredPermission = regexp.MustCompile(`(?:Required '([a-zA-Z0-9._]+)' permission for '([^']+)'|Permission '([a-zA-Z0-9._]+)' denied on (?:resource )?'?([^' ]+)'?)`)
	serviceName        = regexp.MustCompile(`([a-z0-9-]+\.googleapis\.com)`)
	projectInMessage   = []*regexp.Regexp{
		regexp.MustCompile(`[?&]project=([a-z0-9-]+)`),
		regexp.MustCompile(`in project ([a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{6,})\b`),
		regexp.MustCompile(`projects/([a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{6,})\b`),
	}
)

// statusOf extracts the HTTP status, the reasons and the message of an error from the REST or
// gRPC clients.
func statusOf(err error) (code int, reasons []string, msg string, header http.Header) {
	code, reasons, msg, header, _ = statusAndCode(err)
	return code, reasons, msg, header
}

// statusAndCode is statusOf with the canonical (gRPC) code when the error says it: a gRPC
// status, an operation's status, or the "status" of a REST error body. It is codes.Unknown
// when only the HTTP status is known, which does not tell ABORTED from ALREADY_EXISTS.
func statusAndCode(err error) (code int, reasons []string, msg string, header http.Header, canonical codes.Code) {
	canonical = codes.Unknown
	var oe *opError
	if errors.As(err, &oe) {
		if oe.grpc != codes.OK {
			canonical = oe.grpc
		}
		return oe.code, nil, oe.msg, nil, canonical
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		ge = nil
	} else {
		code, msg, header = ge.Code, ge.Message, ge.Header
		for _, item := range ge.Errors {
			reasons = append(reasons, item.Reason)
			if msg == "" {
				msg = item.Message
			}
		}
	}
	if ge != nil {
		var body struct {
			Error struct {
				Status string `json:"status"`
			} `json:"error"`
		}
		if json.Unmarshal([]byte(ge.Body), &body) == nil {
			if c, ok := codeByName[body.Error.Status]; ok {
				canonical = c
			}
		}
	}
	var ae *apierror.APIError
	if errors.As(err, &ae) {
		if code == 0 {
			code = ae.HTTPCode()
		}
		if code <= 0 && ae.GRPCStatus() != nil {
			// A gRPC error: its code is the canonical one (REST errors carry a code mapped
			// back from the HTTP status, which loses it).
			canonical = ae.GRPCStatus().Code()
			code = httpFromGRPC(canonical)
		}
		if r := ae.Reason(); r != "" {
			reasons = append(reasons, r)
		}
		if msg == "" && ae.GRPCStatus() != nil {
			msg = ae.GRPCStatus().Message()
		}
	}
	if msg == "" {
		msg = err.Error()
	}
	return code, reasons, msg, header, canonical
}

// codeByName maps the "status" of Google's JSON errors to codes.
var codeByName = map[string]codes.Code{
	"ALREADY_EXISTS":      codes.AlreadyExists,
	"ABORTED":             codes.Aborted,
	"FAILED_PRECONDITION": codes.FailedPrecondition,
}

func grpcCode(c int32) codes.Code { return codes.Code(c) }

func httpFromGRPC(c codes.Code) int {
	switch c {
	case codes.InvalidArgument, codes.OutOfRange, codes.FailedPrecondition:
		return 400
	case codes.Unauthenticated:
		return 401
	case codes.PermissionDenied:
		return 403
	case codes.NotFound:
		return 404
	case codes.AlreadyExists, codes.Aborted:
		return 409
	case codes.ResourceExhausted:
		return 429
	case codes.Unavailable:
		return 503
	case codes.DeadlineExceeded:
		return 504
	case codes.Internal, codes.Unknown, codes.DataLoss:
		return 500
	}
	return 0
}

// classify wraps err with the call, the resource and a hint.
func classify(call, resource string, err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: %w", call, resource, err)
	}
	code, reasons, msg, _, canonical := statusAndCode(err)
	e := &Error{Kind: KindOther, Call: call, Resource: resource, Code: code, Message: msg, Err: err}
	has := func(rs ...string) bool {
		for _, r := range reasons {
			for _, want := range rs {
				if strings.EqualFold(r, want) {
					return true
				}
			}
		}
		return false
	}
	lower := strings.ToLower(msg)
	switch {
	case has("accessNotConfigured", "SERVICE_DISABLED") || strings.Contains(lower, "has not been used in project") || strings.Contains(lower, "is disabled"):
		e.Kind = KindAPINotEnabled
		svc := "the API"
		if m := serviceName.FindString(msg); m != "" {
			svc = m
		}
		project := "PROJECT"
		for _, re := range projectInMessage {
			if m := re.FindStringSubmatch(msg); m != nil {
				project = m[1]
				break
			}
		}
		e.Hint = fmt.Sprintf("enable %s: apply enables the APIs a federation needs before anything else, or run gcloud services enable %s --project %s", svc, svc, project)
	case code == 429 || has("rateLimitExceeded", "quotaExceeded", "RATE_LIMIT_EXCEEDED") || strings.Contains(msg, "QUOTA_EXCEEDED") || strings.Contains(lower, "quota"):
		e.Kind = KindQuota
		e.Hint = "request more quota in the console (IAM & Admin > Quotas) or lower --parallelism"
	case code == 403 || code == 401:
		e.Kind = KindPermissionDenied
		if m := requiredPermission.FindStringSubmatch(msg); m != nil {
			perm, on := m[1], m[2]
			if perm == "" {
				perm, on = m[3], m[4]
			}
			e.Hint = fmt.Sprintf("grant %s on %s to the identity running the tool (or use --impersonate-service-account)", perm, on)
		} else {
			e.Hint = "check the IAM roles of the identity running the tool (gcloud auth list), or use --impersonate-service-account"
		}
	case canonical == codes.AlreadyExists || (code == 409 && canonical != codes.Aborted && (has("alreadyExists", "ALREADY_EXISTS", "RESOURCE_ALREADY_EXISTS") || strings.Contains(lower, "already exists"))):
		e.Kind = KindConflict
		e.Hint = "it was created outside this apply; run plan to see it"
	case canonical == codes.Aborted || code == 409:
		e.Kind = KindAborted
		e.Hint = "another change to the resource ran at the same time; run apply again"
	case canonical == codes.FailedPrecondition || code == 412 || has("conditionNotMet") || strings.Contains(lower, "fingerprint") || strings.Contains(lower, "precondition"):
		e.Kind = KindPrecondition
		e.Hint = "the resource changed while the tool worked on it; run plan and apply again"
	case code == 404:
		e.Kind = KindNotFound
	case code == 400:
		e.Kind = KindInvalid
	case code >= 500:
		e.Kind = KindUnavailable
		e.Hint = "Google Cloud returned a server error; retry later"
	}
	return e
}

// RetryPolicy retries calls that failed with 429 or 5xx, with exponential backoff and full
// jitter, honouring Retry-After, for as long as its budget (a per-minute quota window and more)
// allows; 4xx errors are never retried: they will fail again. The Kubernetes clients share it.
type RetryPolicy = retry.Policy

func retryable(err error) (bool, time.Duration) {
	code, _, _, header := statusOf(err)
	if !retry.Status(code) {
		return false, 0
	}
	return true, retry.RetryAfter(header, time.Now())
}

// do runs fn, retrying transient failures, and classifies the final error.
func (c *Clients) do(ctx context.Context, call, resource string, fn func(ctx context.Context) error) error {
	if err := retry.Do(ctx, c.cfg.Retry, fn, retryable); err != nil {
		return classify(call, resource, err)
	}
	return nil
}

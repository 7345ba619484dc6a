package gcpfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Error is an API error carrying both its REST form (HTTP code and the
// legacy "reason") and its gRPC code, so one handler error renders
// faithfully on either transport.
type Error struct {
	Code    codes.Code
	HTTP    int
	Reason  string
	Message string
	// Fields names the offending request fields for 400s.
	Fields map[string]string
	// Info is the google.rpc.ErrorInfo detail (reason, domain, metadata)
	// that clients such as apierror.APIError.Reason read.
	Info *ErrorInfo `json:",omitempty"`
}

// ErrorInfo mirrors google.rpc.ErrorInfo.
type ErrorInfo struct {
	Reason   string
	Domain   string
	Metadata map[string]string
}

func (e *Error) Error() string { return e.Message }

// GRPCStatus lets grpc-go send the matching status on gRPC.
func (e *Error) GRPCStatus() *status.Status {
	code := e.Code
	if code == codes.OK {
		code = httpToCode(e.HTTP)
	}
	st := status.New(code, e.Message)
	if len(e.Fields) > 0 {
		br := &errdetails.BadRequest{}
		for f, d := range e.Fields {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: f, Description: d})
		}
		if s2, err := st.WithDetails(br); err == nil {
			st = s2
		}
	}
	if e.Info != nil {
		if s2, err := st.WithDetails(&errdetails.ErrorInfo{Reason: e.Info.Reason, Domain: e.Info.Domain, Metadata: e.Info.Metadata}); err == nil {
			st = s2
		}
	}
	return st
}

func httpToCode(h int) codes.Code {
	switch h {
	case 400:
		return codes.InvalidArgument
	case 401:
		return codes.Unauthenticated
	case 403:
		return codes.PermissionDenied
	case 404:
		return codes.NotFound
	case 409:
		return codes.AlreadyExists
	case 412:
		return codes.FailedPrecondition
	case 429:
		return codes.ResourceExhausted
	case 499:
		return codes.Canceled
	case 501:
		return codes.Unimplemented
	case 503:
		return codes.Unavailable
	case 504:
		return codes.DeadlineExceeded
	}
	if h >= 500 {
		return codes.Internal
	}
	return codes.Unknown
}

func codeToHTTP(c codes.Code) int {
	switch c {
	case codes.OK:
		return 200
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
	case codes.Canceled:
		return 499
	case codes.Unimplemented:
		return 501
	case codes.Unavailable:
		return 503
	case codes.DeadlineExceeded:
		return 504
	}
	return 500
}

func reasonFor(h int) string {
	switch h {
	case 400:
		return "badRequest"
	case 401:
		return "required"
	case 403:
		return "forbidden"
	case 404:
		return "notFound"
	case 409:
		return "alreadyExists"
	case 412:
		return "conditionNotMet"
	case 429:
		return "rateLimitExceeded"
	case 503:
		return "backendError"
	}
	return "backendError"
}

func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		out := *e
		if out.HTTP == 0 {
			out.HTTP = codeToHTTP(out.Code)
		}
		if out.Code == codes.OK {
			out.Code = httpToCode(out.HTTP)
		}
		if out.Reason == "" {
			out.Reason = reasonFor(out.HTTP)
		}
		return &out
	}
	st, _ := status.FromError(err)
	h := codeToHTTP(st.Code())
	return &Error{Code: st.Code(), HTTP: h, Reason: reasonFor(h), Message: st.Message()}
}

type jsonErrItem struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}

type jsonErr struct {
	Code    int           `json:"code"`
	Message string        `json:"message"`
	Errors  []jsonErrItem `json:"errors,omitempty"`
	Status  string        `json:"status,omitempty"`
	Details []any         `json:"details,omitempty"`
}

// writeError renders Google's JSON error envelope. Compute's has no
// "status", which is how the real frontends differ.
func writeError(w http.ResponseWriter, compute bool, err error) {
	e := toError(err)
	body := jsonErr{Code: e.HTTP, Message: e.Message,
		Errors: []jsonErrItem{{Message: e.Message, Domain: "global", Reason: e.Reason}}}
	if !compute {
		body.Status = e.Code.String()
		body.Status = statusName(e.Code)
		if len(e.Fields) > 0 {
			var fv []map[string]string
			for f, d := range e.Fields {
				fv = append(fv, map[string]string{"field": f, "description": d})
			}
			body.Details = append(body.Details, map[string]any{
				"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": fv})
		}
	}
	if e.Info != nil {
		if !compute {
			// gRPC-based APIs answer through the ESF transcoder, whose
			// bodies have no legacy "errors" list; clients (gax's
			// apierror) only parse details from such bodies.
			body.Errors = nil
		}
		body.Details = append(body.Details, map[string]any{
			"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": e.Info.Reason, "domain": e.Info.Domain, "metadata": e.Info.Metadata})
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.HTTP)
	json.NewEncoder(w).Encode(map[string]any{"error": body})
}

func statusName(c codes.Code) string {
	names := map[codes.Code]string{
		codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN", codes.InvalidArgument: "INVALID_ARGUMENT",
		codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
		codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
		codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE",
		codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE",
		codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
	}
	return names[c]
}

func badRequest(format string, a ...any) *Error {
	return &Error{Code: codes.InvalidArgument, HTTP: 400, Reason: "invalid", Message: fmt.Sprintf(format, a...)}
}

func internalErr(format string, a ...any) *Error {
	return &Error{Code: codes.Internal, HTTP: 500, Reason: "backendError", Message: fmt.Sprintf(format, a...)}
}

// Compute wording, copied from what the real API prints.
func computeNotFound(fqn string) *Error {
	return &Error{Code: codes.NotFound, HTTP: 404, Reason: "notFound", Message: fmt.Sprintf("The resource '%s' was not found", fqn)}
}

func computeExists(fqn string) *Error {
	return &Error{Code: codes.AlreadyExists, HTTP: 409, Reason: "alreadyExists", Message: fmt.Sprintf("The resource '%s' already exists", fqn)}
}

func computeInvalid(field, format string, a ...any) *Error {
	msg := fmt.Sprintf(format, a...)
	return &Error{Code: codes.InvalidArgument, HTTP: 400, Reason: "invalid", Message: msg, Fields: map[string]string{field: msg}}
}

// notUpdatable is networks.patch's refusal of a field it does not modify (terraform-provider-google
// issue 847 quotes it for a description).
func notUpdatable(field, value string) *Error {
	return computeInvalid(field, "Invalid value for field '%s': '%s'. Updating this field is not supported.", field, value)
}

// notModifiable is subnetworks.patch's refusal of fields set only at creation: the request's
// resource as JSON, then the fields (terraform-provider-google issue 6481 quotes it for purpose).
func notModifiable(in proto.Message, fields []string) *Error {
	body, _ := protojson.Marshal(in)
	return computeInvalid("resource", "Invalid value for field 'resource': '%s'. The following field(s) specified in the request cannot be modified: [%s]",
		body, strings.Join(fields, ", "))
}

func computeInUse(fqn, by string) *Error {
	return &Error{Code: codes.FailedPrecondition, HTTP: 400, Reason: "resourceInUseByAnotherResource",
		Message: fmt.Sprintf("The %s resource '%s' is already being used by '%s'", kindOf(fqn), fqn, by)}
}

func fingerprintMismatch(fqn string) *Error {
	return &Error{Code: codes.FailedPrecondition, HTTP: 412, Reason: "conditionNotMet",
		Message: fmt.Sprintf("Supplied fingerprint does not match current fingerprint of resource '%s'.", fqn)}
}

func gkeErr(code codes.Code, format string, a ...any) *Error {
	return &Error{Code: code, HTTP: codeToHTTP(code), Message: fmt.Sprintf(format, a...)}
}

func gkeField(field, format string, a ...any) *Error {
	msg := fmt.Sprintf(format, a...)
	return &Error{Code: codes.InvalidArgument, HTTP: 400, Message: msg, Fields: map[string]string{field: msg}}
}

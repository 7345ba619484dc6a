package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// redactedForm is the documented form of a redacted value (docs/plan-json.md).
var redactedForm = regexp.MustCompile(`^\(sensitive sha256:([0-9a-f]+)\)$`)

func TestRedactValue(t *testing.T) {
	tests := []struct {
		name  string
		value any
	}{
		{name: "token", value: "eyJhbGciOiJSUzI1NiIsImtpZCI6InNlY3JldCJ9"},
		{name: "short", value: "x"},
		{name: "secret data", value: map[string]any{"token": "c2VjcmV0", "ca.crt": "LS0tLS1CRUdJTg=="}},
		{name: "number", value: 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := redactValue(tt.value).(string)
			if !ok {
				t.Fatalf("redactValue = %#v, want a string", redactValue(tt.value))
			}
			m := redactedForm.FindStringSubmatch(got)
			if m == nil {
				t.Fatalf("redactValue = %q, want (sensitive sha256:<hex>)", got)
			}
			if len(m[1]) != 12 {
				t.Errorf("redactValue = %q shows %d hex digits, want 12", got, len(m[1]))
			}
			data, err := json.Marshal(canonical(tt.value))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if want := hex.EncodeToString(sum[:])[:12]; m[1] != want {
				t.Errorf("redactValue = %q, want the start of the value's SHA-256 %s", got, want)
			}
			for _, s := range secretsIn(tt.value) {
				if strings.Contains(got, s) {
					t.Errorf("redactValue = %q contains the value %q", got, s)
				}
			}
		})
	}
	if redactValue(nil) != nil {
		t.Error("redactValue(nil) must stay nil: an absent value is not a secret")
	}
	if redactValue("a") == redactValue("b") {
		t.Error("different values must redact differently, so a change shows")
	}
}

// secretsIn lists the strings of v that must never appear in output.
func secretsIn(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, secretsIn(e)...)
		}
		return out
	}
	return nil
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name      string
		fields    map[string]any
		sensitive []string
		want      map[string]any
	}{
		{name: "nil stays nil", fields: nil, want: nil},
		{name: "only the sensitive field is redacted, the rest canonical",
			fields:    map[string]any{"data": map[string]string{"token": "abc"}, "type": "Opaque", "replicas": int32(2)},
			sensitive: []string{"data"},
			want:      map[string]any{"data": redactValue(map[string]any{"token": "abc"}), "type": "Opaque", "replicas": float64(2)}},
		{name: "a sensitive name that is not set adds nothing",
			fields: map[string]any{"type": "Opaque"}, sensitive: []string{"data"},
			want: map[string]any{"type": "Opaque"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, redact(tt.fields, tt.sensitive)); diff != "" {
				t.Errorf("redact (-want +got):\n%s", diff)
			}
		})
	}
}

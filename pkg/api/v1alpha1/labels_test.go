package v1alpha1

import (
	"regexp"
	"strings"
	"testing"
)

// The label checks are hand-written to keep Unicode class compilation out of start-up; they must
// accept exactly what the regular expressions of Google Cloud's label rules accept.
func TestLabelChecksMatchTheirRegexps(t *testing.T) {
	key := regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
	value := regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)
	inputs := []string{
		"", "a", "A", "1", "_", "-", "a1", "a_b-c", "aB", "mesh_id", "proj-123456789", "ünïcödé", "日本語",
		"٣", "aⅫ", "a½", "a b", "a.b", "a/b", "\xff", "a\xff", "\u00aa", "ǅ", "a\u0301", "\ufffd",
		strings.Repeat("a", 62), strings.Repeat("a", 63), strings.Repeat("a", 64),
		strings.Repeat("é", 63), strings.Repeat("é", 64), "1" + strings.Repeat("a", 62),
	}
	for _, s := range inputs {
		if got, want := isLabelKey(s), key.MatchString(s); got != want {
			t.Errorf("isLabelKey(%q) = %v, the regexp says %v", s, got, want)
		}
		if got, want := isLabelValue(s), value.MatchString(s); got != want {
			t.Errorf("isLabelValue(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}

func FuzzLabelChecks(f *testing.F) {
	key := regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
	value := regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)
	for _, s := range []string{"a", "mesh_id", "日本語", "A", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if isLabelKey(s) != key.MatchString(s) || isLabelValue(s) != value.MatchString(s) {
			t.Errorf("%q: key %v/%v value %v/%v", s, isLabelKey(s), key.MatchString(s), isLabelValue(s), value.MatchString(s))
		}
	})
}

package xsdcheck

import (
	"strings"
	"testing"
)

// The validator rejects what the schema rejects: each broken document fails with its reason,
// and a document that uses the schema's other constructs passes.
func TestJUnitSchema(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{name: "valid, with every kind of child", doc: `<testsuites name="n" time="1,234.5"><testsuite name="s" tests="1" failures="0" errors="0" time="0.5">
			<properties><property name="a" value="b"/></properties><testcase name="c"><system-out>x</system-out><skipped message="m"/></testcase>
			<testcase name="d"><rerunFailure type="t">text<stackTrace>s</stackTrace></rerunFailure></testcase></testsuite></testsuites>`},
		{name: "not well-formed", doc: `<testsuites><testsuite>`, want: "not well-formed"},
		{name: "undeclared root", doc: `<report/>`, want: "root element report is not declared"},
		{name: "required attribute missing", doc: `<testsuites><testsuite tests="1" failures="0" errors="0"/></testsuites>`, want: "required attribute name is missing"},
		{name: "undeclared attribute", doc: `<testsuites skipped="1"/>`, want: "attribute skipped is not declared"},
		{name: "a testcase outside a suite", doc: `<testsuites><testcase name="t"/></testsuites>`, want: "not allowed by the content model"},
		{name: "a bad time", doc: `<testsuites time="1.2.3"/>`, want: `time="1.2.3" does not match SUREFIRE_TIME`},
		{name: "text where none is allowed", doc: `<testsuites>text</testsuites>`, want: "where the type allows none"},
		{name: "an element in a simple-typed one", doc: `<testsuites><testsuite name="a" tests="1" failures="0" errors="0"><testcase name="t"><system-out><b/></system-out></testcase></testsuite></testsuites>`,
			want: "a simple-typed element has attributes or children"},
		{name: "a property without a value", doc: `<testsuites><testsuite name="a" tests="0" failures="0" errors="0"><properties><property name="x"/></properties></testsuite></testsuites>`,
			want: "required attribute value is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := JUnit().Validate([]byte(tt.doc))
			if tt.want == "" {
				if len(errs) > 0 {
					t.Fatalf("valid document refused: %v", errs)
				}
				return
			}
			if !strings.Contains(strings.Join(errs, "\n"), tt.want) {
				t.Fatalf("errors %v, want one saying %q", errs, tt.want)
			}
		})
	}
}

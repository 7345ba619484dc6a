package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/internal/xsdcheck"
)

// report is one of every kind of outcome: a check that passed, one that failed (with a hint and a
// message XML must escape), one that warned, one with unmet requirements, one partly skipped.
func report(t *testing.T) *Report {
	t.Helper()
	unmet := Requirement{Name: "x", Unmet: func(*Env) string { return "the rules were not read" }}
	return Run(context.Background(), &Env{}, []Check{
		{ID: "ASMFED-PRE-001", Name: "clusters exist and run", Run: findings(Finding{Subject: "c1", Status: OK, Message: "running and reachable"})},
		{ID: "ASMFED-NET-002", Name: "peers' pods are in the master authorized networks", Run: findings(
			Finding{Subject: "c2 → c1", Status: OK, Message: "let in"},
			Finding{Subject: "c1 → c2", Status: Fail, Message: `c2's networks lack <10.1.0.0/16> & "more"` + "\x00", Hint: "add it"})},
		{ID: "ASMFED-PRE-002", Name: "live state matches the file", Run: findings(Finding{Status: Warn, Message: "apply would still add 1", Hint: "apply"})},
		{ID: "ASMFED-NET-001", Name: "the VPC firewall carries the mesh's flows", Requires: []Requirement{unmet}},
		{ID: "ASMFED-ACCESS-001", Name: "remote secrets reach their peers", Run: findings(
			Finding{Subject: "c1 → c2", Status: OK, Message: "lists"}, Finding{Subject: "c2 → c1", Status: Skipped, Message: "c2 cannot be reached"})},
	})
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, report(t), TextOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "ASMFED-PRE-001 clusters exist and run\n" +
		"  √ c1: running and reachable\n" +
		"ASMFED-NET-002 peers' pods are in the master authorized networks\n" +
		"  √ c2 → c1: let in\n" +
		"  × c1 → c2: c2's networks lack <10.1.0.0/16> & \"more\"\x00\n" +
		"      hint: add it\n" +
		"  see docs/verify.md#asmfed-net-002\n" +
		"ASMFED-PRE-002 live state matches the file\n" +
		"  ‼ apply would still add 1\n" +
		"      hint: apply\n" +
		"  see docs/verify.md#asmfed-pre-002\n" +
		"ASMFED-NET-001 the VPC firewall carries the mesh's flows\n" +
		"  - the rules were not read\n" +
		"ASMFED-ACCESS-001 remote secrets reach their peers\n" +
		"  √ c1 → c2: lists\n" +
		"  - c2 → c1: c2 cannot be reached\n" +
		"\n" +
		"1/5 checks failed (1/5 findings), 1 warning; skipped: 1 check, 2 findings\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}

	// Colour paints the marks and nothing else.
	b.Reset()
	if err := WriteText(&b, report(t), TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "  \x1b[31m×\x1b[0m c1 → c2:") || !strings.Contains(b.String(), "  \x1b[32m√\x1b[0m c1: running") {
		t.Errorf("coloured marks missing:\n%q", b.String())
	}
	if plain := regexpANSI.ReplaceAllString(b.String(), ""); plain != want {
		t.Errorf("colour changes more than the marks:\n%s", cmp.Diff(want, plain))
	}
}

// The JSON keeps the shape it had (results with check, name, subject, status, message, hint;
// counts of findings by status) and adds each check's status and the counts of checks.
func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, report(t)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Results []map[string]any `json:"results"`
		Checks  []map[string]any `json:"checks"`
		Counts  map[string]any   `json:"counts"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != 7 || got.Results[2]["check"] != "ASMFED-NET-002" || got.Results[2]["status"] != "failed" ||
		got.Results[2]["hint"] != "add it" || got.Results[2]["subject"] != "c1 → c2" || got.Results[2]["name"] != "peers' pods are in the master authorized networks" {
		t.Errorf("results: %v", got.Results)
	}
	wantCounts := map[string]any{"ok": 3.0, "warnings": 1.0, "failed": 1.0, "skipped": 2.0,
		"checks": map[string]any{"total": 5.0, "ok": 2.0, "warnings": 1.0, "failed": 1.0, "skipped": 1.0}}
	if diff := cmp.Diff(wantCounts, got.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if len(got.Checks) != 5 || got.Checks[1]["id"] != "ASMFED-NET-002" || got.Checks[1]["status"] != "failed" || got.Checks[1]["group"] != "NET" ||
		got.Checks[1]["doc"] != "docs/verify.md#asmfed-net-002" {
		t.Errorf("checks: %v", got.Checks)
	}
	if strings.Contains(b.String(), `\u003c`) {
		t.Error("JSON escapes HTML characters")
	}
}

// The JUnit report is valid against Jenkins' junit-10.xsd and says the same as the others: a
// suite per check, a case per finding, failures and skips where they are.
func TestWriteJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, report(t)); err != nil {
		t.Fatal(err)
	}
	if errs := xsdcheck.JUnit().Validate(b.Bytes()); len(errs) > 0 {
		t.Fatalf("not valid against junit-10.xsd:\n%s\n%s", strings.Join(errs, "\n"), b.String())
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Skipped  int    `xml:"skipped,attr"`
			Cases    []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
					Body    string `xml:",chardata"`
				} `xml:"failure"`
				Skipped *struct {
					Message string `xml:"message,attr"`
				} `xml:"skipped"`
				SystemOut string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 7 || doc.Failures != 1 || len(doc.Suites) != 5 {
		t.Fatalf("%d tests, %d failures, %d suites; want 7, 1, 5", doc.Tests, doc.Failures, len(doc.Suites))
	}
	net := doc.Suites[1]
	if net.Name != "ASMFED-NET-002 peers' pods are in the master authorized networks" || net.Tests != 2 || net.Failures != 1 {
		t.Errorf("suite %+v", net)
	}
	failed := net.Cases[1]
	if failed.Classname != "ASMFED-NET-002" || failed.Failure == nil || !strings.HasPrefix(failed.Name, "c1 → c2: c2's networks lack <10.1.0.0/16> & \"more\"") ||
		failed.Failure.Body != "hint: add it\nsee docs/verify.md#asmfed-net-002" {
		t.Errorf("failed case %+v", failed)
	}
	if net.Cases[0].Failure != nil || net.Cases[0].Skipped != nil {
		t.Errorf("a passing finding is not a plain case: %+v", net.Cases[0])
	}
	if s := doc.Suites[3]; s.Skipped != 1 || s.Cases[0].Skipped == nil || s.Cases[0].Skipped.Message != "the rules were not read" {
		t.Errorf("the check with unmet requirements: %+v", s)
	}
	if c := doc.Suites[2].Cases[0]; c.Failure != nil || c.SystemOut != "warning: apply would still add 1\nhint: apply" {
		t.Errorf("the warning: %+v", c)
	}
}

var regexpANSI = regexp.MustCompile("\x1b\\[[0-9;]*m")

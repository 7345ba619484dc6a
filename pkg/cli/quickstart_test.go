package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// TestQuickstartFile keeps docs/quickstart.md honest: the federation file its heredoc writes, with
// a project ID and an address filled in, passes validate after ca init, and the APIs its table
// lists are the ones the plan enables.
func TestQuickstartFile(t *testing.T) {
	doc, err := os.ReadFile("../../docs/quickstart.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)cat > federation\.yaml <<EOF\n(.*?)\nEOF\n`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/quickstart.md has no `cat > federation.yaml <<EOF` … EOF")
	}
	file := strings.NewReplacer("$PROJECT", "asmfed-quickstart-1234", "$MY_IP", "203.0.113.7").Replace(string(m[1]))
	if strings.Contains(file, "$") {
		t.Fatalf("the quickstart's file uses a variable the test does not fill in:\n%s", file)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "federation.yaml")
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, "ca", "init", "--out", filepath.Join(dir, "ca")); r.code != exitOK {
		t.Fatalf("ca init: code %d: %s", r.code, r.stderr)
	}
	if r := run(t, "validate", "-f", path); r.code != exitOK {
		t.Fatalf("validate of the quickstart's file: code %d:\n%s", r.code, r.stderr)
	}

	r := run(t, "render", "-f", path, "--derived", "-o", "json")
	if r.code != exitOK {
		t.Fatalf("render --derived: code %d: %s", r.code, r.stderr)
	}
	var d federation.Desired
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	var planned []string
	for _, a := range d.APIs {
		if !slices.Contains(planned, a.Service) {
			planned = append(planned, a.Service)
		}
	}
	slices.Sort(planned)

	// The first column of the table that follows "enables these APIs".
	_, after, ok := strings.Cut(string(doc), "enables these APIs")
	if !ok {
		t.Fatal(`docs/quickstart.md no longer says "enables these APIs"`)
	}
	var listed []string
	inTable := false
	for _, line := range strings.Split(after, "\n") {
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		first, _, _ := strings.Cut(strings.TrimPrefix(line, "|"), "|")
		for _, s := range regexp.MustCompile("`([a-z]+\\.googleapis\\.com)`").FindAllStringSubmatch(first, -1) {
			listed = append(listed, s[1])
		}
	}
	slices.Sort(listed)
	if diff := cmp.Diff(planned, listed); diff != "" {
		t.Errorf("APIs the quickstart lists differ from the plan's (-plan +doc):\n%s", diff)
	}
}

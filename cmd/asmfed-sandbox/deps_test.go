package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The sandbox is a command, not a test: it must not link the testing package, though it runs
// the local clusters and istiods that tests run (internal/testenv, internal/istiodtest) and the
// simulator tests start (internal/gcpfake).
func TestDoesNotLinkTesting(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, want := range []string{"github.com/asmfed/kubectl-asmfed/internal/testenv", "github.com/asmfed/kubectl-asmfed/internal/istiodtest"} {
		if !slices.Contains(deps, want) {
			t.Errorf("asmfed-sandbox does not depend on %s any more; this test means little then", want)
		}
	}
	if slices.Contains(deps, "testing") {
		out, _ := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}: {{join .Imports " "}}`, ".").Output()
		var importers []string
		for _, line := range strings.Split(string(out), "\n") {
			if pkg, imports, ok := strings.Cut(line, ": "); ok && slices.Contains(strings.Fields(imports), "testing") {
				importers = append(importers, pkg)
			}
		}
		t.Errorf("asmfed-sandbox links the testing package, imported by %v", importers)
	}
}

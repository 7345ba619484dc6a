// Package verify is the check framework of `kubectl asmfed verify`: each check is a value with
// an ID, requirements, a section of docs/verify.md and a Run that returns findings with hints;
// Run runs them in parallel with a bound, and the renderers (text, JSON, JUnit XML) print the
// report. Checks never print. The checks of a group live in one file (prereq.go, access.go,
// network.go, gke.go; the trust and managed control plane checks are in verify.go).
package verify

// Package plan owns resource addresses, changes (Action, Before, After, Reason, DependsOn), the
// diff of desired against live state, the renderers (text and JSON), saved plans fingerprinted
// against live state, and the executor that walks the dependency graph. The diff never formats
// text and renderers never decide.
package plan

package clusterlayer

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The managed control plane's mesh ConfigMap holds settings others wrote: the tool sets its keys
// and keeps the rest, comments included, and what it wrote reads back as what it wants.
func TestMergeMeshConfig(t *testing.T) {
	want := map[string]any{
		"outboundTrafficPolicy": map[string]any{"mode": "REGISTRY_ONLY"},
		"accessLogFile":         "/dev/stdout",
		"trustDomainAliases":    []any{},
	}
	tests := []struct {
		name, live, merged string
		err                string
	}{
		{name: "empty", live: "", merged: "accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\ntrustDomainAliases: []\n"},
		{name: "as Cloud Service Mesh creates it: comments only",
			live:   "\n# This section can be updated with user configuration settings from https://istio.io/latest/docs/reference/config/istio.mesh.v1alpha1/\n# Some options required for ASM to not be modified will be ignored\n",
			merged: "# This section can be updated with user configuration settings from https://istio.io/latest/docs/reference/config/istio.mesh.v1alpha1/\n# Some options required for ASM to not be modified will be ignored\naccessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\ntrustDomainAliases: []\n"},
		{name: "others' settings and comments stay, the tool's keys change in place",
			live:   "# tracing for the whole mesh\ndefaultConfig:\n  tracing:\n    stackdriver: {}\naccessLogFile: \"\"\noutboundTrafficPolicy:\n  mode: ALLOW_ANY\n  egressProxy:\n    host: proxy.example.com\n",
			merged: "# tracing for the whole mesh\ndefaultConfig:\n  tracing:\n    stackdriver: {}\naccessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n  egressProxy:\n    host: proxy.example.com\ntrustDomainAliases: []\n"},
		{name: "flow style becomes block style", live: "{}", merged: "accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\ntrustDomainAliases: []\n"},
		{name: "null", live: "null\n", merged: "accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\ntrustDomainAliases: []\n"},
		{name: "not a mapping", live: "- a\n- b\n", err: "the mesh config is a !!seq, not a mapping"},
		{name: "not YAML", live: "a: [b\n", err: "the mesh config is not YAML: yaml: line 1: did not find expected ',' or ']'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mergeMeshConfig(tt.live, want)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.merged, got); diff != "" {
				t.Errorf("merged (-want +got):\n%s", diff)
			}
			back, err := parseMeshConfig(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(any(want), prune(back, want)); diff != "" {
				t.Errorf("the merged config does not read back as wanted (-want +got):\n%s", diff)
			}
		})
	}
}

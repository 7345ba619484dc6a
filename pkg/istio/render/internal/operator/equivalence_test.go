package operator_test

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"istio.io/istio/operator/pkg/apis/validation"
	"istio.io/istio/operator/pkg/manifest"
	istiorender "istio.io/istio/operator/pkg/render"
	"istio.io/istio/operator/pkg/util"

	"github.com/asmfed/kubectl-asmfed/pkg/istio/render/internal/operator"
)

// inputs are IstioOperators as the plugin builds them (the render package's golden overlays, one
// per cluster), and hand-written ones that reach the parts of the pipeline those do not:
// Kubernetes settings applied as patches after Helm, overlays, unvalidated values, profiles, and
// configurations Istio's validation refuses.
func inputs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	goldens, err := filepath.Glob("../../testdata/*/overlays.golden")
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no golden overlays: %v", err)
	}
	for _, g := range goldens {
		data, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(data), "\n---\n") {
			if doc = strings.TrimPrefix(doc, "---\n"); strings.TrimSpace(doc) != "" {
				out[filepath.Base(filepath.Dir(g))+"/"+string(rune('0'+i))] = doc
			}
		}
	}
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no hand-written IstioOperators: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(data)
	}
	return out
}

// TestSameAsIstio holds this package to Istio's own pipeline (istio.io/istio/operator/pkg/render
// and its validation, which the plugin no longer links): the same merged IstioOperator, the same
// objects with the same content, the same warnings and errors, for every input.
func TestSameAsIstio(t *testing.T) {
	for name, iop := range inputs(t) {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "iop.yaml")
			if err := os.WriteFile(file, []byte(iop), 0o644); err != nil {
				t.Fatal(err)
			}

			wantMerged, wantErr := istiorender.MergeInputs([]string{file}, nil, nil)
			gotMerged, gotErr := operator.MergeInputs([]string{file})
			if diff := gocmp.Diff(errString(wantErr), errString(gotErr)); diff != "" {
				t.Fatalf("MergeInputs error (-istio +ours):\n%s", diff)
			}
			if diff := gocmp.Diff(wantMerged, gotMerged); diff != "" {
				t.Fatalf("MergeInputs (-istio +ours):\n%s", diff)
			}
			if wantErr != nil {
				return
			}

			wantWarn, wantErrs := validation.ParseAndValidateIstioOperator(wantMerged, nil)
			gotWarn, gotErrs := operator.ParseAndValidateIstioOperator(gotMerged)
			if diff := gocmp.Diff(errStrings(wantWarn), errStrings(gotWarn)); diff != "" {
				t.Errorf("validation warnings (-istio +ours):\n%s", diff)
			}
			if diff := gocmp.Diff(errStrings(wantErrs), errStrings(gotErrs)); diff != "" {
				t.Errorf("validation errors (-istio +ours):\n%s", diff)
			}

			wantSets, wantValues, wantErr := istiorender.GenerateManifest([]string{file}, nil, false, nil, nil)
			gotSets, gotValues, _, gotErr := operator.GenerateManifest([]string{file})
			if diff := gocmp.Diff(errString(wantErr), errString(gotErr)); diff != "" {
				t.Fatalf("GenerateManifest error (-istio +ours):\n%s", diff)
			}
			if diff := gocmp.Diff(wantValues, gotValues); diff != "" {
				t.Errorf("GenerateManifest values (-istio +ours):\n%s", diff)
			}
			if diff := gocmp.Diff(flatten(wantSets), flatten(gotSets)); diff != "" {
				t.Errorf("GenerateManifest objects (-istio +ours):\n%s", diff)
			}
			if wantErr == nil && len(flatten(gotSets)) == 0 {
				t.Error("rendered nothing")
			}
			// The hand-written inputs reach what they were written for.
			failure := errString(gotErr) + strings.Join(errStrings(gotErrs), "\n")
			if want, ok := refused[name]; ok != (failure != "") || !strings.Contains(failure, want) {
				t.Errorf("failure %q, want one with %q", failure, want)
			}
			if name == "k8s-settings.yaml" {
				for _, o := range flatten(gotSets) {
					if o.Object["kind"] == "Deployment" && strings.Contains(o.Content, "name: istiod-1-31-0") {
						if !strings.Contains(o.Content, "terminationGracePeriodSeconds: 45") || !strings.Contains(o.Content, "PILOT_TRACE_SAMPLING") {
							t.Errorf("istiod's Deployment lacks the overlay or the env patch:\n%s", o.Content)
						}
						return
					}
				}
				t.Error("no istiod-1-31-0 Deployment")
			}
		})
	}
}

// refused are the inputs Istio refuses, with a part of its message.
var refused = map[string]string{
	"invalid.yaml":       "invalid revision specified: Not_A_Revision",
	"two-documents.yaml": "contains multiple IstioOperator CRs",
	"unknown-field.yaml": "unknown field",
}

type object struct {
	Component string
	Object    map[string]any
	Content   string
}

// flatten lists every object of the sets in a stable order: Istio returns the sets in map order.
func flatten(sets []manifest.ManifestSet) []object {
	var out []object
	for _, s := range sets {
		for _, m := range s.Manifests {
			out = append(out, object{string(s.Component), m.Object, normalize(m.Content)})
		}
	}
	slices.SortStableFunc(out, func(a, b object) int { return cmp.Compare(a.Component, b.Component) })
	return out
}

// normalize drops whole-line comments and the blank lines around a manifest's content: the
// base chart's CRD template prints its own comments before each CRD, which this package, taking
// the CRDs from the chart's files, does not.
func normalize(content string) string {
	var lines []string
	for _, l := range strings.Split(content, "\n") {
		if !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func errStrings(errs util.Errors) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

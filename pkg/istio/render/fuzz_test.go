package render

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzOverlay feeds arbitrary bytes through overlay parsing and the strict check against Istio's
// types: nothing may panic, and every problem must carry a position and a message.
func FuzzOverlay(f *testing.F) {
	for _, pattern := range []string{"testdata/*/*.yaml", "../../api/v1alpha1/testdata/files/overlay-*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  a: &a [x, x]\n  b: [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, sm, errs := parseOverlay("overlay.yaml", data)
		for _, e := range errs {
			if e.File == "" || e.Pos.Line < 1 || e.Pos.Column < 1 || e.Message == "" {
				t.Fatalf("problem without a position or message: %#v", e)
			}
		}
		if errs != nil {
			return
		}
		u := UserOverlay{Name: "overlay.yaml", Value: m, file: "overlay.yaml", sm: sm}
		for _, fe := range checkStrict(m) {
			if e := u.errorAt(fe); e.Message == "" {
				t.Fatalf("strict check problem without a message: %#v", fe)
			}
		}
	})
}

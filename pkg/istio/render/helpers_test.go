package render_test

import (
	"path/filepath"
	"testing"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio/render"
)

// load checks and compiles a federation file the way the commands do.
func load(tb testing.TB, path string) render.Input {
	tb.Helper()
	// Validated as after `kubectl asmfed ca init` beside it: the plug-in root is read from a copy.
	checked, err := v1alpha1.CheckFile(path, v1alpha1.ValidateOptions{BaseDir: filepath.Dir(fedtest.WithRoot(tb, path))})
	if err != nil {
		tb.Fatal(err)
	}
	if err := checked.Err(); err != nil {
		tb.Fatalf("%s is not valid:\n%v", path, err)
	}
	d, err := federation.Compile(checked.Federation, federation.Facts{})
	if err != nil {
		tb.Fatal(err)
	}
	return render.Input{Federation: checked.Federation, Desired: d, Source: checked.Source, BaseDir: filepath.Dir(path)}
}

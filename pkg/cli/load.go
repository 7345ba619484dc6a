package cli

import (
	"errors"

	"github.com/asmfed/kubectl-asmfed/internal/yamlutil"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
)

// loadFederation parses, defaults and validates a file. Problems are returned as the Checked's
// Errors; err is for a file that cannot be read at all.
func loadFederation(path string) (*v1alpha1.Checked, error) {
	if path == "" {
		return nil, errors.New("no federation file: pass -f FILE")
	}
	return v1alpha1.CheckFile(path, v1alpha1.ValidateOptions{})
}

func marshalYAML(v any) ([]byte, error) { return yamlutil.Marshal(v) }

package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/asmfed/kubectl-asmfed/internal/yamlutil"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
)

// fileSource is a federation file named with -f: a path, or "-" for standard input.
type fileSource struct {
	name string
	data []byte
}

// completeFile reads the file named with -f. Reading happens in Complete so that Run works on
// bytes and "-" (standard input) behaves like any path.
func completeFile(name string, stdin io.Reader) (*fileSource, error) {
	if name == "" {
		return nil, errors.New("no federation file: pass -f FILE")
	}
	if name == "-" {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read federation file from standard input: %w", err)
		}
		return &fileSource{name: "<stdin>", data: data}, nil
	}
	data, err := readFile(name)
	if err != nil {
		return nil, fmt.Errorf("read federation file: %w", err)
	}
	return &fileSource{name: name, data: data}, nil
}

// check parses, defaults and validates the file. Relative references in a file read from
// standard input resolve against the working directory.
func (s *fileSource) check() *v1alpha1.Checked {
	opts := v1alpha1.ValidateOptions{}
	if s.name == "<stdin>" {
		opts.BaseDir = "."
	}
	return v1alpha1.Check(s.name, s.data, opts)
}

func marshalYAML(v any) ([]byte, error) { return yamlutil.Marshal(v) }

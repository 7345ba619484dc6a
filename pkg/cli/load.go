package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/asmfed/kubectl-asmfed/internal/yamlutil"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
)

// stdinName names a federation file read from standard input in messages.
const stdinName = "<stdin>"

// fileSource is a federation file named with -f, read: a path, or "-" for standard input.
type fileSource struct {
	// name is the path as given, or stdinName.
	name string
	data []byte
}

// completeFile reads the file named with -f (a path, or "-" for standard input). Reading happens in
// Complete so that Run works on bytes and "-" behaves like any path.
func completeFile(name string, stdin io.Reader) (*fileSource, error) {
	if name == "-" {
		data, err := v1alpha1.ReadLimited(stdinName, stdin)
		if err != nil {
			return nil, fmt.Errorf("read federation file from standard input: %w", err)
		}
		return &fileSource{name: stdinName, data: data}, nil
	}
	data, err := v1alpha1.ReadFile(name)
	switch {
	case errors.Is(err, v1alpha1.ErrNotRegular):
		return nil, fmt.Errorf("read federation file: %w (hint: -f names a federation YAML file, or - for standard input)", err)
	case err != nil:
		return nil, fmt.Errorf("read federation file: %w", err)
	}
	return &fileSource{name: name, data: data}, nil
}

// completeValid reads the file named with -f and checks it, for the commands that need a valid
// federation.
func completeValid(name string, stdin io.Reader) (*fileSource, *v1alpha1.Federation, error) {
	src, err := completeFile(name, stdin)
	if err != nil {
		return nil, nil, err
	}
	checked, err := valid(src, name)
	if err != nil {
		return nil, nil, err
	}
	return src, checked.Federation, nil
}

// baseDir is the directory the file's relative references (certificates, keys, overlays) resolve
// against: the file's own directory, or the working directory for standard input.
func (s *fileSource) baseDir() string {
	if s.name == stdinName {
		return "."
	}
	return filepath.Dir(s.name)
}

// check parses, defaults and validates the file.
func (s *fileSource) check() *v1alpha1.Checked {
	return v1alpha1.Check(s.name, s.data, v1alpha1.ValidateOptions{BaseDir: s.baseDir()})
}

func marshalYAML(v any) ([]byte, error) { return yamlutil.Marshal(v) }

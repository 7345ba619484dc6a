package v1alpha1

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzCheck feeds arbitrary bytes through parsing (without the guard that turns a panic into an
// error), defaulting and validation: nothing may panic,
// and every problem must carry a file and a position.
func FuzzCheck(f *testing.F) {
	for _, pattern := range []string{"testdata/invalid/*.yaml", "testdata/valid/*.yaml", "../../../samples/*/federation.yaml"} {
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
	f.Fuzz(func(t *testing.T, data []byte) {
		// parse, not Parse: Parse turns a panic into an error, which would hide it from the fuzzer.
		c := check("fuzz.yaml", data, ValidateOptions{SkipFiles: true}, parse)
		for _, list := range []ErrorList{c.Errors, c.Warnings} {
			for _, e := range list {
				if e.File == "" || e.Pos.Line < 1 || e.Pos.Column < 1 {
					t.Fatalf("problem without a position: %#v", e)
				}
				if e.Message == "" {
					t.Fatalf("problem without a message: %#v", e)
				}
			}
		}
	})
}

package v1alpha1

import (
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// MaxFileBytes caps every file the tool reads because a federation names it: the federation file
// itself, overlays, certificates, keys and token files. The largest real one, an overlay, is a few
// kilobytes; a cap keeps a mistyped path (a device, a log) from hanging or exhausting the tool.
const MaxFileBytes = 1 << 20

// ErrNotRegular is returned by ReadFile for a path that names a device, pipe, socket or directory.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned by ReadFile for a file over MaxFileBytes.
var ErrTooLarge = fmt.Errorf("larger than %d KiB", MaxFileBytes>>10)

// ReadFile reads a file a federation refers to. Only regular files (or symbolic links to them)
// are read, and at most MaxFileBytes of them: /dev/zero, a FIFO or a directory is refused before
// any read, and a file that grows past the cap while read is refused too.
func ReadFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		// Say "open", as os.ReadFile would: stat is how, not what.
		if pe := (*os.PathError)(nil); errors.As(err, &pe) {
			pe.Op = "open"
		}
		return nil, err
	}
	if err := checkRegular(path, fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The path may have been swapped between Stat and Open; check what was opened.
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkRegular(path, fi); err != nil {
		return nil, err
	}
	return ReadLimited(path, f)
}

// ReadLimited reads r (a stream such as standard input) up to MaxFileBytes; name is for errors.
func ReadLimited(name string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: name, Err: err}
	}
	if len(data) > MaxFileBytes {
		return nil, &os.PathError{Op: "read", Path: name, Err: ErrTooLarge}
	}
	return data, nil
}

func checkRegular(path string, fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return &os.PathError{Op: "read", Path: path, Err: ErrNotRegular}
	}
	if fi.Size() > MaxFileBytes {
		return &os.PathError{Op: "read", Path: path, Err: ErrTooLarge}
	}
	return nil
}

// Excerpt quotes a value read from a file for an error message without echoing it: a value that
// may be a secret (a token file named where YAML was expected) shows at most its first few
// characters, then how long it is. Short values, the usual typo, are quoted whole.
func Excerpt(s string) string {
	const whole, prefix = 12, 4
	if utf8.RuneCountInString(s) <= whole && utf8.ValidString(s) {
		return fmt.Sprintf("%q", s)
	}
	n := 0
	for i := range s {
		if n == prefix {
			return fmt.Sprintf("%q… (%d bytes)", s[:i], len(s))
		}
		n++
	}
	return fmt.Sprintf("a value of %d bytes", len(s))
}

package v1alpha1

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ReadFile refuses what is not a regular file before reading it, and stops at the cap: each case
// runs under a deadline, as reading /dev/zero or a FIFO used to hang.
func TestReadFileRefusesDevicesAndLargeFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, MaxFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := filepath.Join(dir, "ok")
	if err := os.WriteFile(ok, []byte("fine"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       error
	}{
		{"device", "/dev/zero", ErrNotRegular},
		{"fifo", fifo, ErrNotRegular},
		{"directory", dir, ErrNotRegular},
		{"over the cap", big, ErrTooLarge},
		{"regular", ok, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { _, err := ReadFile(tt.path); done <- err }()
			select {
			case err := <-done:
				if !errors.Is(err, tt.want) {
					t.Fatalf("ReadFile(%s) = %v, want %v", tt.path, err, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("ReadFile(%s) still reading after 5s", tt.path)
			}
		})
	}
}

func TestExcerptNeverQuotesAWholeSecret(t *testing.T) {
	const canary = "CANARY-f00dfeedcafe0123456789"
	for _, s := range []string{canary, "xy" + canary, "\xff\xfe" + canary} {
		if got := Excerpt(s); strings.Contains(got, canary) || len(got) > 40 {
			t.Errorf("Excerpt(%q) = %s", s, got)
		}
	}
	if got := Excerpt("15017"); got != `"15017"` {
		t.Errorf("a short value is quoted whole: got %s", got)
	}
}

// A file reference that names a token file, a device or a large file: every message is
// positioned and none quotes the token.
func TestFileReferencesNeverEchoContents(t *testing.T) {
	const canary = "CANARY-overlay-token-0123456789abcdef"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(canary+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"token", "/dev/zero", dir} {
		fed := strings.Replace(minimalFederation(t), "  mesh:\n", "  mesh:\n    overlays:\n    - file: "+ref+"\n", 1)
		c := Check(filepath.Join(dir, "federation.yaml"), []byte(fed), ValidateOptions{BaseDir: dir})
		if len(c.Errors) == 0 {
			t.Fatalf("overlay %s: no error", ref)
		}
		if strings.Contains(c.Errors.Error(), canary) {
			t.Fatalf("overlay %s: the error quotes the token:\n%s", ref, c.Errors.Error())
		}
	}
	// The token file given as the federation file itself.
	c := Check("token", []byte(canary), ValidateOptions{SkipFiles: true})
	if len(c.Errors) == 0 || strings.Contains(c.Errors.Error(), canary) {
		t.Fatalf("token file as the federation: %v", c.Errors)
	}
}

func minimalFederation(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("testdata/valid/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "  mesh:\n") {
		t.Fatal("testdata/valid/base.yaml has no mesh section")
	}
	return string(data)
}

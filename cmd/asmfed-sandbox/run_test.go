package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asmfed/kubectl-asmfed/internal/testutil"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		o    serveOptions
		want string
	}{
		{"loopback ok", serveOptions{listen: "127.0.0.1:0", latency: "none", scale: 1}, ""},
		{"public address refused", serveOptions{listen: "0.0.0.0:80", latency: "none", scale: 1}, "only listens on loopback"},
		{"bad latency", serveOptions{listen: "127.0.0.1:0", latency: "slow", scale: 1}, "must be none or realistic"},
		{"bad scale", serveOptions{listen: "127.0.0.1:0", latency: "none", scale: 0}, "must be greater than 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.validate()
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestServeWritesPidFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "sandbox.pid")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--latency", "none", "--state", dir, "--pid-file", pidFile}, &stdout, &stderr)
	}()
	t.Cleanup(cancel)
	var line string
	testutil.Eventually(t, 5*time.Second, "sandbox writes "+pidFile, func() error {
		b, err := os.ReadFile(pidFile)
		line = strings.TrimSpace(string(b))
		return err
	})
	fields := strings.Fields(line)
	if len(fields) != 2 || !strings.HasPrefix(fields[1], "http://127.0.0.1:") {
		cancel()
		t.Fatalf("pid file = %q", line)
	}
	resp, err := http.Get(fields[1] + "/_fake/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("healthz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "export ASMFED_GCP_ENDPOINT="+fields[1]) ||
		!strings.Contains(stdout.String(), "export CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE="+fields[1]+"/compute/v1/") ||
		!strings.Contains(stdout.String(), "export CLOUDSDK_API_ENDPOINT_OVERRIDES_CONNECTGATEWAY="+fields[1]+"/connectgateway/") {
		t.Errorf("env output:\n%s", stdout.String())
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.json")); err != nil {
		t.Errorf("state not saved: %v", err)
	}
}

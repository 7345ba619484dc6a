package gcpfake_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

// A page in the operator's browser that rebinds its own name to 127.0.0.1 sends its own name as
// Host: the simulator's API and admin endpoints answer only loopback names.
func TestHostMustBeLoopback(t *testing.T) {
	srv := gcpfake.Start(t)
	port := srv.Addr()[strings.LastIndex(srv.Addr(), ":"):]
	paths := []string{"/_fake/requests", "/compute/v1/projects/p/global/networks"}
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1" + port, true},
		{"localhost" + port, true},
		{"LOCALHOST" + port, true},
		{"[::1]" + port, true},
		{"127.0.0.1", true},
		{"attacker.example" + port, false},
		{"localhost.attacker.example" + port, false},
		{"127.0.0.1.nip.io" + port, false},
		{"10.0.0.1" + port, false},
	} {
		for _, path := range paths {
			req, err := http.NewRequest(http.MethodGet, srv.URL()+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tc.host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			refused := resp.StatusCode == http.StatusMisdirectedRequest
			if refused == tc.ok {
				t.Errorf("GET %s with Host %s: %d %s", path, tc.host, resp.StatusCode, body)
			}
		}
	}
}

package gcpfake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
)

// tape records full HTTP exchanges per test step, normalised so that the
// golden files do not change from run to run: ids, timestamps, operation
// names, ports, fingerprints and etags become placeholders, query
// parameters are sorted and JSON bodies printed with sorted keys.
type tape struct {
	mu    sync.Mutex
	steps map[string][]string // test name → recorded blocks, in order
}

func newTape() *tape { return &tape{steps: map[string][]string{}} }

// proxy starts a recording reverse proxy in front of srv for one command;
// done stops it and files what it recorded under the test's name.
func (tp *tape) proxy(t *testing.T, srv *gcpfake.Server, title string) (ps *httptest.Server, done func()) {
	rec := tp.recorder(t, srv)
	rec.begin(title)
	return rec.ps, func() {
		rec.ps.Close()
		rec.end()
	}
}

// recorder is a recording reverse proxy that several commands of one test
// step can share; each command's exchanges are filed as a block of their
// own between begin and end.
type recorder struct {
	tp *tape
	t  *testing.T
	ps *httptest.Server
	mu sync.Mutex
	b  strings.Builder
}

func (tp *tape) recorder(t *testing.T, srv *gcpfake.Server) *recorder {
	rec := &recorder{tp: tp, t: t}
	target := srv.URL()
	rec.ps = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		rec.mu.Lock()
		fmt.Fprintf(&rec.b, "> %s %s\n%s< %d\n%s", r.Method, normPathQuery(r.URL), normBody(body), resp.StatusCode, normBody(rb))
		rec.mu.Unlock()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		w.Write(rb)
	}))
	return rec
}

// begin opens the block of one command.
func (rec *recorder) begin(title string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.b.Reset()
	fmt.Fprintf(&rec.b, "$ %s\n", normString(title))
}

// end files the block under the test's name.
func (rec *recorder) end() {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.tp.mu.Lock()
	rec.tp.steps[rec.t.Name()] = append(rec.tp.steps[rec.t.Name()], rec.b.String())
	rec.tp.mu.Unlock()
}

// checkGoldens writes or compares one golden file per phase; within a
// phase, steps are sorted by name, so parallel scheduling never shows.
func (tp *tape) checkGoldens(t *testing.T, dir string) {
	t.Helper()
	tp.mu.Lock()
	phases := map[string][]string{}
	for name := range tp.steps {
		parts := strings.Split(name, "/")
		if len(parts) < 3 {
			continue
		}
		phases[parts[1]] = append(phases[parts[1]], name)
	}
	tp.mu.Unlock()
	if testutil.Updating() {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for phase, names := range phases {
		sort.Strings(names)
		var b strings.Builder
		for _, n := range names {
			fmt.Fprintf(&b, "### %s\n", strings.ReplaceAll(n[strings.LastIndex(n, "/")+1:], "_", " "))
			for _, blk := range tp.steps[n] {
				b.WriteString(blk)
			}
			b.WriteString("\n")
		}
		num := "00"
		if _, n, ok := strings.Cut(phase, "#"); ok {
			num = n
		}
		testutil.Golden(t, filepath.Join(dir, "phase-"+num+".golden"), b.String())
	}
}

var normalizers = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`operation-[0-9]+-[0-9a-f]+`), "OPERATION"},
	{regexp.MustCompile(`acf\.p2-[0-9]+-[0-9]+-[0-9a-f]+`), "OPERATION"},
	{regexp.MustCompile(`127\.0\.0\.1:[0-9]+`), "HOST"},
	{regexp.MustCompile(`[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})`), "TIMESTAMP"},
	{regexp.MustCompile(`gke-[0-9a-f]{12}-`), "gke-ID-"},
	{regexp.MustCompile(`\b[0-9]{15,}\b`), "ID"},
	{regexp.MustCompile(`invocation-id/[0-9a-f]+`), "invocation-id/ID"},
}

// volatileKeys hold values that differ on every run whatever they contain.
var volatileKeys = map[string]bool{
	"id": true, "targetId": true, "uniqueId": true, "oauth2ClientId": true,
	"fingerprint": true, "labelFingerprint": true, "etag": true,
	"clusterCaCertificate": true, "creationTimestamp": true, "insertTime": true,
	"startTime": true, "endTime": true, "createTime": true, "updateTime": true,
	// A quota's usage counts what the project holds when it is read, and the steps of a phase run
	// at once: a read in one step sees whatever the others have created by then.
	// TestGcloudPreflightFidelity checks usage as gcloud reports it.
	"usage": true,
}

// numeric tells generated ids (decimal, or GKE's long hex) from names
// that happen to sit in an "id" field (a Shared VPC service project's id
// is its project id).
func numeric(v any) bool {
	switch x := v.(type) {
	case float64:
		return true
	case string:
		return x != "" && (strings.Trim(x, "0123456789") == "" || (len(x) >= 16 && strings.Trim(x, "0123456789abcdef") == ""))
	}
	return false
}

func normString(s string) string {
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.repl)
	}
	return s
}

func normPathQuery(u *url.URL) string {
	q := u.Query()
	q.Del("alt")
	out := normString(u.EscapedPath())
	if len(q) > 0 {
		out += "?" + normString(q.Encode()) // Encode sorts by key
	}
	return out
}

func normJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if volatileKeys[k] && !(k == "id" && !numeric(e)) {
				x[k] = strings.ToUpper(k)
				continue
			}
			x[k] = normJSON(e)
		}
	case []any:
		for i := range x {
			x[i] = normJSON(x[i])
		}
	case string:
		return normString(x)
	}
	return v
}

func normBody(b []byte) string {
	if len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return normString(string(b)) + "\n"
	}
	out, _ := json.MarshalIndent(normJSON(v), "", "  ")
	return string(out) + "\n"
}

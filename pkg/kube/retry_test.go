package kube_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/option"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/pkg/kube"
	"github.com/asmfed/kubectl-asmfed/pkg/retry"
)

// apiServer answers with the statuses given, one a request, then 201 with the request's body.
type apiServer struct {
	mu       sync.Mutex
	statuses []int
	bodies   []string
}

func (a *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.bodies = append(a.bodies, string(b))
	status := http.StatusCreated
	if len(a.statuses) > 0 {
		status, a.statuses = a.statuses[0], a.statuses[1:]
	}
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if status != http.StatusCreated {
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "2")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"busy","code":`+strconv.Itoa(status)+`}`)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// The clusters' API calls retry 429 and 503 by the budget the Google Cloud calls use, with the
// request's body sent again; other errors are final.
func TestKubernetesRetries(t *testing.T) {
	cases := []struct {
		name     string
		statuses []int
		wantErr  func(error) bool
		calls    int
		slept    []time.Duration
	}{
		{name: "429 twice, Retry-After honoured", statuses: []int{429, 429}, calls: 3, slept: []time.Duration{2 * time.Second, 2 * time.Second}},
		{name: "503 once", statuses: []int{503}, calls: 2, slept: []time.Duration{time.Second}},
		{name: "503 beyond the budget", statuses: []int{503, 503, 503, 503, 503, 503, 503}, calls: 4,
			// 1 + 2 = 3 s; the third wait is cut to the 5 s budget's end, and the fourth attempt is the last.
			wantErr: apierrors.IsServiceUnavailable, slept: []time.Duration{time.Second, 2 * time.Second, 2 * time.Second}},
		{name: "500 is final", statuses: []int{500}, calls: 1, wantErr: apierrors.IsInternalError},
		{name: "403 is final", statuses: []int{403}, calls: 1, wantErr: apierrors.IsForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := &apiServer{statuses: tc.statuses}
			srv := httptest.NewServer(api)
			defer srv.Close()
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var slept []time.Duration
			p := retry.Policy{Budget: 5 * time.Second, Initial: time.Second, Max: 10 * time.Second,
				Now:    func() time.Time { return now },
				Sleep:  func(_ context.Context, d time.Duration) error { slept = append(slept, d); now = now.Add(d); return nil },
				Jitter: func(d time.Duration) time.Duration { return d }}
			cs, err := kubernetes.NewForConfig(kube.WithRetries(kube.WithRetries(&rest.Config{Host: srv.URL, ContentConfig: rest.ContentConfig{ContentType: "application/json"}}, p), p))
			if err != nil {
				t.Fatal(err)
			}
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "inventory", Namespace: "istio-system"}, Data: map[string]string{"k": "v"}}
			_, err = cs.CoreV1().ConfigMaps("istio-system").Create(context.Background(), cm, metav1.CreateOptions{})
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("create: %v", err)
			case tc.wantErr != nil && !tc.wantErr(err):
				t.Fatalf("create: %v, want a final error", err)
			}
			if len(api.bodies) != tc.calls {
				t.Errorf("%d requests, want %d (a transport wrapped twice retries twice over)", len(api.bodies), tc.calls)
			}
			for i, b := range api.bodies {
				if !strings.Contains(b, `"inventory"`) {
					t.Errorf("request %d sent without its body: %q", i, b)
				}
			}
			if len(slept) != len(tc.slept) {
				t.Fatalf("slept %v, want %v", slept, tc.slept)
			}
			for i := range tc.slept {
				if slept[i] != tc.slept[i] {
					t.Errorf("slept %v, want %v", slept, tc.slept)
				}
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The clusters' token under --impersonate-service-account is the service account's, minted by
// the IAM Credentials API.
func TestImpersonatedTokenSource(t *testing.T) {
	var asked string
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		asked = r.URL.String()
		body := `{"accessToken":"sa-token","expireTime":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": []string{"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	})}
	ts, err := kube.ImpersonatedTokenSource(context.Background(), "deployer@p.iam.gserviceaccount.com", option.WithHTTPClient(client))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "sa-token" || !strings.Contains(asked, "serviceAccounts/deployer@p.iam.gserviceaccount.com:generateAccessToken") {
		t.Errorf("token %q from %s", tok.AccessToken, asked)
	}
}

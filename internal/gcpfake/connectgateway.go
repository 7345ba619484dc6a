package gcpfake

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"regexp"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"sigs.k8s.io/yaml"
)

// The Connect Gateway (connectgateway.googleapis.com) as the simulator serves it, under
// GatewayPrefix: GenerateCredentials, which writes the kubeconfig gcloud's
// `container fleet memberships get-credentials` saves, and the gateway itself, which passes
// Kubernetes API calls under .../gkeMemberships/MEMBERSHIP/ to the API server of the
// membership's cluster. Like the real gateway it authenticates the caller's OAuth token, checks
// the caller's gkehub.gateway.* permission on the fleet project, and answers 401, 403 and 404 in
// Google's JSON error format; the cluster sees the caller's own token, as GKE sees the caller's
// identity behind the real gateway.
//
// Callers are known by their tokens: those of a ClusterBackend that implements Authenticator
// (the sandbox's) and those added with AddCaller. Every caller holds every permission unless a
// Denial takes one away (DenyPermission, or POST /_fake/iam/denials), which testIamPermissions
// reports too.

// GatewayPrefix is the path the simulator serves the Connect Gateway under: point gcloud's
// api_endpoint_overrides/connectgateway at BASE+GatewayPrefix+"/".
const GatewayPrefix = "/connectgateway"

// Authenticator is implemented by a ClusterBackend whose clusters accept OAuth access tokens:
// the simulator knows those tokens' callers.
type Authenticator interface {
	// Authenticate returns the principal a token belongs to, e.g. user:admin@example.com.
	Authenticate(token string) (principal string, ok bool)
}

// Denial takes a permission away from a caller.
type Denial struct {
	// Member is the principal, e.g. user:admin@example.com; empty means every caller.
	Member string `json:"member,omitempty"`
	// Permission is the IAM permission, e.g. gkehub.gateway.get.
	Permission string `json:"permission"`
}

// iamState holds the callers and the denials.
type iamState struct {
	mu      sync.Mutex
	callers map[string]string // token → principal
	denials []Denial
}

// gatewayListener is the TLS listener gatewayTLS starts once.
type gatewayListener struct {
	tlsOnce sync.Once
	tlsURL  string
	tlsCA   []byte
	tlsErr  error
}

// AddCaller makes token authenticate as principal.
func (s *Server) AddCaller(token, principal string) {
	s.iam.mu.Lock()
	defer s.iam.mu.Unlock()
	if s.iam.callers == nil {
		s.iam.callers = map[string]string{}
	}
	s.iam.callers[token] = principal
}

// DenyPermission takes a permission away, from one caller or from all.
func (s *Server) DenyPermission(d Denial) {
	s.iam.mu.Lock()
	defer s.iam.mu.Unlock()
	s.iam.denials = append(s.iam.denials, d)
}

// ClearDenials gives every permission back.
func (s *Server) ClearDenials() {
	s.iam.mu.Lock()
	defer s.iam.mu.Unlock()
	s.iam.denials = nil
}

// Denials lists the permissions taken away.
func (s *Server) Denials() []Denial {
	s.iam.mu.Lock()
	defer s.iam.mu.Unlock()
	return append([]Denial{}, s.iam.denials...)
}

// principal is the caller a token belongs to.
func (s *Server) principal(token string) (string, bool) {
	if token == "" {
		return "", false
	}
	s.iam.mu.Lock()
	p, ok := s.iam.callers[token]
	s.iam.mu.Unlock()
	if ok {
		return p, true
	}
	if a, ok := s.opts.backend.(Authenticator); ok {
		return a.Authenticate(token)
	}
	return "", false
}

// granted returns the permissions of perms that principal holds.
func (s *Server) granted(principal string, perms []string) []string {
	s.iam.mu.Lock()
	defer s.iam.mu.Unlock()
	var out []string
	for _, p := range perms {
		denied := false
		for _, d := range s.iam.denials {
			if d.Permission == p && (d.Member == "" || d.Member == principal) {
				denied = true
			}
		}
		if !denied {
			out = append(out, p)
		}
	}
	return out
}

// callerOf is the principal of a call's bearer token, over REST or gRPC; "" when it has none
// the simulator knows.
func (s *Server) callerOf(ctx context.Context) string {
	var auth string
	if r, ok := ctx.Value(ctxHTTP).(*http.Request); ok {
		auth = r.Header.Get("Authorization")
	} else if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get("authorization")) > 0 {
		auth = md.Get("authorization")[0]
	}
	p, _ := s.principal(bearer(auth))
	return p
}

func bearer(auth string) string {
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// gatewayRoute matches GenerateCredentials and the gateway's paths: version, project number,
// location, collection, membership, and the rest (":generateCredentials" or a Kubernetes path).
var gatewayRoute = regexp.MustCompile(`^` + GatewayPrefix + `/(v1|v1beta1|v1alpha1)/projects/([^/]+)/locations/([^/]+)/(gkeMemberships|memberships)/([^/:]+)(:generateCredentials|/.*)?$`)

// gatewayPermission is the permission a call through the gateway needs: its HTTP method, or
// stream for the upgraded connections of exec, attach and port-forward.
func gatewayPermission(r *http.Request) string {
	if r.Header.Get("Upgrade") != "" {
		return "gkehub.gateway.stream"
	}
	switch r.Method {
	case http.MethodPost:
		return "gkehub.gateway.post"
	case http.MethodPut:
		return "gkehub.gateway.put"
	case http.MethodPatch:
		return "gkehub.gateway.patch"
	case http.MethodDelete:
		return "gkehub.gateway.delete"
	}
	return "gkehub.gateway.get"
}

// connectGateway serves GatewayPrefix.
func (s *Server) connectGateway(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	m := gatewayRoute.FindStringSubmatch(r.URL.Path)
	method := "ConnectGateway/Proxy"
	if m != nil && m[6] == ":generateCredentials" {
		method = "GatewayControl/GenerateCredentials"
	}
	code := codes.OK
	fail := func(e *Error) {
		code = toError(e).Code
		if code == codes.Unauthenticated {
			w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
		}
		writeError(w, false, e)
	}
	defer func() { s.record(method, r, code, start) }()
	if f := s.ctl.takeFault(method, false); f != nil {
		fail(f.err())
		return
	}
	if m == nil || m[6] == "" || (m[6] == ":generateCredentials" && (r.Method != http.MethodGet || m[4] != "memberships")) {
		fail(gkeErr(codes.NotFound, "Requested entity was not found."))
		return
	}
	number, location, membership, rest := m[2], m[3], m[5], m[6]
	resource := fmt.Sprintf("projects/%s/locations/%s/memberships/%s", number, location, membership)

	token := bearer(r.Header.Get("Authorization"))
	if token == "" {
		fail(&Error{Code: codes.Unauthenticated, HTTP: 401, Message: "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
			Info: &ErrorInfo{Reason: "CREDENTIALS_MISSING", Domain: "googleapis.com", Metadata: map[string]string{"service": "connectgateway.googleapis.com", "method": method}}})
		return
	}
	principal, ok := s.principal(token)
	if !ok {
		fail(&Error{Code: codes.Unauthenticated, HTTP: 401, Message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."})
		return
	}
	perm := gatewayPermission(r)
	if rest == ":generateCredentials" {
		perm = "gkehub.gateway.generateCredentials"
	}
	if len(s.granted(principal, []string{perm})) == 0 {
		fail(&Error{Code: codes.PermissionDenied, HTTP: 403,
			Message: fmt.Sprintf("Permission '%s' denied on resource '//gkehub.googleapis.com/%s' (or it may not exist).", perm, resource),
			Info:    &ErrorInfo{Reason: "IAM_PERMISSION_DENIED", Domain: "connectgateway.googleapis.com", Metadata: map[string]string{"permission": perm, "resource": resource}}})
		return
	}

	unlock := s.lock("")
	project := s.projectID("projects/" + number)
	if err := s.requireService(project, "connectgateway.googleapis.com"); err != nil {
		unlock()
		fail(toError(err))
		return
	}
	mem, _ := s.st.get(fmt.Sprintf("hub/projects/%s/locations/%s/memberships/%s", project, location, membership)).(*gkehubpb.Membership)
	var cluster *containerpb.Cluster
	if link := mem.GetEndpoint().GetGkeCluster().GetResourceLink(); link != "" {
		if parts := strings.Split(canon(link), "/"); len(parts) == 6 {
			cluster, _ = s.st.get(clusterKey(parts[1], parts[3], parts[5])).(*containerpb.Cluster)
		}
	}
	var endpoint, ca string
	if cluster != nil {
		endpoint, ca = cluster.GetEndpoint(), cluster.GetMasterAuth().GetClusterCaCertificate()
	}
	unlock()
	if mem == nil {
		fail(gkeErr(codes.NotFound, "Resource '%s' was not found", resource))
		return
	}

	if rest == ":generateCredentials" {
		base, caPEM, err := s.gatewayTLS()
		if err != nil {
			fail(internalErr("serve the gateway over TLS: %v", err))
			return
		}
		s.generateCredentials(w, base+GatewayPrefix, caPEM, project, number, location, membership)
		return
	}
	if cluster == nil || s.opts.backend == nil || cluster.GetStatus() != containerpb.Cluster_RUNNING {
		fail(&Error{Code: codes.Unavailable, HTTP: 503, Message: fmt.Sprintf("The cluster of membership %s is not reachable: its control plane is not running.", resource)})
		return
	}
	proxy, err := clusterProxy(endpoint, ca, rest)
	if err != nil {
		fail(internalErr("%v", err))
		return
	}
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		fail(&Error{Code: codes.Unavailable, HTTP: 503, Message: fmt.Sprintf("The cluster of membership %s did not answer: %v", resource, err)})
	}
	proxy.ServeHTTP(w, r)
}

// clusterProxy passes a call to the API server at endpoint (host:port, https, with the
// base64-encoded CA GKE reports), at path, with the caller's headers.
func clusterProxy(endpoint, caB64, path string) (*httputil.ReverseProxy, error) {
	caPEM, err := base64.StdEncoding.DecodeString(caB64)
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	host := strings.TrimPrefix(endpoint, "https://")
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.URL.Path, pr.Out.URL.RawPath = "https", host, path, ""
			pr.Out.Host = host
		},
		Transport:     closingTransport{tr},
		FlushInterval: -1,
	}, nil
}

// closingTransport drops its connections after each call: a transport per call, none left idle.
type closingTransport struct{ *http.Transport }

func (t closingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.Transport.RoundTrip(r)
	if err != nil {
		t.CloseIdleConnections()
		return nil, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// The connection is the caller's now (exec, port-forward): ReverseProxy needs it as is.
		return resp, nil
	}
	resp.Body = &closeAfter{ReadCloser: resp.Body, done: t.CloseIdleConnections}
	return resp, nil
}

type closeAfter struct {
	io.ReadCloser
	done func()
}

func (c *closeAfter) Close() error {
	err := c.ReadCloser.Close()
	c.done()
	return err
}

// generateCredentials answers GatewayControl.GenerateCredentials: the membership's gateway URL
// and a kubeconfig that reaches it with gke-gcloud-auth-plugin, as the real one does. The real
// gateway's certificate chains to public roots; the simulator's does not, so its kubeconfig
// carries the CA.
func (s *Server) generateCredentials(w http.ResponseWriter, base string, caPEM []byte, project, number, location, membership string) {
	endpoint := fmt.Sprintf("%s/v1/projects/%s/locations/%s/gkeMemberships/%s", base, number, location, membership)
	name := fmt.Sprintf("connectgateway_%s_%s_%s", project, location, membership)
	kubeconfig := map[string]any{
		"apiVersion": "v1",
		"kind":       "Config",
		"clusters": []any{map[string]any{"name": name, "cluster": map[string]any{"server": endpoint,
			"certificate-authority-data": base64.StdEncoding.EncodeToString(caPEM)}}},
		"contexts":        []any{map[string]any{"name": name, "context": map[string]any{"cluster": name, "user": name}}},
		"current-context": name,
		"users": []any{map[string]any{"name": name, "user": map[string]any{"exec": map[string]any{
			"apiVersion":         "client.authentication.k8s.io/v1beta1",
			"command":            "gke-gcloud-auth-plugin",
			"installHint":        "Install gke-gcloud-auth-plugin for use with kubectl by following https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin",
			"provideClusterInfo": true,
			"interactiveMode":    "IfAvailable",
		}}}},
	}
	data, err := yaml.Marshal(kubeconfig)
	if err != nil {
		writeError(w, false, internalErr("%v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(map[string]string{"endpoint": endpoint, "kubeconfig": base64.StdEncoding.EncodeToString(data)})
}

// gatewayTLS serves the simulator over TLS on a second loopback port, from the first time a
// kubeconfig for the gateway is asked for until the Server closes, and returns its base URL and
// CA: kubectl sends a kubeconfig's credentials only over TLS.
func (s *Server) gatewayTLS() (string, []byte, error) {
	s.tlsOnce.Do(func() {
		cert, caPEM, err := loopbackCertificate()
		if err != nil {
			s.tlsErr = err
			return
		}
		lis, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		if err != nil {
			s.tlsErr = err
			return
		}
		hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
		s.work.Add(1)
		go func() {
			defer s.work.Done()
			<-s.bg.Done()
			hs.Close()
		}()
		go hs.Serve(lis)
		s.tlsURL, s.tlsCA = "https://"+lis.Addr().String(), caPEM
	})
	return s.tlsURL, s.tlsCA, s.tlsErr
}

// loopbackCertificate makes a CA and a certificate it signs for 127.0.0.1 and localhost.
func loopbackCertificate() (tls.Certificate, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gcpfake Connect Gateway CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}

// record counts and logs a call the gateway served.
func (s *Server) record(method string, r *http.Request, code codes.Code, start time.Time) {
	e := LogEntry{Time: start, Transport: "rest", Method: method, HTTP: r.Method, Path: r.URL.Path, Code: "OK", Duration: time.Since(start).String()}
	if code != codes.OK {
		e.Code = statusName(code)
	}
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	s.ctl.counters[method]++
	if len(s.ctl.log) >= maxLog {
		s.ctl.log = append(s.ctl.log[:0], s.ctl.log[maxLog/2:]...)
	}
	s.ctl.log = append(s.ctl.log, e)
}

// adminDenials serves /_fake/iam/denials: GET lists, POST adds one ({"member", "permission"}),
// DELETE clears.
func (s *Server) adminDenials(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodDelete:
		s.ClearDenials()
	case http.MethodPost:
		var d Denial
		if err := json.NewDecoder(r.Body).Decode(&d); err != nil || d.Permission == "" {
			http.Error(w, fmt.Sprintf("bad denial (want {\"member\": \"user:...\", \"permission\": \"gkehub.gateway.get\"}): %v", err), http.StatusBadRequest)
			return
		}
		s.DenyPermission(d)
	default:
		http.Error(w, "GET, POST or DELETE", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s.Denials())
}

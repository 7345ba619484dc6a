package verify

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
)

// The client's output as Istio's echo client prints it: its own lines per request, and the
// echo server's body, whose fields (StatusCode, Cluster) must not be taken for the response's.
func TestParseEcho(t *testing.T) {
	tests := []struct {
		name           string
		stdout, stderr string
		err            error
		want           echoOutput
	}{
		{name: "two answers", stdout: "[0] Url=http://echo/\n[0] StatusCode=200\n[0] ResponseHeader=Server:istio-envoy\n[0 body] StatusCode=200\n[0 body] Cluster=c1\n[1] StatusCode=200\n[1 body] Cluster=c2\n",
			want: echoOutput{Requests: map[int]*echoRequest{0: {Status: 200, Server: "istio-envoy", Cluster: "c1"}, 1: {Status: 200, Cluster: "c2"}}}},
		{name: "body fields are not the response's", stdout: "[0] StatusCode=502\n[0] ResponseHeader=server: envoy\n[0 body] StatusCode=200\n[0 body] ResponseHeader=Server:other\n",
			want: echoOutput{Requests: map[int]*echoRequest{0: {Status: 502, Server: "envoy"}}}},
		{name: "no response", stderr: "Error context deadline exceeded", err: errors.New("command terminated with non-zero exit code"),
			want: echoOutput{Requests: map[int]*echoRequest{}, Failure: "Error context deadline exceeded"}},
		{name: "exec failed silently", err: errors.New("command terminated with non-zero exit code"),
			want: echoOutput{Requests: map[int]*echoRequest{}, Failure: "command terminated with non-zero exit code"}},
		{name: "windows line ends and noise", stdout: "starting\r\n[3] StatusCode=404\r\n",
			want: echoOutput{Requests: map[int]*echoRequest{3: {Status: 404}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, parseEcho(tt.stdout, tt.stderr, tt.err)); diff != "" {
				t.Errorf("parseEcho (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	one := func(r echoRequest) echoOutput { return echoOutput{Requests: map[int]*echoRequest{0: &r}} }
	failed := func(msg string) echoOutput { return echoOutput{Requests: map[int]*echoRequest{}, Failure: msg} }
	tests := []struct {
		name string
		in   echoOutput
		want string
	}{
		{name: "502 from envoy", in: one(echoRequest{Status: 502, Server: "envoy"}), want: outcomeRefusedBySidecar},
		{name: "502 from someone else reached the host", in: one(echoRequest{Status: 502, Server: "nginx"}), want: outcomeReached},
		{name: "200", in: one(echoRequest{Status: 200}), want: outcomeReached},
		{name: "timeout", in: failed("Get \"http://example.com/\": context deadline exceeded"), want: outcomeDropped},
		{name: "i/o timeout", in: failed("dial tcp 93.184.215.14:80: i/o timeout"), want: outcomeDropped},
		{name: "certificate error means the host answered", in: failed("tls: failed to verify certificate: x509: unknown authority"), want: outcomeReached},
		{name: "closed at once, as BlackHoleCluster does to TLS", in: failed("Get \"https://example.com/\": EOF"), want: outcomeRefusedBySidecar},
		{name: "reset", in: failed("read tcp 10.0.0.1:4000->1.2.3.4:443: read: connection reset by peer"), want: outcomeRefusedBySidecar},
		{name: "name resolution", in: failed("dial tcp: lookup example.com: no such host"), want: outcomeFailed},
		{name: "nothing", in: echoOutput{}, want: outcomeFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := classify(tt.in); got != tt.want {
				t.Errorf("classify = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestJudgeBalance(t *testing.T) {
	answers := func(clusters ...string) echoOutput {
		o := echoOutput{Requests: map[int]*echoRequest{}}
		for i, c := range clusters {
			o.Requests[i] = &echoRequest{Status: 200, Cluster: c}
		}
		return o
	}
	tests := []struct {
		name    string
		serving []string
		in      echoOutput
		want    Finding
	}{
		{name: "both answered", serving: []string{"c1", "c2"}, in: answers("c1", "c2", "c2", "c1"),
			want: Finding{Subject: "c1", Status: OK, Message: "from c1, every serving cluster answered: 4 of 4 requests answered (c1 2, c2 2)"}},
		{name: "only the local cluster", serving: []string{"c1", "c2"}, in: answers("c1", "c1", "c1", "c1"),
			want: Finding{Subject: "c1", Status: Fail, Message: "from c1 to the shared Service: no answer from c2: 4 of 4 requests answered (c1 4)"}},
		{name: "nothing answered", serving: []string{"c1"}, in: echoOutput{Requests: map[int]*echoRequest{}, Failure: "context deadline exceeded"},
			want: Finding{Subject: "c1", Status: Fail, Message: "from c1 to the shared Service: no cluster answered: 0 of 4 requests answered; the client failed: context deadline exceeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := judgeBalance("c1", tt.serving, 4, tt.in)
			got.Hint = ""
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("judgeBalance (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProbeHosts(t *testing.T) {
	rule := func(port int32, hosts ...string) v1alpha1.EgressRule {
		return v1alpha1.EgressRule{Hosts: hosts, Ports: []v1alpha1.EgressPort{{Number: port}}}
	}
	tests := []struct {
		name                 string
		allow                []v1alpha1.EgressRule
		unlisted, url, hostP string
	}{
		{name: "no allow-list", unlisted: "example.com"},
		{name: "wildcard asked as www", allow: []v1alpha1.EgressRule{rule(443, "*.googleapis.com")}, unlisted: "example.com",
			url: "https://www.googleapis.com:443/", hostP: "www.googleapis.com:443"},
		{name: "listed example hosts are skipped", allow: []v1alpha1.EgressRule{rule(80, "example.com", "*.net")}, unlisted: "example.org",
			url: "http://example.com:80/", hostP: "example.com:80"},
		{name: "everything listed", allow: []v1alpha1.EgressRule{rule(80, "*")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, hp := allowedHost(tt.allow)
			if got := unlistedHost(tt.allow); got != tt.unlisted || url != tt.url || hp != tt.hostP {
				t.Errorf("unlisted %q, allowed %q %q; want %q, %q %q", got, url, hp, tt.unlisted, tt.url, tt.hostP)
			}
		})
	}
}

// Command echoclient stands in, in tests, for the client of Istio's app image that the traffic
// probes exec in their client pods: the same flags (--count, --timeout, a URL) and the same
// output ([i] StatusCode=…, [i] ResponseHeader=Name:value, [i body] <line of the answer>; on a
// request without a response, the error on stderr and a non-zero exit). It really sends HTTP:
// ECHO_ROUTES maps each host to local addresses ("host=addr,addr;host=addr"), taken in turn per
// request as a sidecar balances between endpoints; a host it does not map does not resolve.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

func main() {
	count := flag.Int("count", 1, "requests to send")
	timeout := flag.Duration("timeout", 5*time.Second, "timeout of each request")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "want one URL")
		os.Exit(2)
	}
	target, err := url.Parse(flag.Arg(0))
	if err != nil {
		fatal(err)
	}
	routes := map[string][]string{}
	for _, r := range strings.Split(os.Getenv("ECHO_ROUTES"), ";") {
		if host, addrs, ok := strings.Cut(r, "="); ok {
			routes[host] = strings.Split(addrs, ",")
		}
	}
	for i := range *count {
		addrs, ok := routes[target.Hostname()]
		if !ok {
			fatal(fmt.Errorf("dial tcp: lookup %s: no such host", target.Hostname()))
		}
		addr := addrs[i%len(addrs)]
		client := &http.Client{Timeout: *timeout, Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
			TLSClientConfig:   &tls.Config{ServerName: target.Hostname()},
			DisableKeepAlives: true,
		}}
		resp, err := client.Get(target.String())
		if err != nil {
			fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			fatal(err)
		}
		fmt.Printf("[%d] Url=%s\n", i, target)
		fmt.Printf("[%d] StatusCode=%d\n", i, resp.StatusCode)
		var names []string
		for k := range resp.Header {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			for _, v := range resp.Header[k] {
				fmt.Printf("[%d] ResponseHeader=%s:%s\n", i, k, v)
			}
		}
		for _, line := range strings.Split(strings.TrimRight(string(body), "\n"), "\n") {
			fmt.Printf("[%d body] %s\n", i, line)
		}
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "Error %v\n", err)
	os.Exit(1)
}

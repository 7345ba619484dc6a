package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/googleapi"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/kube"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// DefaultReachTimeout is how long Reachable waits for each cluster's answer: a private endpoint
// asked from outside its VPC never answers, so the wait is what tells it.
const DefaultReachTimeout = 15 * time.Second

// Reach is what Reachable found: the clusters the cluster side can work on, those it waits
// for, and those that exist but did not answer.
type Reach struct {
	// Configs reach the clusters that answered, by name.
	Configs map[string]*rest.Config
	// NotReady are the clusters the cluster side waits for, sorted: GKE has not created them,
	// they are not running yet, or what the way to them goes through is created by the plan.
	NotReady []string
	// Waiting says, for the clusters of NotReady that exist and run, what they wait for.
	Waiting map[string]string
	// Unreachable are the clusters that exist but did not answer, sorted by name.
	Unreachable []*UnreachableError
}

// UnreachableError says why a cluster that exists could not be reached the way the file says:
// the address tried, the cause, and what would fix it.
type UnreachableError struct {
	Cluster string
	// Via is the cluster's access.via.
	Via string
	// Address is what was tried: the configuration's host.
	Address string
	// Cause is what happened: a timeout, a refused connection, an HTTP status and, for a
	// permission, which one.
	Cause string
	// Fix is what would make the cluster answer.
	Fix string
	// Err is the probe's error.
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cluster %s (via %s) at %s: %s; fix: %s", e.Cluster, e.Via, e.Address, e.Cause, e.Fix)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ClustersUnreachableError refuses the cluster side because clusters that exist did not answer.
type ClustersUnreachableError struct {
	Clusters []*UnreachableError
}

func (e *ClustersUnreachableError) Error() string {
	names := make([]string, len(e.Clusters))
	lines := make([]string, len(e.Clusters))
	for i, u := range e.Clusters {
		names[i] = u.Cluster
		lines[i] = "  " + u.Error()
	}
	return fmt.Sprintf("the cluster side is not planned: %s exist but did not answer:\n%s", strings.Join(names, ", "), strings.Join(lines, "\n"))
}

// Planned is the plan's form of the explanations.
func (e *ClustersUnreachableError) Planned() []plan.Unreachable {
	out := make([]plan.Unreachable, len(e.Clusters))
	for i, u := range e.Clusters {
		out[i] = plan.Unreachable{Cluster: u.Cluster, Via: u.Via, Address: u.Address, Cause: u.Cause, Fix: u.Fix}
	}
	return out
}

// Reachable decides which clusters the cluster side can work on now, and how to reach them. A
// cluster reached through a kubeconfig context is asked at once (one that does not answer while
// GKE does not report it running is not ready yet); any other once GKE reports it
// RUNNING with the address its way needs, and, through the Connect Gateway, once its fleet
// membership and the gateway's API are no longer waiting to be created by cloud's plan. Every
// cluster it can ask is asked for one object, in parallel, within opts.ReachTimeout: one that
// does not answer is Unreachable, with the address tried, the cause and the fix. Plan, apply and
// verify all ask it. Only a configuration that cannot be built is an error.
func Reachable(ctx context.Context, d *federation.Desired, cloud *gcplayer.CloudPlan, opts ClusterOptions) (*Reach, error) {
	r := &Reach{Configs: map[string]*rest.Config{}, Waiting: map[string]string{}}
	creates := map[plan.Address]bool{}
	if cloud.Plan != nil {
		for _, c := range cloud.Plan.Changes {
			if c.Action == plan.Create {
				creates[c.Address] = true
			}
		}
	}
	gatewayAPI := plan.APIAddress(d.FleetProject, "connectgateway.googleapis.com")
	configs := map[string]*rest.Config{}
	for _, c := range d.Clusters {
		a, ok := cloud.Clusters[c.Name]
		if c.Access.Via != v1alpha1.AccessKubeconfig {
			if !ok || a.Status != "RUNNING" || a.Endpoint == "" {
				r.NotReady = append(r.NotReady, c.Name)
				continue
			}
			if why := waitsFor(c, a, creates, gatewayAPI); why != "" {
				r.NotReady = append(r.NotReady, c.Name)
				r.Waiting[c.Name] = why
				continue
			}
		}
		cfg, err := opts.Config(c, a)
		if err != nil {
			return nil, fmt.Errorf("reach cluster %s: %w", c.Name, err)
		}
		configs[c.Name] = cfg
	}
	timeout := opts.ReachTimeout
	if timeout <= 0 {
		timeout = DefaultReachTimeout
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range d.Clusters {
		cfg, ok := configs[c.Name]
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := kube.Probe(ctx, cfg, timeout)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				r.Configs[c.Name] = cfg
			case !running(cloud, c.Name):
				// A kubeconfig context of a cluster GKE does not report running yet.
				r.NotReady = append(r.NotReady, c.Name)
			default:
				r.Unreachable = append(r.Unreachable, explain(d, c, cfg.Host, err))
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sort.Strings(r.NotReady)
	sort.Slice(r.Unreachable, func(i, j int) bool { return r.Unreachable[i].Cluster < r.Unreachable[j].Cluster })
	return r, nil
}

// running reports whether GKE reports the cluster running.
func running(cloud *gcplayer.CloudPlan, name string) bool {
	return cloud.Clusters[name].Status == "RUNNING"
}

// waitsFor says what a running cluster waits for before its way in works, or "".
func waitsFor(c federation.ClusterDesired, a gcplayer.ClusterAccess, creates map[plan.Address]bool, gatewayAPI plan.Address) string {
	switch c.Access.Via {
	case v1alpha1.AccessConnectGateway:
		if creates[c.Access.Membership] {
			return "its fleet membership, which the Connect Gateway goes through, is created by this plan"
		}
		if creates[gatewayAPI] {
			return "the Connect Gateway API (connectgateway.googleapis.com) is enabled by this plan"
		}
	case v1alpha1.AccessPrivateEndpoint:
		if a.PrivateEndpoint == "" {
			return "GKE reports no private endpoint for it yet"
		}
	}
	return ""
}

// explain turns a probe's failure into what was tried, why it failed and what would fix it.
func explain(d *federation.Desired, c federation.ClusterDesired, host string, err error) *UnreachableError {
	u := &UnreachableError{Cluster: c.Name, Via: c.Access.Via, Address: host, Err: err, Cause: err.Error()}
	var pe *kube.ProbeError
	if !errors.As(err, &pe) {
		u.Fix = "retry; if it persists, check " + c.Access.Address
		return u
	}
	networks := authorizedNetworks(c)
	switch {
	case pe.TimedOut():
		u.Cause = fmt.Sprintf("no answer within %s (timeout)", pe.Timeout)
		switch c.Access.Via {
		case v1alpha1.AccessPrivateEndpoint:
			u.Fix = fmt.Sprintf("the private endpoint answers only inside VPC %s, and only to the master authorized networks of %s (%s): run from there (the bastion, a runner in the VPC), or set spec.access.via: connectGateway to reach it from anywhere",
				d.Network.Name, c.Name, networks)
		case v1alpha1.AccessPublicEndpoint:
			u.Fix = fmt.Sprintf("the public endpoint answers only to the master authorized networks of %s (%s), and the caller's address is in none of them: add its range to spec.admin.authorizedNetworks and apply, or set spec.access.via: connectGateway",
				c.Name, networks)
		case v1alpha1.AccessConnectGateway:
			u.Fix = "the Connect Gateway did not answer: check the way out to connectgateway.googleapis.com (an HTTPS proxy, egress rules), then retry"
		default:
			u.Fix = fmt.Sprintf("the server of kubeconfig context %s did not answer: check it with kubectl --context %s get --raw /version, or use another way (spec.clusters[].access.via)", c.Access.KubeconfigContext, c.Access.KubeconfigContext)
		}
	case errors.Is(pe.Err, syscall.ECONNREFUSED):
		u.Cause = "connection refused: nothing listens at that address"
		if c.Access.Via == v1alpha1.AccessKubeconfig {
			u.Fix = fmt.Sprintf("kubeconfig context %s names a server that does not listen: point it at the cluster (gcloud container clusters get-credentials), or use another way", c.Access.KubeconfigContext)
		} else {
			u.Fix = fmt.Sprintf("the address is not the control plane's or it is restarting: check %s with gcloud container clusters describe %s --location %s, then retry", c.Name, c.Name, c.Location)
		}
	case pe.Err != nil:
		u.Fix = "check the address and its certificate; " + otherWays(c)
	case pe.Status == http.StatusUnauthorized:
		u.Cause = "401 Unauthorized: the credentials were refused"
		if c.Access.Via == v1alpha1.AccessKubeconfig {
			u.Fix = fmt.Sprintf("renew the credentials of kubeconfig context %s", c.Access.KubeconfigContext)
		} else {
			u.Fix = "renew the Google credentials (gcloud auth application-default login), or the token in ASMFED_GCP_ACCESS_TOKEN_FILE"
		}
	case kube.IsKubeStatus(pe.Body):
		u.Cause = fmt.Sprintf("%d from the cluster's API server: %s", pe.Status, statusMessage(pe.Body))
		if pe.Status == http.StatusForbidden {
			u.Fix = fmt.Sprintf("the caller reaches %s but Kubernetes refuses it: grant it roles/container.admin on project %s, or bind it to cluster-admin", c.Name, c.Project)
		} else {
			u.Fix = "retry; if it persists, the API server of " + c.Name + " is unwell: check it in the console"
		}
	default:
		u.Cause, u.Fix = googleRefusal(d, c, pe)
	}
	return u
}

// googleRefusal explains a refusal in Google's JSON error format, as the Connect Gateway (or a
// Google front end) answers.
func googleRefusal(d *federation.Desired, c federation.ClusterDesired, pe *kube.ProbeError) (cause, fix string) {
	var body struct {
		Error struct {
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	cause = fmt.Sprintf("%d %s", pe.Status, http.StatusText(pe.Status))
	if json.Unmarshal(pe.Body, &body) == nil && body.Error.Status != "" {
		cause = fmt.Sprintf("%d %s: %s", pe.Status, body.Error.Status, body.Error.Message)
	} else if text := strings.TrimSpace(string(pe.Body)); text != "" {
		cause += ": " + text
	}
	var reason string
	var meta map[string]string
	if ae := googleError(pe.Status, pe.Body); ae != nil {
		reason, meta = ae.Reason(), ae.Metadata()
	}
	switch {
	case pe.Status == http.StatusForbidden && meta["permission"] != "":
		cause = fmt.Sprintf("403 PERMISSION_DENIED: the caller lacks %s on %s", meta["permission"], meta["resource"])
		fix = fmt.Sprintf("grant the caller (or the service account it impersonates) roles/gkehub.gatewayEditor on project %s (roles/gkehub.gatewayReader is enough for plan and verify): gcloud projects add-iam-policy-binding %s --member=CALLER --role=roles/gkehub.gatewayEditor",
			d.FleetProject, d.FleetProject)
	case reason == "SERVICE_DISABLED":
		cause = fmt.Sprintf("403 SERVICE_DISABLED: %s is not enabled in %s", meta["service"], d.FleetProject)
		fix = fmt.Sprintf("kubectl asmfed apply enables it, or: gcloud services enable %s --project %s", meta["service"], d.FleetProject)
	case pe.Status == http.StatusNotFound && c.Access.Via == v1alpha1.AccessConnectGateway:
		fix = fmt.Sprintf("the fleet has no membership %s for %s: kubectl asmfed apply registers it", c.Access.Membership, c.Name)
	case pe.Status == http.StatusForbidden:
		fix = "grant the caller what the refusal names; " + otherWays(c)
	default:
		fix = "retry; if it persists, " + otherWays(c)
	}
	return cause, fix
}

// googleError parses a body in Google's JSON error format, nil when it is not one.
func googleError(status int, body []byte) *apierror.APIError {
	err := googleapi.CheckResponse(&http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))})
	if err == nil {
		return nil
	}
	ae, ok := apierror.FromError(err)
	if !ok {
		return nil
	}
	return ae
}

// statusMessage is the message of a Kubernetes Status body.
func statusMessage(body []byte) string {
	var st struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &st); err != nil || st.Message == "" {
		return strings.TrimSpace(string(body))
	}
	return st.Message
}

// otherWays names the ways to reach a cluster the file could choose instead.
func otherWays(c federation.ClusterDesired) string {
	return fmt.Sprintf("or reach %s another way (spec.clusters[].access.via: connectGateway, privateEndpoint, publicEndpoint or kubeconfig)", c.Name)
}

// authorizedNetworks lists a cluster's master authorized networks as CIDR (name).
func authorizedNetworks(c federation.ClusterDesired) string {
	if len(c.MasterAuthorizedNetworks) == 0 {
		return "none"
	}
	var out []string
	for _, n := range c.MasterAuthorizedNetworks {
		out = append(out, n.CIDR)
	}
	return strings.Join(out, ", ")
}

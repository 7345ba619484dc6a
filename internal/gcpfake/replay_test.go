package gcpfake_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	gkehubv1beta1 "cloud.google.com/go/gkehub/apiv1beta1"
	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"
	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	serviceusage "cloud.google.com/go/serviceusage/apiv1"
	"cloud.google.com/go/serviceusage/apiv1/serviceusagepb"
	"google.golang.org/api/gkehub/v1"
	gkehubv2 "google.golang.org/api/gkehub/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
)

// exchange is one request and response of a recorded gcloud step.
type exchange struct {
	step, method, path, reqBody string
	status                      int
	respBody                    string
}

// readTape parses the phase goldens written by TestGcloudFidelity, in
// phase order and, within a phase, in the order the file lists them.
func readTape(t *testing.T, dir string) []exchange {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "phase-*.golden"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no goldens in %s (run TestGcloudFidelity with -update): %v", dir, err)
	}
	var out []exchange
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var step string
		var cur *exchange
		inResp := false
		flush := func() {
			if cur != nil {
				out = append(out, *cur)
				cur = nil
			}
		}
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "### "):
				flush()
				step = strings.TrimPrefix(line, "### ")
			case strings.HasPrefix(line, "$ ") || line == "":
				flush()
			case strings.HasPrefix(line, "> "):
				flush()
				m, p, _ := strings.Cut(strings.TrimPrefix(line, "> "), " ")
				cur, inResp = &exchange{step: step, method: m, path: p}, false
			case strings.HasPrefix(line, "< ") && cur != nil:
				cur.status, _ = strconv.Atoi(strings.TrimPrefix(line, "< "))
				inResp = true
			case cur != nil && inResp:
				cur.respBody += line + "\n"
			case cur != nil:
				cur.reqBody += line + "\n"
			}
		}
		flush()
		fh.Close()
	}
	return out
}

// replayer issues recorded gcloud mutations through the official Go
// clients.
type replayer struct {
	ctx      context.Context
	nets     *compute.NetworksClient
	subs     *compute.SubnetworksClient
	fws      *compute.FirewallsClient
	routers  *compute.RoutersClient
	projects *compute.ProjectsClient
	gke      *container.ClusterManagerClient
	su       *serviceusage.Client
	iam      *admin.IamClient
	members  *gkehubv1beta1.GkeHubMembershipClient
	hub1     *gkehub.Service
	hub2     *gkehubv2.Service
}

func newReplayer(t *testing.T, srv *gcpfake.Server) *replayer {
	ctx := context.Background()
	r := &replayer{ctx: ctx}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var err error
	o := srv.ClientOptions()
	r.nets, err = compute.NewNetworksRESTClient(ctx, o...)
	must(err)
	r.subs, err = compute.NewSubnetworksRESTClient(ctx, o...)
	must(err)
	r.fws, err = compute.NewFirewallsRESTClient(ctx, o...)
	must(err)
	r.routers, err = compute.NewRoutersRESTClient(ctx, o...)
	must(err)
	r.projects, err = compute.NewProjectsRESTClient(ctx, o...)
	must(err)
	r.gke, err = container.NewClusterManagerRESTClient(ctx, o...)
	must(err)
	r.su, err = serviceusage.NewRESTClient(ctx, o...)
	must(err)
	r.iam, err = admin.NewIamClient(ctx, srv.GRPCClientOptions()...)
	must(err)
	r.members, err = gkehubv1beta1.NewGkeHubMembershipRESTClient(ctx, o...)
	must(err)
	hubOpts := []option.ClientOption{option.WithEndpoint(srv.URL() + "/gkehub/"), option.WithoutAuthentication()}
	r.hub1, err = gkehub.NewService(ctx, hubOpts...)
	must(err)
	r.hub2, err = gkehubv2.NewService(ctx, hubOpts...)
	must(err)
	return r
}

var replayRoutes = []struct {
	method string
	re     *regexp.Regexp
	call   func(r *replayer, m []string, body []byte) error
}{
	{"POST", regexp.MustCompile(`^/compute/v1/projects/([^/]+)/global/networks$`), func(r *replayer, m []string, b []byte) error {
		res := &computepb.Network{}
		return computeOp(r, b, res, func() (*compute.Operation, error) {
			return r.nets.Insert(r.ctx, &computepb.InsertNetworkRequest{Project: m[1], NetworkResource: res})
		})
	}},
	{"POST", regexp.MustCompile(`^/compute/v1/projects/([^/]+)/regions/([^/]+)/subnetworks$`), func(r *replayer, m []string, b []byte) error {
		res := &computepb.Subnetwork{}
		return computeOp(r, b, res, func() (*compute.Operation, error) {
			return r.subs.Insert(r.ctx, &computepb.InsertSubnetworkRequest{Project: m[1], Region: m[2], SubnetworkResource: res})
		})
	}},
	{"POST", regexp.MustCompile(`^/compute/v1/projects/([^/]+)/global/firewalls$`), func(r *replayer, m []string, b []byte) error {
		res := &computepb.Firewall{}
		return computeOp(r, b, res, func() (*compute.Operation, error) {
			return r.fws.Insert(r.ctx, &computepb.InsertFirewallRequest{Project: m[1], FirewallResource: res})
		})
	}},
	{"PATCH", regexp.MustCompile(`^/compute/v1/projects/([^/]+)/global/firewalls/([^/]+)$`), func(r *replayer, m []string, b []byte) error {
		res := &computepb.Firewall{}
		return computeOp(r, b, res, func() (*compute.Operation, error) {
			return r.fws.Patch(r.ctx, &computepb.PatchFirewallRequest{Project: m[1], Firewall: m[2], FirewallResource: res})
		})
	}},
	{"DELETE", regexp.MustCompile(`^/compute/v1/projects/([^/]+)/global/firewalls/([^/]+)$`), func(r *replayer, m []string, b []byte) error {
		return computeOp(r, nil, nil, func() (*compute.Operation, error) {
			return r.fws.Delete(r.ctx, &computepb.DeleteFirewallRequest{Project: m[1], Firewall: m[2]})
		})
	}},
	{"POST", regexp.MustCompile(`^/compute/v1/projects/([^/]+)/regions/([^/]+)/routers$`), func(r *replayer, m []string, b []byte) error {
		res := &computepb.Router{}
		return computeOp(r, b, res, func() (*compute.Operation, error) {
			return r.routers.Insert(r.ctx, &computepb.InsertRouterRequest{Project: m[1], Region: m[2], RouterResource: res})
		})
	}},
	{"PATCH", regexp.MustCompile(`^/compute/v1/projects/([^/]+)/regions/([^/]+)/routers/([^/]+)$`), func(r *replayer, m []string, b []byte) error {
		res := &computepb.Router{}
		return computeOp(r, b, res, func() (*compute.Operation, error) {
			return r.routers.Patch(r.ctx, &computepb.PatchRouterRequest{Project: m[1], Region: m[2], Router: m[3], RouterResource: res})
		})
	}},
	{"POST", regexp.MustCompile(`^/compute/v1/projects/([^/]+)/enableXpnHost$`), func(r *replayer, m []string, b []byte) error {
		return computeOp(r, nil, nil, func() (*compute.Operation, error) {
			return r.projects.EnableXpnHost(r.ctx, &computepb.EnableXpnHostProjectRequest{Project: m[1]})
		})
	}},
	{"POST", regexp.MustCompile(`^/compute/v1/projects/([^/]+)/enableXpnResource$`), func(r *replayer, m []string, b []byte) error {
		res := &computepb.ProjectsEnableXpnResourceRequest{}
		return computeOp(r, b, res, func() (*compute.Operation, error) {
			return r.projects.EnableXpnResource(r.ctx, &computepb.EnableXpnResourceProjectRequest{Project: m[1], ProjectsEnableXpnResourceRequestResource: res})
		})
	}},
	{"POST", regexp.MustCompile(`^/v1/projects/([^/]+)/locations/([^/]+)/clusters$`), func(r *replayer, m []string, b []byte) error {
		req := &containerpb.CreateClusterRequest{}
		if err := unmarshalBody(b, req); err != nil {
			return err
		}
		return containerOp(r.gke.CreateCluster(r.ctx, req))
	}},
	{"PUT", regexp.MustCompile(`^/v1/(projects/[^/]+/locations/[^/]+/clusters/[^/]+)$`), func(r *replayer, m []string, b []byte) error {
		req := &containerpb.UpdateClusterRequest{}
		if err := unmarshalBody(b, req); err != nil {
			return err
		}
		req.Name = m[1]
		return containerOp(r.gke.UpdateCluster(r.ctx, req))
	}},
	{"POST", regexp.MustCompile(`^/v1/(projects/[^/]+/locations/[^/]+/clusters/[^/]+)/nodePools$`), func(r *replayer, m []string, b []byte) error {
		req := &containerpb.CreateNodePoolRequest{}
		if err := unmarshalBody(b, req); err != nil {
			return err
		}
		req.Parent = m[1]
		return containerOp(r.gke.CreateNodePool(r.ctx, req))
	}},
	{"PUT", regexp.MustCompile(`^/v1/(projects/[^/]+/locations/[^/]+/clusters/[^/]+/nodePools/[^/]+)$`), func(r *replayer, m []string, b []byte) error {
		req := &containerpb.UpdateNodePoolRequest{}
		if err := unmarshalBody(b, req); err != nil {
			return err
		}
		req.Name = m[1]
		return containerOp(r.gke.UpdateNodePool(r.ctx, req))
	}},
	{"DELETE", regexp.MustCompile(`^/v1/(projects/[^/]+/locations/[^/]+/clusters/[^/]+/nodePools/[^/]+)$`), func(r *replayer, m []string, b []byte) error {
		return containerOp(r.gke.DeleteNodePool(r.ctx, &containerpb.DeleteNodePoolRequest{Name: m[1]}))
	}},
	{"DELETE", regexp.MustCompile(`^/v1/(projects/[^/]+/locations/[^/]+/clusters/[^/]+)$`), func(r *replayer, m []string, b []byte) error {
		return containerOp(r.gke.DeleteCluster(r.ctx, &containerpb.DeleteClusterRequest{Name: m[1]}))
	}},
	{"POST", regexp.MustCompile(`^/v1/(projects/[^/]+)/serviceAccounts$`), func(r *replayer, m []string, b []byte) error {
		req := &adminpb.CreateServiceAccountRequest{}
		if err := unmarshalBody(b, req); err != nil {
			return err
		}
		req.Name = m[1]
		_, err := r.iam.CreateServiceAccount(r.ctx, req)
		return err
	}},
	{"POST", regexp.MustCompile(`^/v1/(projects/[^/]+/services/[^/:]+):enable$`), func(r *replayer, m []string, b []byte) error {
		op, err := r.su.EnableService(r.ctx, &serviceusagepb.EnableServiceRequest{Name: m[1]})
		if err != nil {
			return err
		}
		_, err = op.Wait(r.ctx)
		return err
	}},
	{"POST", regexp.MustCompile(`^/v1/(projects/[^/]+)/services:batchEnable$`), func(r *replayer, m []string, b []byte) error {
		req := &serviceusagepb.BatchEnableServicesRequest{}
		if err := unmarshalBody(b, req); err != nil {
			return err
		}
		req.Parent = m[1]
		op, err := r.su.BatchEnableServices(r.ctx, req)
		if err != nil {
			return err
		}
		_, err = op.Wait(r.ctx)
		return err
	}},
	{"POST", regexp.MustCompile(`^/gkehub/v1/(projects/[^/]+/locations/[^/]+)/memberships\?membershipId=([^&]+)$`), func(r *replayer, m []string, b []byte) error {
		res := &gkehubpb.Membership{}
		if err := unmarshalBody(b, res); err != nil {
			return err
		}
		op, err := r.members.CreateMembership(r.ctx, &gkehubpb.CreateMembershipRequest{Parent: m[1], MembershipId: m[2], Resource: res})
		if err != nil {
			return err
		}
		_, err = op.Wait(r.ctx)
		return err
	}},
	{"PATCH", regexp.MustCompile(`^/gkehub/v1/(projects/[^/]+/locations/[^/]+/memberships/[^/?]+)\?updateMask=([^&]+)$`), func(r *replayer, m []string, b []byte) error {
		res := &gkehubpb.Membership{}
		if err := unmarshalBody(b, res); err != nil {
			return err
		}
		op, err := r.members.UpdateMembership(r.ctx, &gkehubpb.UpdateMembershipRequest{Name: m[1], Resource: res,
			UpdateMask: &fieldmaskpb.FieldMask{Paths: strings.Split(m[2], ",")}})
		if err != nil {
			return err
		}
		_, err = op.Wait(r.ctx)
		return err
	}},
	{"POST", regexp.MustCompile(`^/gkehub/v1/(projects/[^/]+/locations/[^/]+)/features\?featureId=([^&]+)$`), func(r *replayer, m []string, b []byte) error {
		f := &gkehub.Feature{}
		if err := jsonBody(b, f); err != nil {
			return err
		}
		op, err := r.hub1.Projects.Locations.Features.Create(m[1], f).FeatureId(m[2]).Do()
		return hubWait(r, op, err)
	}},
	{"PATCH", regexp.MustCompile(`^/gkehub/v2/(projects/[^/]+/locations/[^/]+/memberships/[^/]+/features/[^/?]+)\?allowMissing=True&updateMask=([^&]+)$`), func(r *replayer, m []string, b []byte) error {
		mf := &gkehubv2.MembershipFeature{}
		if err := jsonBody(b, mf); err != nil {
			return err
		}
		op, err := r.hub2.Projects.Locations.Memberships.Features.Patch(m[1], mf).AllowMissing(true).UpdateMask(m[2]).Do()
		if err != nil {
			return err
		}
		return waitComputeOp(op.Name, op.Done, func() (bool, error) {
			next, err := r.hub2.Projects.Locations.Operations.Get(op.Name).Do()
			if err != nil {
				return false, err
			}
			op = next
			return op.Done, nil
		})
	}},
}

// unmarshalBody decodes a recorded request body, leaving out fields the
// recording replaced by placeholders (ids, fingerprints): the server sets
// those, and a fingerprint only guards against concurrent writers.
func unmarshalBody(b []byte, m proto.Message) error {
	if len(b) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	b, _ = json.Marshal(dropPlaceholders(v))
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, m)
}

func dropPlaceholders(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if volatileKeys[k] && e == strings.ToUpper(k) {
				delete(x, k)
				continue
			}
			x[k] = dropPlaceholders(e)
		}
	case []any:
		for i := range x {
			x[i] = dropPlaceholders(x[i])
		}
	}
	return v
}

func jsonBody(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	b, _ = json.Marshal(dropPlaceholders(raw))
	return json.Unmarshal(b, v)
}

func computeOp(r *replayer, b []byte, res proto.Message, call func() (*compute.Operation, error)) error {
	if res != nil {
		if err := unmarshalBody(b, res); err != nil {
			return err
		}
	}
	op, err := call()
	if err != nil {
		return err
	}
	if err := op.Wait(r.ctx); err != nil {
		return err
	}
	if e := op.Proto().GetError(); e != nil {
		return fmt.Errorf("operation failed: %v", e)
	}
	return nil
}

func containerOp(op *containerpb.Operation, err error) error {
	if err != nil {
		return err
	}
	if op.GetStatus() != containerpb.Operation_DONE || op.GetError() != nil {
		return fmt.Errorf("operation %s: %v %v", op.GetName(), op.GetStatus(), op.GetError())
	}
	return nil
}

func hubWait(r *replayer, op *gkehub.Operation, err error) error {
	if err != nil {
		return err
	}
	if err := waitComputeOp(op.Name, op.Done, func() (bool, error) {
		next, err := r.hub1.Projects.Locations.Operations.Get(op.Name).Do()
		if err != nil {
			return false, err
		}
		op = next
		return op.Done, nil
	}); err != nil {
		return err
	}
	if op.Error != nil {
		return fmt.Errorf("operation failed: %s", op.Error.Message)
	}
	return nil
}

// opTimeout bounds the wait for one simulated long-running operation; the
// simulator finishes them in milliseconds, so reaching it means a hang.
const opTimeout = 30 * time.Second

// waitOp polls a long-running operation through get until it reports done,
// failing after opTimeout with the last error get returned.
func waitComputeOp(name string, done bool, get func() (bool, error)) error {
	return testutil.Poll(opTimeout, "operation "+name, func() error {
		if done {
			return nil
		}
		var err error
		if done, err = get(); err != nil {
			return err
		}
		if !done {
			return errors.New("still running")
		}
		return nil
	})
}

// errStatus is the HTTP status an error from any of the clients stands for.
func errStatus(err error) int {
	if err == nil {
		return 200
	}
	if c := httpCode(err); c != 0 {
		return c
	}
	if st, ok := status.FromError(err); ok {
		return map[string]int{"AlreadyExists": 409, "NotFound": 404, "InvalidArgument": 400, "PermissionDenied": 403}[st.Code().String()]
	}
	return -1
}

// TestGoClientsReplayGcloudFlows replays every mutation gcloud made in the
// fidelity suite through the official Go clients, on a fresh simulator,
// and re-issues gcloud's reads in the same places: each read must return
// what gcloud saw (normalised), and each mutation must succeed or fail
// with the same status. So the Go clients and gcloud drive the simulator
// to the same state. It reads the committed goldens and needs no gcloud.
func TestGoClientsReplayGcloudFlows(t *testing.T) {
	srv := gcpfake.Start(t)
	r := newReplayer(t, srv)
	tape := readTape(t, "testdata/gcloud")
	opPath := regexp.MustCompile(`/operations/`)
	var mutations, reads int
	for _, ex := range tape {
		// The tape writes the simulator's address as HOST; gcloud put it into resource links and
		// issuers, which the simulator checks against each other.
		body := []byte(strings.ReplaceAll(strings.TrimSpace(ex.reqBody), "HOST", srv.Addr()))
		if ex.method == "GET" {
			if opPath.MatchString(ex.path) {
				continue
			}
			reads++
			resp, err := http.Get(srv.URL() + ex.path)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != ex.status || normBody(got) != ex.respBody {
				t.Errorf("%s: GET %s after replay:\n--- gcloud saw (%d)\n%s--- Go clients left (%d)\n%s", ex.step, ex.path, ex.status, ex.respBody, resp.StatusCode, normBody(got))
			}
			continue
		}
		if strings.HasSuffix(ex.path, "/wait") {
			continue // the Go clients wait in their own way
		}
		var matched bool
		for _, rt := range replayRoutes {
			m := rt.re.FindStringSubmatch(ex.path)
			if rt.method != ex.method || m == nil {
				continue
			}
			matched = true
			mutations++
			err := rt.call(r, m, body)
			if got := errStatus(err); got != ex.status {
				t.Errorf("%s: %s %s: Go clients got %d (%v), gcloud got %d", ex.step, ex.method, ex.path, got, err, ex.status)
			}
			break
		}
		if !matched {
			t.Errorf("%s: no Go client replay for %s %s", ex.step, ex.method, ex.path)
		}
	}
	t.Logf("replayed %d mutations and compared %d reads", mutations, reads)
	if mutations < 20 || reads < 30 {
		t.Errorf("replayed %d mutations and %d reads; the tape looks truncated", mutations, reads)
	}
}

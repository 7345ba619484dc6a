package gcpfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
)

// gcloudEnv runs the real gcloud against a simulator, isolated in a
// temporary config directory and kubeconfig.
type gcloudEnv struct {
	bin  string
	env  []string
	srv  *gcpfake.Server
	tape *tape
	// rec, when set, is the one recording proxy every command goes through.
	rec *recorder
}

func newGcloud(t *testing.T, srv *gcpfake.Server) *gcloudEnv {
	t.Helper()
	bin, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud not installed")
	}
	dir := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"CLOUDSDK_CONFIG=" + filepath.Join(dir, "gcloud"),
		"KUBECONFIG=" + filepath.Join(dir, "kubeconfig"),
		"CLOUDSDK_CORE_PROJECT=demo",
		"CLOUDSDK_CORE_CHECK_GCE_METADATA=false",
		"CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true",
		"CLOUDSDK_CORE_SHOW_STRUCTURED_LOGS=never",
	}
	if py := os.Getenv("CLOUDSDK_PYTHON"); py != "" {
		env = append(env, "CLOUDSDK_PYTHON="+py)
	}
	return &gcloudEnv{bin: bin, env: env, srv: srv, tape: newTape()}
}

// sameEndpoint is gcloud with every command of the step sent through one
// recording proxy, so one endpoint: gcloud writes the container endpoint
// it is given into GKE resource links and issuers, and a command that
// compares them with what an earlier one registered needs the same one.
func (g *gcloudEnv) sameEndpoint(t *testing.T) *gcloudEnv {
	rec := g.tape.recorder(t, g.srv)
	t.Cleanup(rec.ps.Close)
	c := *g
	c.rec = rec
	return &c
}

type result struct {
	code   int
	stdout []byte
	stderr string
}

func (g *gcloudEnv) run(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Each invocation talks through its own recording proxy, so its
	// exchanges are recorded in order even while other steps run.
	title := "gcloud " + strings.Join(args, " ")
	var endpoint string
	if g.rec != nil {
		g.rec.begin(title)
		defer g.rec.end()
		endpoint = g.rec.ps.URL
	} else {
		proxy, done := g.tape.proxy(t, g.srv, title)
		defer done()
		endpoint = proxy.URL
	}
	cmd := exec.CommandContext(ctx, g.bin, args...)
	cmd.Env = append(append([]string(nil), g.env...), gcpfake.Env(endpoint)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("gcloud %s: %v", strings.Join(args, " "), err)
	}
	return result{code: code, stdout: out.Bytes(), stderr: errb.String()}
}

// ok runs a command that must succeed with --format=json and decodes it.
func (g *gcloudEnv) ok(t *testing.T, args ...string) any {
	t.Helper()
	r := g.run(t, append(args, "--format=json")...)
	if r.code != 0 {
		t.Fatalf("gcloud %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	var v any
	if len(bytes.TrimSpace(r.stdout)) == 0 {
		return nil
	}
	if err := json.Unmarshal(r.stdout, &v); err != nil {
		t.Fatalf("gcloud %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
	return v
}

// fails runs a command that must exit 1 with msg in its error output.
func (g *gcloudEnv) fails(t *testing.T, msg string, args ...string) {
	t.Helper()
	r := g.run(t, args...)
	if r.code != 1 || !strings.Contains(r.stderr, msg) {
		t.Fatalf("gcloud %s: want exit 1 with %q, got exit %d:\n%s", strings.Join(args, " "), msg, r.code, r.stderr)
	}
}

// field walks a decoded JSON value: "a.b.0.c".
func field(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func want(t *testing.T, v any, path string, expect any) {
	t.Helper()
	got := field(v, path)
	if fmt.Sprint(got) != fmt.Sprint(expect) {
		t.Errorf("%s = %v, want %v", path, got, expect)
	}
}

// parallel runs the steps of one phase concurrently: gcloud spends most of
// its 1-2 s in interpreter start-up, so independent commands overlap well.
func parallel(t *testing.T, steps map[string]func(t *testing.T)) {
	t.Helper()
	t.Run("phase", func(t *testing.T) {
		names := make([]string, 0, len(steps))
		for n := range steps {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			f := steps[n]
			t.Run(n, func(t *testing.T) {
				t.Parallel()
				f(t)
			})
		}
	})
	if t.Failed() {
		t.FailNow()
	}
}

func TestGcloudFidelity(t *testing.T) {
	srv := gcpfake.Start(t)
	g := newGcloud(t, srv)

	parallel(t, map[string]func(t *testing.T){
		"compute networks create mesh": func(t *testing.T) {
			v := g.ok(t, "compute", "networks", "create", "mesh", "--subnet-mode=custom", "--bgp-routing-mode=global")
			want(t, v, "0.name", "mesh")
			want(t, v, "0.autoCreateSubnetworks", false)
			want(t, v, "0.routingConfig.routingMode", "GLOBAL")
		},
		"services enable container": func(t *testing.T) {
			if r := g.run(t, "services", "enable", "container.googleapis.com", "gkehub.googleapis.com"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
		},
		"compute shared-vpc enable": func(t *testing.T) {
			if r := g.run(t, "compute", "shared-vpc", "enable", "demo"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
		},
		"projects describe": func(t *testing.T) {
			v := g.ok(t, "projects", "describe", "demo")
			want(t, v, "projectId", "demo")
			want(t, v, "lifecycleState", "ACTIVE")
			if n, _ := field(v, "projectNumber").(string); len(n) != 12 {
				t.Errorf("projectNumber = %q, want 12 digits", n)
			}
		},
		"iam service-accounts create": func(t *testing.T) {
			v := g.ok(t, "iam", "service-accounts", "create", "mesh-reader", "--display-name=Mesh reader")
			want(t, v, "email", "mesh-reader@demo.iam.gserviceaccount.com")
			want(t, v, "displayName", "Mesh reader")
		},
		"firewall-rules describe missing": func(t *testing.T) {
			g.fails(t, "The resource 'projects/demo/global/firewalls/missing-fw' was not found", "compute", "firewall-rules", "describe", "missing-fw")
		},
		"fleet mesh enable": func(t *testing.T) {
			if r := g.run(t, "container", "fleet", "mesh", "enable"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
		},
		"fleet memberships list empty": func(t *testing.T) {
			if v := g.ok(t, "container", "fleet", "memberships", "list"); v != nil && len(v.([]any)) != 0 {
				t.Errorf("memberships = %v, want none", v)
			}
		},
	})

	parallel(t, map[string]func(t *testing.T){
		"subnets create with secondary ranges": func(t *testing.T) {
			v := g.ok(t, "compute", "networks", "subnets", "create", "mesh-usw2", "--network=mesh", "--region=us-west2",
				"--range=10.0.0.0/20", "--secondary-range=pods=10.4.0.0/14,services=10.8.0.0/20", "--enable-private-ip-google-access")
			want(t, v, "0.ipCidrRange", "10.0.0.0/20")
			want(t, v, "0.privateIpGoogleAccess", true)
			want(t, v, "0.secondaryIpRanges.0.rangeName", "pods")
			want(t, v, "0.secondaryIpRanges.1.ipCidrRange", "10.8.0.0/20")
			want(t, v, "0.gatewayAddress", "10.0.0.1")
			want(t, v, "0.network", "https://www.googleapis.com/compute/v1/projects/demo/global/networks/mesh")
		},
		"subnets create overlapping range fails": func(t *testing.T) {
			g.fails(t, "conflicts with existing subnetwork 'default' in region 'us-central1'", "compute", "networks", "subnets", "create", "overlap", "--network=default",
				"--region=us-central1", "--range=10.128.0.0/24")
		},
		"firewall-rules create": func(t *testing.T) {
			v := g.ok(t, "compute", "firewall-rules", "create", "asm-webhook", "--network=mesh", "--allow=tcp:15017,tcp:443",
				"--source-ranges=172.16.0.0/28", "--target-tags=asm-node")
			want(t, v, "0.priority", 1000)
			want(t, v, "0.direction", "INGRESS")
			want(t, v, "0.allowed.0.ports.0", "15017")
			want(t, v, "0.disabled", false)
		},
		"firewall-rules create on missing network fails": func(t *testing.T) {
			g.fails(t, "The resource 'projects/demo/global/networks/nosuchnet' was not found", "compute", "firewall-rules", "create", "bad", "--network=nosuchnet", "--allow=tcp")
		},
		"routers create": func(t *testing.T) {
			v := g.ok(t, "compute", "routers", "create", "mesh-usw2", "--network=mesh", "--region=us-west2")
			want(t, v, "0.name", "mesh-usw2")
			want(t, v, "0.network", "https://www.googleapis.com/compute/v1/projects/demo/global/networks/mesh")
		},
		"shared-vpc associate service project": func(t *testing.T) {
			if r := g.run(t, "compute", "shared-vpc", "associated-projects", "add", "svc-project", "--host-project=demo"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
		},
	})

	parallel(t, map[string]func(t *testing.T){
		"firewall-rules create duplicate fails": func(t *testing.T) {
			g.fails(t, "The resource 'projects/demo/global/firewalls/asm-webhook' already exists", "compute", "firewall-rules", "create", "asm-webhook", "--network=mesh", "--allow=tcp")
		},
		"compute networks list": func(t *testing.T) {
			v := g.ok(t, "compute", "networks", "list")
			want(t, v, "0.name", "default")
			want(t, v, "0.autoCreateSubnetworks", true)
			want(t, v, "0.routingConfig.routingMode", "REGIONAL")
		},
		"firewall-rules list": func(t *testing.T) {
			v := g.ok(t, "compute", "firewall-rules", "list", "--filter=network~mesh")
			want(t, v, "0.name", "asm-webhook")
			want(t, v, "0.sourceRanges.0", "172.16.0.0/28")
		},
		"routers nats create and describe": func(t *testing.T) {
			if r := g.run(t, "compute", "routers", "nats", "create", "mesh-nat", "--router=mesh-usw2", "--region=us-west2",
				"--auto-allocate-nat-external-ips", "--nat-all-subnet-ip-ranges"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			v := g.ok(t, "compute", "routers", "nats", "describe", "mesh-nat", "--router=mesh-usw2", "--region=us-west2")
			want(t, v, "natIpAllocateOption", "AUTO_ONLY")
			want(t, v, "sourceSubnetworkIpRangesToNat", "ALL_SUBNETWORKS_ALL_IP_RANGES")
		},
		"shared-vpc list associated projects": func(t *testing.T) {
			v := g.ok(t, "compute", "shared-vpc", "associated-projects", "list", "demo")
			want(t, v, "0.id", "svc-project")
			want(t, v, "0.type", "PROJECT")
		},
		"services list enabled": func(t *testing.T) {
			v := g.ok(t, "services", "list", "--enabled")
			var names []string
			for _, s := range v.([]any) {
				names = append(names, fmt.Sprint(field(s, "config.name")))
			}
			if !strings.Contains(strings.Join(names, ","), "container.googleapis.com") {
				t.Errorf("enabled services %v lack container.googleapis.com", names)
			}
		},
		"clusters create private": func(t *testing.T) {
			v := g.ok(t, "container", "clusters", "create", "c1", "--location=us-west2", "--network=mesh", "--subnetwork=mesh-usw2",
				"--enable-ip-alias", "--cluster-secondary-range-name=pods", "--services-secondary-range-name=services",
				"--enable-private-nodes", "--master-ipv4-cidr=172.16.0.0/28", "--enable-master-global-access",
				"--enable-master-authorized-networks", "--master-authorized-networks=10.0.0.0/8",
				"--workload-pool=demo.svc.id.goog", "--labels=mesh_id=proj-1", "--num-nodes=1")
			want(t, v, "0.status", "RUNNING")
			want(t, v, "0.privateClusterConfig.enablePrivateNodes", true)
			want(t, v, "0.privateClusterConfig.privateEndpoint", "172.16.0.2")
			want(t, v, "0.privateClusterConfig.masterGlobalAccessConfig.enabled", true)
			want(t, v, "0.masterAuthorizedNetworksConfig.cidrBlocks.0.cidrBlock", "10.0.0.0/8")
			want(t, v, "0.workloadIdentityConfig.workloadPool", "demo.svc.id.goog")
			want(t, v, "0.resourceLabels.mesh_id", "proj-1")
			want(t, v, "0.clusterIpv4Cidr", "10.4.0.0/14")
			want(t, v, "0.currentNodeCount", 3)
			want(t, v, "0.nodePools.0.name", "default-pool")
		},
		"clusters create bad master cidr fails": func(t *testing.T) {
			g.fails(t, "must be a /28", "container", "clusters", "create", "bad", "--location=us-west2", "--network=mesh", "--subnetwork=mesh-usw2",
				"--enable-ip-alias", "--enable-private-nodes", "--master-ipv4-cidr=172.16.1.0/24")
		},
		"clusters create wrong region subnet fails": func(t *testing.T) {
			g.fails(t, "does not exist", "container", "clusters", "create", "bad2", "--location=us-east1", "--network=mesh", "--subnetwork=mesh-usw2", "--enable-ip-alias")
		},
	})

	parallel(t, map[string]func(t *testing.T){
		"firewall-rules update": func(t *testing.T) {
			if r := g.run(t, "compute", "firewall-rules", "update", "asm-webhook", "--priority=900", "--source-ranges=172.16.0.0/28,172.16.0.16/28"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			v := g.ok(t, "compute", "firewall-rules", "describe", "asm-webhook")
			want(t, v, "priority", 900)
			want(t, v, "sourceRanges.1", "172.16.0.16/28")
			want(t, v, "allowed.0.ports.0", "15017")
		},
		"clusters describe": func(t *testing.T) {
			v := g.ok(t, "container", "clusters", "describe", "c1", "--location=us-west2")
			want(t, v, "name", "c1")
			want(t, v, "network", "mesh")
			want(t, v, "subnetwork", "mesh-usw2")
			if ca, _ := field(v, "masterAuth.clusterCaCertificate").(string); ca == "" {
				t.Error("masterAuth.clusterCaCertificate is empty")
			}
		},
		"clusters list": func(t *testing.T) {
			v := g.ok(t, "container", "clusters", "list")
			want(t, v, "0.name", "c1")
			want(t, v, "0.location", "us-west2")
		},
		"clusters describe missing fails": func(t *testing.T) {
			g.fails(t, "code=404", "container", "clusters", "describe", "nope", "--location=us-west2")
		},
		"fleet memberships register": func(t *testing.T) {
			// Registered without Workload Identity, then again with it: the second register
			// finds the membership and turns fleet Workload Identity on by updating its
			// authority.
			g := g.sameEndpoint(t)
			if r := g.run(t, "container", "fleet", "memberships", "register", "c1", "--gke-cluster=us-west2/c1"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			v := g.ok(t, "container", "fleet", "memberships", "describe", "c1", "--location=us-west2")
			want(t, v, "authority", nil)
			if r := g.run(t, "container", "fleet", "memberships", "register", "c1", "--gke-cluster=us-west2/c1", "--enable-workload-identity"); r.code != 0 ||
				!strings.Contains(r.stderr, "Enabled Workload Identity") {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			v = g.ok(t, "container", "fleet", "memberships", "describe", "c1", "--location=us-west2")
			if iss, _ := field(v, "authority.issuer").(string); !regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+/v1/projects/demo/locations/us-west2/clusters/c1$`).MatchString(iss) {
				t.Errorf("authority.issuer = %q, want the cluster's container API URL", iss)
			}
			want(t, v, "authority.workloadIdentityPool", "demo.svc.id.goog")
			want(t, v, "authority.identityProvider", "https://gkehub.googleapis.com/projects/demo/locations/us-west2/memberships/c1")
			v = g.ok(t, "container", "fleet", "memberships", "list")
			want(t, v, "0.name", "projects/demo/locations/us-west2/memberships/c1")
			want(t, v, "0.authority.workloadIdentityPool", "demo.svc.id.goog")
		},
	})

	parallel(t, map[string]func(t *testing.T){
		"clusters update authorized networks": func(t *testing.T) {
			if r := g.run(t, "container", "clusters", "update", "c1", "--location=us-west2", "--enable-master-authorized-networks",
				"--master-authorized-networks=10.0.0.0/8,10.4.0.0/14"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
		},
		"fleet mesh update automatic and describe": func(t *testing.T) {
			if r := g.run(t, "container", "fleet", "mesh", "update", "--management=automatic", "--memberships=c1", "--location=us-west2"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			v := g.ok(t, "container", "fleet", "mesh", "describe")
			want(t, v, "name", "projects/demo/locations/global/features/servicemesh")
			want(t, v, "resourceState.state", "ACTIVE")
			var key string
			for k := range field(v, "membershipStates").(map[string]any) {
				key = k
			}
			if !regexp.MustCompile(`^projects/[0-9]{12}/locations/us-west2/memberships/c1$`).MatchString(key) {
				t.Fatalf("membershipStates key %q, want the membership by project number", key)
			}
			st := field(v, "membershipStates").(map[string]any)[key]
			want(t, st, "servicemesh.controlPlaneManagement.state", "ACTIVE")
			want(t, st, "servicemesh.dataPlaneManagement.state", "ACTIVE")
			want(t, st, "servicemesh.conditions.0.code", "VPCSC_GA_SUPPORTED")
			want(t, field(v, "membershipSpecs").(map[string]any)[key], "mesh.management", "MANAGEMENT_AUTOMATIC")
		},
	})

	// Node pools change the cluster that other phases read, so they get a
	// phase of their own and the full-body golden stays stable.
	parallel(t, map[string]func(t *testing.T){
		"node-pools create and update workload metadata": func(t *testing.T) {
			v := g.ok(t, "container", "node-pools", "create", "mesh-pool", "--cluster=c1", "--location=us-west2", "--num-nodes=1",
				"--machine-type=e2-standard-4", "--enable-autoscaling", "--min-nodes=1", "--max-nodes=3")
			want(t, v, "0.name", "mesh-pool")
			want(t, v, "0.config.machineType", "e2-standard-4")
			want(t, v, "0.autoscaling.enabled", true)
			want(t, v, "0.autoscaling.maxNodeCount", 3)
			want(t, v, "0.config.workloadMetadataConfig.mode", "GKE_METADATA")
			if r := g.run(t, "container", "node-pools", "update", "mesh-pool", "--cluster=c1", "--location=us-west2", "--workload-metadata=GCE_METADATA"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			v = g.ok(t, "container", "node-pools", "describe", "mesh-pool", "--cluster=c1", "--location=us-west2")
			want(t, v, "config.workloadMetadataConfig.mode", "GCE_METADATA")
			if r := g.run(t, "container", "node-pools", "update", "mesh-pool", "--cluster=c1", "--location=us-west2", "--workload-metadata=GKE_METADATA"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			v = g.ok(t, "container", "node-pools", "describe", "mesh-pool", "--cluster=c1", "--location=us-west2")
			want(t, v, "config.workloadMetadataConfig.mode", "GKE_METADATA")
		},
	})

	parallel(t, map[string]func(t *testing.T){
		"clusters describe after update": func(t *testing.T) {
			v := g.ok(t, "container", "clusters", "describe", "c1", "--location=us-west2")
			want(t, v, "masterAuthorizedNetworksConfig.cidrBlocks.1.cidrBlock", "10.4.0.0/14")
		},
		"node-pools list": func(t *testing.T) {
			v := g.ok(t, "container", "node-pools", "list", "--cluster=c1", "--location=us-west2")
			want(t, v, "0.name", "default-pool")
			want(t, v, "1.name", "mesh-pool")
			want(t, v, "1.status", "RUNNING")
		},
		"firewall-rules delete": func(t *testing.T) {
			if r := g.run(t, "compute", "firewall-rules", "delete", "asm-webhook"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			g.fails(t, "was not found", "compute", "firewall-rules", "describe", "asm-webhook")
		},
	})

	parallel(t, map[string]func(t *testing.T){
		"node-pools delete": func(t *testing.T) {
			if r := g.run(t, "container", "node-pools", "delete", "mesh-pool", "--cluster=c1", "--location=us-west2"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
		},
	})
	parallel(t, map[string]func(t *testing.T){
		"clusters delete": func(t *testing.T) {
			if r := g.run(t, "container", "clusters", "delete", "c1", "--location=us-west2"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if v := g.ok(t, "container", "clusters", "list"); v != nil && len(v.([]any)) != 0 {
				t.Errorf("clusters after delete = %v", v)
			}
		},
	})

	testutil.Golden(t, "testdata/gcloud_http.golden", normalizedLog(srv))
	g.tape.checkGoldens(t, "testdata/gcloud")
}

var volatile = []*regexp.Regexp{
	regexp.MustCompile(`operation-[0-9]+-[0-9a-f]+`),
	regexp.MustCompile(`acf\.p2-[0-9]+-[0-9]+-[0-9a-f]+`),
}

// normalizedLog is the set of distinct REST calls gcloud made, with
// operation names replaced: the order of parallel steps varies, the set
// of calls does not.
func normalizedLog(srv *gcpfake.Server) string {
	seen := map[string]bool{}
	var lines []string
	for _, e := range srv.RequestLog() {
		l := fmt.Sprintf("%s %s -> %s %s", e.HTTP, e.Path, e.Method, e.Code)
		for _, re := range volatile {
			l = re.ReplaceAllString(l, "OPERATION")
		}
		if !seen[l] {
			seen[l] = true
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// gcloud sees the cluster the way GKE shows it while its control plane
// starts: `clusters create --async` returns the running operation without
// waiting, `clusters describe` reports PROVISIONING until the operation is
// done and RUNNING, with the endpoint, afterwards.
func TestGcloudAsyncCreate(t *testing.T) {
	b := newFakeBackend()
	defer b.Close()
	// The control plane does not start until the test lets it: a create
	// that waited for it would never return.
	b.hold = make(chan struct{})
	srv := gcpfake.Start(t, gcpfake.WithClusterBackend(b))
	g := newGcloud(t, srv)

	parallel(t, map[string]func(t *testing.T){
		"clusters create async": func(t *testing.T) {
			// gcloud prints the cluster it reads back after the create call.
			v := g.ok(t, "container", "clusters", "create", "c1", "--location=us-west2", "--num-nodes=1", "--async")
			want(t, v, "name", "c1")
			want(t, v, "status", "PROVISIONING")
		},
	})
	b.waitStarted(t, 1)

	var opName string
	parallel(t, map[string]func(t *testing.T){
		"clusters describe while provisioning": func(t *testing.T) {
			v := g.ok(t, "container", "clusters", "describe", "c1", "--location=us-west2")
			want(t, v, "status", "PROVISIONING")
			want(t, v, "nodePools.0.status", "PROVISIONING")
		},
		"operations list while provisioning": func(t *testing.T) {
			v := g.ok(t, "container", "operations", "list", "--location=us-west2")
			want(t, v, "0.operationType", "CREATE_CLUSTER")
			want(t, v, "0.status", "RUNNING")
			opName = fmt.Sprint(field(v, "0.name"))
		},
	})

	close(b.hold)
	waitOp(t, gkeClient(t, srv), opName)

	parallel(t, map[string]func(t *testing.T){
		"clusters describe when running": func(t *testing.T) {
			v := g.ok(t, "container", "clusters", "describe", "c1", "--location=us-west2")
			want(t, v, "status", "RUNNING")
			want(t, v, "nodePools.0.status", "RUNNING")
			if ep, _ := field(v, "endpoint").(string); !strings.HasPrefix(ep, "127.0.0.1:") {
				t.Errorf("endpoint %q, want the local control plane", ep)
			}
		},
	})

	g.tape.checkGoldens(t, "testdata/gcloud-async")
}

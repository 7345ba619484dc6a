package verify

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/pemcert"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
	"github.com/asmfed/kubectl-asmfed/pkg/vpcfw"
)

// Status is how one check ended for one subject.
type Status string

// Statuses, from best to worst; Skipped means the check's requirements were not met.
const (
	OK      Status = "ok"
	Warn    Status = "warning"
	Fail    Status = "failed"
	Skipped Status = "skipped"
)

// Finding is one finding of a check.
type Finding struct {
	Check   string `json:"check"`
	Name    string `json:"name"`
	Subject string `json:"subject,omitempty"`
	Status  Status `json:"status"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// MeshState is the managed control plane's state on one cluster, as the fleet reports it.
type MeshState struct {
	ControlPlane, DataPlane string
	Conditions              []string
}

// Env is what checks look at: the federation, how to reach each cluster, and what the plan of
// both layers found.
type Env struct {
	Federation *v1alpha1.Federation
	Derived    *federation.Desired
	// BaseDir resolves the file's relative paths (the plug-in CA root).
	BaseDir string
	// Clusters are the clusters that exist and can be reached.
	Clusters map[string]*rest.Config
	// NotReady are clusters that do not exist or are not running, or cannot be reached.
	NotReady []string
	// NotReachable explains, by cluster, why one of NotReady that exists cannot be reached.
	NotReachable map[string]NotReachable
	// Pending is the plan of both layers: what apply would still change.
	Pending *plan.Plan
	// MeshStates are the managed control plane's states by cluster (managed mode only).
	MeshStates map[string]MeshState
	// Firewall is every live firewall rule of the federation's network; nil when not read.
	Firewall []vpcfw.Rule
	// GKE are the federation's clusters as GKE reports them, by name; nil when not read. A
	// cluster that does not exist is absent.
	GKE map[string]*containerpb.Cluster
	// EnabledServices are the APIs enabled in each project the federation touches; nil when not
	// read.
	EnabledServices map[string][]string
	// Bastion is the file's bastion VM as Compute Engine reports it; nil when not read.
	Bastion *BastionVM
	// CloudSQL is the Cloud SQL add-on's live state; nil when not read (or the file has no
	// add-on).
	CloudSQL *CloudSQLLive
	// Istiods reaches the replicas of a cluster's istiod, for the checks that ask istiod what a
	// sidecar receives; nil when istiod cannot be reached from here (PortForwardedIstiods on
	// GKE). It is called from checks running in parallel.
	Istiods func(ctx context.Context, cluster string) ([]Istiod, error)
	// Traffic deploys the traffic probes the ASMFED-TRAFFIC checks send requests with; nil
	// turns them off (--skip-traffic).
	Traffic *TrafficProbe
	// MaxTokenAge turns a remote secret whose reader token was issued longer ago into a warning
	// (ASMFED-ACCESS-001): the tokens never expire. Zero: no limit.
	MaxTokenAge time.Duration
	// ProbeTimeout bounds how long ASMFED-MESH-003 waits for an istiod to send the probe's
	// endpoints in every cluster. Default 30 s.
	ProbeTimeout time.Duration
	// Parallelism bounds how many checks, and how many clusters within a check, are worked on
	// at once. Default 8.
	Parallelism int
}

// NotReachable is why a cluster that exists cannot be reached, and what would fix it.
type NotReachable struct {
	Message, Hint string
}

// Checks are every check, in the order they are reported: prerequisites first.
func Checks() []Check {
	return []Check{
		{ID: "ASMFED-PRE-001", Name: "clusters exist and run", Run: clustersExist},
		{ID: "ASMFED-PRE-002", Name: "live state matches the file", Requires: []Requirement{needPlan}, Run: converged},
		{ID: "ASMFED-ACCESS-001", Name: "remote secrets reach their peers", Requires: []Requirement{needModel, needInCluster}, Run: remoteAccess},
		{ID: "ASMFED-ACCESS-002", Name: "asm-options connects every cluster", Requires: []Requirement{needManaged}, Run: multiClusterConnected},
		{ID: "ASMFED-NET-001", Name: "the VPC firewall carries the mesh's flows", Requires: []Requirement{needModel, needFirewall}, Run: firewallFlows},
		{ID: "ASMFED-NET-002", Name: "peers' pods are in the master authorized networks", Requires: []Requirement{needModel, needInCluster, needGKE}, Run: peersAuthorized},
		{ID: "ASMFED-NET-003", Name: "remote secrets use the private endpoint", Requires: []Requirement{needModel, needInCluster, needGKE}, Run: privateEndpointUsed},
		{ID: "ASMFED-NET-004", Name: "global access where regions differ", Requires: []Requirement{needModel, needInCluster, needGKE}, Run: globalAccess},
		{ID: "ASMFED-NET-005", Name: "admin networks reach the API servers", Requires: []Requirement{needModel, needGKE}, Run: adminAuthorized},
		{ID: "ASMFED-NET-006", Name: "NetworkPolicies let the mesh's pods through", Requires: []Requirement{needModel}, Run: policyFlows},
		{ID: "ASMFED-NET-007", Name: "the bastion reaches the clusters", Requires: []Requirement{needModel, needBastion}, Run: bastionReach},
		{ID: "ASMFED-GKE-001", Name: "private nodes", Requires: []Requirement{needModel, needGKE}, Run: privateNodes},
		{ID: "ASMFED-GKE-002", Name: "Workload Identity", Requires: []Requirement{needModel, needGKE}, Run: workloadIdentity},
		{ID: "ASMFED-GKE-003", Name: "the mesh_id label", Requires: []Requirement{needModel, needGKE}, Run: meshIDLabel},
		{ID: "ASMFED-GKE-004", Name: "node pools on COS_CONTAINERD", Requires: []Requirement{needModel, needGKE}, Run: containerdNodes},
		{ID: "ASMFED-GKE-005", Name: "network policy enforcement", Requires: []Requirement{needModel, needGKE}, Run: policyEnforcement},
		{ID: "ASMFED-GKE-006", Name: "shielded nodes", Requires: []Requirement{needModel, needGKE}, Run: shieldedNodes},
		{ID: "ASMFED-GKE-007", Name: "required APIs enabled", Requires: []Requirement{needModel, needServices}, Run: requiredAPIs},
		{ID: "ASMFED-TRUST-001", Name: "clusters share one root of trust", Requires: []Requirement{needCluster}, Run: sharedTrust},
		{ID: "ASMFED-MESH-001", Name: "managed control plane is active", Requires: []Requirement{needManaged}, Run: managedMesh},
		{ID: "ASMFED-MESH-002", Name: "every istiod has every peer synced", Requires: []Requirement{needModel, needIstiod}, Run: peersSynced},
		{ID: "ASMFED-MESH-003", Name: "sidecars receive endpoints from every cluster", Requires: []Requirement{needModel, needIstiod}, Run: crossClusterEndpoints},
		{ID: "ASMFED-MESH-004", Name: "sidecars accept mutual TLS only", Requires: []Requirement{needModel, needIstiod}, Run: strictMTLS},
		{ID: "ASMFED-EGRESS-001", Name: "sidecars get REGISTRY_ONLY egress", Requires: []Requirement{needModel, needIstiod}, Run: registryOnly},
		{ID: "ASMFED-TRAFFIC-001", Name: "requests reach every cluster", Requires: []Requirement{needModel, needCluster, needTraffic}, Run: trafficBalance},
		{ID: "ASMFED-TRAFFIC-002", Name: "the sidecar refuses hosts outside the allow-list", Requires: []Requirement{needModel, needCluster, needTraffic}, Run: egressRefused},
		{ID: "ASMFED-TRAFFIC-003", Name: "allow-listed hosts are reachable", Requires: []Requirement{needModel, needCluster, needTraffic}, Run: allowListedReachable},
		{ID: "ASMFED-TRAFFIC-004", Name: "the ingress gateway presents its certificate for every host", Requires: []Requirement{needModel, needCluster, needTraffic}, Run: ingressCertificates},
		{ID: "ASMFED-ADDON-001", Name: "a Prisma Cloud Defender runs on every schedulable node", Requires: []Requirement{needModel, needPrisma, needCluster}, Run: defendersRunning},
		{ID: "ASMFED-ADDON-002", Name: "the Prisma Cloud Console address is allowed", Requires: []Requirement{needModel, needPrisma, needCluster}, Run: consoleAllowed},
		{ID: "ASMFED-ADDON-010", Name: "the Cloud SQL Auth Proxy's identity is granted", Requires: []Requirement{needModel, needCloudSQL}, Run: cloudSQLIdentity},
		{ID: "ASMFED-ADDON-011", Name: "the Cloud SQL instance is reachable", Requires: []Requirement{needModel, needCloudSQL}, Run: cloudSQLReachable},
	}
}

var (
	secretsGVR         = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	servicesGVR        = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	endpointSlicesGVR  = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	configMapsGVR      = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	multiClusterSecret = federation.LabelMultiCluster + "=true"
)

func unstructuredBytes(obj map[string]any, key string) ([]byte, bool, error) {
	data, _ := obj["data"].(map[string]any)
	s, ok := data[key].(string)
	if !ok {
		return nil, false, nil
	}
	b, err := decodeBase64(s)
	return b, err == nil, err
}

// canRead lists, with the remote secret's credentials, what istiod watches in a peer.
func canRead(ctx context.Context, cfg *rest.Config) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, gvr := range []schema.GroupVersionResource{servicesGVR, endpointSlicesGVR} {
		if _, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
			return fmt.Errorf("list %s: %w", gvr.Resource, err)
		}
	}
	if _, err := dyn.Resource(configMapsGVR).Namespace(federation.IstioNamespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return fmt.Errorf("list configmaps in istio-system: %w", err)
	}
	return nil
}

func managedMesh(_ context.Context, env *Env) []Finding {
	if env.Federation.Spec.Mesh.ControlPlane != v1alpha1.ControlPlaneManaged {
		return []Finding{{Status: Skipped, Message: "in-cluster control plane"}}
	}
	var out []Finding
	for _, c := range env.Federation.Spec.Clusters {
		st, ok := env.MeshStates[c.Name]
		switch {
		case !ok:
			out = append(out, Finding{Subject: c.Name, Status: Fail, Message: "no servicemesh state: the cluster is not enrolled", Hint: "kubectl asmfed apply enrols it"})
		case st.ControlPlane == "ACTIVE" && st.DataPlane == "ACTIVE":
			out = append(out, Finding{Subject: c.Name, Status: OK, Message: "control plane and data plane ACTIVE"})
		case st.ControlPlane == "PROVISIONING" || st.DataPlane == "PROVISIONING":
			out = append(out, Finding{Subject: c.Name, Status: Warn, Message: fmt.Sprintf("control plane %s, data plane %s", st.ControlPlane, st.DataPlane),
				Hint: "provisioning takes several minutes; verify again later"})
		default:
			msg := fmt.Sprintf("control plane %s, data plane %s", st.ControlPlane, st.DataPlane)
			if len(st.Conditions) > 0 {
				msg += ": " + strings.Join(st.Conditions, "; ")
			}
			out = append(out, Finding{Subject: c.Name, Status: Fail, Message: msg, Hint: "see the conditions' documentation links in gcloud container fleet mesh describe"})
		}
	}
	return out
}

func parseCert(data []byte) (*x509.Certificate, error) {
	certs, err := pemcert.Parse(data)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

func decodeBase64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

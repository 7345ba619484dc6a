package verify

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/pemcert"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
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
}

// NotReachable is why a cluster that exists cannot be reached, and what would fix it.
type NotReachable struct {
	Message, Hint string
}

// Check is one verification: an ID that never changes (it names the check in output, JSON and
// docs), a name, and Run, which returns findings and never prints.
type Check struct {
	ID   string
	Name string
	Run  func(ctx context.Context, env *Env) []Finding
}

// Checks are every check, in the order they run: prerequisites first.
func Checks() []Check {
	return []Check{
		{ID: "ASMFED-PRE-001", Name: "clusters exist and run", Run: clustersExist},
		{ID: "ASMFED-PRE-002", Name: "live state matches the file", Run: converged},
		{ID: "ASMFED-ACCESS-001", Name: "remote secrets reach their peers", Run: remoteAccess},
		{ID: "ASMFED-NET-001", Name: "the VPC firewall carries the mesh's flows", Run: firewallFlows},
		{ID: "ASMFED-TRUST-001", Name: "clusters share one root of trust", Run: sharedTrust},
		{ID: "ASMFED-MESH-001", Name: "managed control plane is active", Run: managedMesh},
	}
}

// Report is the outcome of a verification.
type Report struct {
	Results []Finding `json:"results"`
	Counts  Counts    `json:"counts"`
}

// Counts sums results by status.
type Counts struct {
	OK      int `json:"ok"`
	Warn    int `json:"warnings"`
	Fail    int `json:"failed"`
	Skipped int `json:"skipped"`
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool { return r.Counts.Fail > 0 }

// Run runs every check.
func Run(ctx context.Context, env *Env, checks []Check) *Report {
	r := &Report{Results: []Finding{}}
	for _, c := range checks {
		for _, res := range c.Run(ctx, env) {
			res.Check, res.Name = c.ID, c.Name
			r.Results = append(r.Results, res)
			switch res.Status {
			case OK:
				r.Counts.OK++
			case Warn:
				r.Counts.Warn++
			case Fail:
				r.Counts.Fail++
			case Skipped:
				r.Counts.Skipped++
			}
		}
	}
	return r
}

func clustersExist(_ context.Context, env *Env) []Finding {
	var out []Finding
	notReady := map[string]bool{}
	for _, n := range env.NotReady {
		notReady[n] = true
	}
	for _, c := range env.Federation.Spec.Clusters {
		if why, ok := env.NotReachable[c.Name]; ok {
			out = append(out, Finding{Subject: c.Name, Status: Fail, Message: why.Message, Hint: why.Hint})
			continue
		}
		if notReady[c.Name] {
			out = append(out, Finding{Subject: c.Name, Status: Fail, Message: "the cluster does not exist or is not running",
				Hint: "run kubectl asmfed apply, or wait for GKE to finish creating it"})
			continue
		}
		out = append(out, Finding{Subject: c.Name, Status: OK, Message: "running and reachable"})
	}
	return out
}

func converged(_ context.Context, env *Env) []Finding {
	if env.Pending == nil {
		return []Finding{{Status: Skipped, Message: "no plan was made"}}
	}
	s := env.Pending.Summary
	if !env.Pending.HasChanges() && len(env.Pending.Conflicts) == 0 {
		return []Finding{{Status: OK, Message: "apply has nothing left to do"}}
	}
	return []Finding{{Status: Warn, Message: fmt.Sprintf("apply would still add %d, change %d, replace %d and destroy %d resources; %d conflicts", s.Add, s.Change, s.Replace, s.Destroy, len(env.Pending.Conflicts)),
		Hint: "kubectl asmfed plan shows them; kubectl asmfed apply carries them out"}}
}

var (
	secretsGVR         = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	servicesGVR        = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	endpointSlicesGVR  = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	configMapsGVR      = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	multiClusterSecret = federation.LabelMultiCluster + "=true"
)

// remoteAccess reads every remote secret a cluster holds and uses its kubeconfig, as istiod
// would, to list what istiod needs in the peer.
func remoteAccess(ctx context.Context, env *Env) []Finding {
	if env.Derived == nil {
		return []Finding{{Status: Skipped, Message: "the federation could not be compiled"}}
	}
	var out []Finding
	for _, rs := range env.Derived.RemoteSecrets {
		subject := fmt.Sprintf("%s → %s", rs.Holder, rs.Target)
		cfg, ok := env.Clusters[rs.Holder]
		if !ok {
			out = append(out, Finding{Subject: subject, Status: Skipped, Message: rs.Holder + " cannot be reached"})
			continue
		}
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			out = append(out, Finding{Subject: subject, Status: Fail, Message: err.Error()})
			continue
		}
		sec, err := dyn.Resource(secretsGVR).Namespace(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		if err != nil {
			out = append(out, Finding{Subject: subject, Status: Fail, Message: fmt.Sprintf("secret %s/%s: %v", rs.Namespace, rs.Name, err),
				Hint: "kubectl asmfed apply creates it"})
			continue
		}
		if sec.GetLabels()[federation.LabelMultiCluster] != "true" {
			out = append(out, Finding{Subject: subject, Status: Fail, Message: "the secret lacks the label " + multiClusterSecret + ": istiod ignores it",
				Hint: "kubectl asmfed apply sets it"})
			continue
		}
		data, _, _ := unstructuredBytes(sec.Object, rs.DataKey)
		if data == nil {
			out = append(out, Finding{Subject: subject, Status: Fail, Message: fmt.Sprintf("the secret has no key %q: istiod names the peer by the key", rs.DataKey)})
			continue
		}
		peer, err := remoteRESTConfig(data)
		if err != nil {
			hint := "kubectl asmfed apply rewrites the remote secret with a service-account token and the peer's CA; find out who wrote this one"
			if refused := (*refusedKubeconfig)(nil); !errors.As(err, &refused) {
				hint = "kubectl asmfed apply rewrites the remote secret"
			}
			out = append(out, Finding{Subject: subject, Status: Fail, Message: err.Error(), Hint: hint})
			continue
		}
		if err := canRead(ctx, peer); err != nil {
			out = append(out, Finding{Subject: subject, Status: Fail, Message: fmt.Sprintf("reading %s at %s: %v", rs.Target, peer.Host, err),
				Hint: "check that the server is reachable from the holder's pods (master authorized networks, global access) and that the token is valid (apply --rotate-remote-secrets issues new ones)"})
			continue
		}
		out = append(out, Finding{Subject: subject, Status: OK, Message: fmt.Sprintf("%s lists services, endpoint slices and the mesh ConfigMaps of %s at %s", rs.Holder, rs.Target, peer.Host)})
	}
	return out
}

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

// sharedTrust checks, with the plug-in CA, that every cluster's cacerts carry the file's root and
// an intermediate it signed.
func sharedTrust(ctx context.Context, env *Env) []Finding {
	ca := env.Federation.Spec.Mesh.CA
	if ca.Mode != v1alpha1.CAPlugin {
		return []Finding{{Status: Skipped, Message: "managed CA: Google's CA issues every cluster's workload certificates from one root"}}
	}
	rootPEM, err := v1alpha1.ReadFile(v1alpha1.ResolvePath(env.BaseDir, ca.RootCertFile))
	if err != nil {
		return []Finding{{Status: Fail, Message: "read the root certificate: " + err.Error()}}
	}
	root, err := parseCert(rootPEM)
	if err != nil {
		return []Finding{{Status: Fail, Message: "the root certificate: " + err.Error()}}
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	// The form plans show the root in (rootFingerprint) and openssl x509 -fingerprint -sha256
	// prints, so a user can compare the three.
	want := istio.Fingerprint(root)
	var out []Finding
	names := make([]string, 0, len(env.Clusters))
	for n := range env.Clusters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		dyn, err := dynamic.NewForConfig(env.Clusters[n])
		if err != nil {
			out = append(out, Finding{Subject: n, Status: Fail, Message: err.Error()})
			continue
		}
		sec, err := dyn.Resource(secretsGVR).Namespace(federation.IstioNamespace).Get(ctx, "cacerts", metav1.GetOptions{})
		if err != nil {
			out = append(out, Finding{Subject: n, Status: Fail, Message: "istio-system/cacerts: " + err.Error(), Hint: "kubectl asmfed apply installs it"})
			continue
		}
		rootData, _, _ := unstructuredBytes(sec.Object, "root-cert.pem")
		caData, _, _ := unstructuredBytes(sec.Object, "ca-cert.pem")
		got, err := parseCert(rootData)
		if err != nil || istio.Fingerprint(got) != want {
			out = append(out, Finding{Subject: n, Status: Fail, Message: "root-cert.pem is not the federation's root " + want,
				Hint: "workloads of this cluster would not trust the others'; kubectl asmfed apply replaces cacerts"})
			continue
		}
		inter, err := parseCert(caData)
		if err == nil {
			_, err = inter.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		}
		if err != nil {
			out = append(out, Finding{Subject: n, Status: Fail, Message: "ca-cert.pem does not chain to the root: " + err.Error()})
			continue
		}
		out = append(out, Finding{Subject: n, Status: OK, Message: "intermediate " + inter.Subject.CommonName + " chains to root " + want})
	}
	return out
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

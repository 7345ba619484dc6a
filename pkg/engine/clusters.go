package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
	"github.com/asmfed/kubectl-asmfed/pkg/istio/render"
	"github.com/asmfed/kubectl-asmfed/pkg/kube"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// ClusterOptions say how the cluster side of a federation is reached and planned.
type ClusterOptions struct {
	// Config returns how to reach a cluster's API server, given what GKE says of it. Callers
	// decide between a kubeconfig context and the GKE endpoint with an OAuth token.
	Config func(c v1alpha1.Cluster, access ClusterAccess) (*rest.Config, error)
	// BaseDir resolves the file's relative paths (the plug-in CA root).
	BaseDir string
	// RotateRemoteSecrets issues new reader tokens and rewrites every remote secret.
	RotateRemoteSecrets bool
}

// ClustersNotReadyError says which clusters cannot be planned yet because GKE has not created
// them or they are not running.
type ClustersNotReadyError struct {
	Clusters []string
}

func (e *ClustersNotReadyError) Error() string {
	return fmt.Sprintf("clusters %s do not exist or are not running yet: their Kubernetes objects are planned once they do", strings.Join(e.Clusters, ", "))
}

// PlanClusters plans the cluster side of a federation (namespaces, remote secrets, cacerts) from
// the result of Plan. Every cluster must exist and run, or have a kubeconfig context; otherwise
// it returns a *ClustersNotReadyError.
func (e *Engine) PlanClusters(ctx context.Context, f *v1alpha1.Federation, r *Result, opts ClusterOptions) (*kube.Result, error) {
	var notReady []string
	configs := map[string]*rest.Config{}
	peers := map[string]string{}
	for _, c := range f.Spec.Clusters {
		access, ok := r.Clusters[c.Name]
		if c.KubeconfigContext == "" && (!ok || access.Status != "RUNNING" || access.Endpoint == "") {
			notReady = append(notReady, c.Name)
			continue
		}
		cfg, err := opts.Config(c, access)
		if err != nil {
			return nil, fmt.Errorf("reach cluster %s: %w", c.Name, err)
		}
		configs[c.Name] = cfg
		if c.PeerAPIServer == "" && access.PrivateEndpoint != "" {
			peers[c.Name] = withScheme(access.PrivateEndpoint)
		}
	}
	if len(notReady) > 0 {
		sort.Strings(notReady)
		return nil, &ClustersNotReadyError{Clusters: notReady}
	}
	kopts := kube.Options{PeerServers: peers, RotateRemoteSecrets: opts.RotateRemoteSecrets}
	if f.Spec.Mesh.ControlPlane == v1alpha1.ControlPlaneInCluster {
		// Render each cluster's control plane with Istio's library and install it with the
		// federation's mesh policy.
		rendered, err := e.render(render.Input{Federation: f, Desired: r.Derived, BaseDir: opts.BaseDir})
		if err != nil {
			return nil, err
		}
		kopts.Manifests = map[string][]*unstructured.Unstructured{}
		for _, c := range rendered {
			for _, m := range c.Manifests {
				kopts.Manifests[c.Name] = append(kopts.Manifests[c.Name], m.Object)
			}
		}
		kopts.MeshPolicy = true
		if t := f.Spec.Mesh.Ingress.TLS; t != nil && t.CertFile != "" {
			cred, err := readCredential(opts.BaseDir, t)
			if err != nil {
				return nil, err
			}
			kopts.IngressCredential = cred
		}
	}
	if ca := f.Spec.Mesh.CA; ca.Mode == v1alpha1.CAPlugin {
		root, err := istio.LoadRootFiles(v1alpha1.ResolvePath(opts.BaseDir, ca.RootCertFile), v1alpha1.ResolvePath(opts.BaseDir, ca.RootKeyFile))
		if err != nil {
			return nil, err
		}
		kopts.CARoot = root
	}
	return kube.Plan(ctx, configs, r.Derived, f, kopts)
}

// ApplyClusters carries out a cluster-side plan.
func (e *Engine) ApplyClusters(ctx context.Context, r *kube.Result, opts ApplyOptions) (*plan.Report, error) {
	return kube.Apply(ctx, r, kube.ApplyOptions{Parallelism: opts.Parallelism, AllowDestroy: opts.AllowDestroy, OnEvent: opts.OnEvent,
		WaitWorkloads: opts.WaitWorkloads, ReadyTimeout: opts.ReadyTimeout})
}

// readCredential reads the ingress gateway's certificate files named in the file.
func readCredential(baseDir string, t *v1alpha1.IngressTLS) (*kube.IngressCredential, error) {
	var cred kube.IngressCredential
	var err error
	if cred.CertPEM, err = os.ReadFile(v1alpha1.ResolvePath(baseDir, t.CertFile)); err != nil {
		return nil, fmt.Errorf("read ingress certificate: %w", err)
	}
	if cred.KeyPEM, err = os.ReadFile(v1alpha1.ResolvePath(baseDir, t.KeyFile)); err != nil {
		return nil, fmt.Errorf("read ingress key: %w", err)
	}
	if t.CACertFile != "" {
		if cred.CAPEM, err = os.ReadFile(v1alpha1.ResolvePath(baseDir, t.CACertFile)); err != nil {
			return nil, fmt.Errorf("read ingress client CA: %w", err)
		}
	}
	return &cred, nil
}

// withScheme turns GKE's host or host:port into an https URL.
func withScheme(hostport string) string {
	if strings.Contains(hostport, "://") {
		return hostport
	}
	return "https://" + hostport
}

// FullPlan is the plan of both layers: Google Cloud, and the clusters when they all exist.
type FullPlan struct {
	GCP  *Result
	Kube *kube.Result
	// Deferred says why the cluster side is not planned yet (a *ClustersNotReadyError).
	Deferred error
	// Plan merges both layers, for rendering and saved-plan fingerprints.
	Plan *plan.Plan
}

// PlanAll plans the Google Cloud layer and, when every cluster exists and runs, the cluster side;
// otherwise the cluster side is deferred, with a warning in the plan.
func (e *Engine) PlanAll(ctx context.Context, f *v1alpha1.Federation, opts ClusterOptions) (*FullPlan, error) {
	res, err := e.Plan(ctx, f)
	if err != nil {
		return nil, err
	}
	fp := &FullPlan{GCP: res}
	kres, err := e.PlanClusters(ctx, f, res, opts)
	var notReady *ClustersNotReadyError
	switch {
	case errors.As(err, &notReady):
		fp.Deferred = err
	case err != nil:
		return nil, err
	default:
		fp.Kube = kres
	}
	var kplan *plan.Plan
	if fp.Kube != nil {
		kplan = fp.Kube.Plan
	}
	fp.Plan = plan.Merge(f.Metadata.Name, res.Plan, kplan)
	if fp.Deferred != nil {
		fp.Plan.Warnings = append(fp.Plan.Warnings, fp.Deferred.Error())
	}
	return fp, nil
}

// render renders the control plane, or returns the previous render when its input is the same.
// Overlay files are read as part of the input, so an edited overlay renders again.
func (e *Engine) render(in render.Input) ([]render.Cluster, error) {
	key, err := renderKey(in)
	if err != nil {
		return nil, err
	}
	e.renderMu.Lock()
	defer e.renderMu.Unlock()
	if key == e.renderKey {
		return e.rendered, nil
	}
	out, err := (&render.Renderer{}).Render(in)
	if err != nil {
		return nil, err
	}
	e.renderKey, e.rendered = key, out
	return out, nil
}

func renderKey(in render.Input) (string, error) {
	h := sha256.New()
	enc := json.NewEncoder(h)
	if err := enc.Encode(in.Federation); err != nil {
		return "", err
	}
	if err := enc.Encode(in.Desired); err != nil {
		return "", err
	}
	for _, o := range in.Federation.Spec.Mesh.Overlays {
		if o.File == "" {
			continue
		}
		data, err := os.ReadFile(v1alpha1.ResolvePath(in.BaseDir, o.File))
		if err != nil {
			return "", fmt.Errorf("read overlay %s: %w", o.File, err)
		}
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

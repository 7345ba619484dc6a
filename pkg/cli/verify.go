package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/graph"
	"github.com/asmfed/kubectl-asmfed/pkg/verify"
)

type verifyOptions struct {
	*globalOptions
	cloud    cloudFlags
	filename string
	output   outputFormat
	graph    bool
	format   outputFormat
	junit    string
	only     []string
	skip     []string
	// skipTraffic, probeImage and keep govern the traffic probes (ASMFED-TRAFFIC-*).
	skipTraffic bool
	probeImage  string
	keep        bool
	// maxTokenAge warns of reader tokens issued longer ago (ASMFED-ACCESS-001).
	maxTokenAge time.Duration

	source *fileSource
	fed    *v1alpha1.Federation
	checks []verify.Check
}

func newVerifyCommand(g *globalOptions) *cobra.Command {
	o := &verifyOptions{globalOptions: g, output: newOutputFormat("text", "json"), format: newOutputFormat("mermaid", "dot")}
	cmd := &cobra.Command{
		Use:   "verify -f FILE",
		Short: "Prove the federation works: clusters, live state, remote access, shared trust, and what istiod sends sidecars",
		Long: `Verify runs checks against the live federation and prints one line per finding:
√ passed, ‼ warning, × failed (with a hint), - skipped because its requirements are not met.
Each check is explained, with its remedy, in docs/verify.md under its ID.

Checks (their IDs are stable; --only and --skip take IDs or globs such as 'ASMFED-GKE-*'):
  ASMFED-PRE-001     every cluster exists, runs and can be reached
  ASMFED-PRE-002     apply has nothing left to do
  ASMFED-ACCESS-001  every remote secret is labelled, keyed by its peer's name, carries a token (not an
                     exec credential) and, used as istiod uses it, lists the peer's services, endpoint
                     slices and mesh ConfigMaps (in-cluster control plane); says when its token was
                     issued, a warning past --max-token-age
  ASMFED-ACCESS-002  managed control plane: every cluster's asm-options sets multicluster_mode: connected
  ASMFED-NET-001     every flow the mesh needs (control plane → nodes on the webhook ports, pods → peer
                     pods, admin networks → nodes) is allowed by the network's live firewall rules
  ASMFED-NET-002     every peer's pod range is in each cluster's master authorized networks (in-cluster)
  ASMFED-NET-003     every remote secret points at its peer's private endpoint (or peerAPIServer)
  ASMFED-NET-004     clusters with peers in other regions have master global access on (in-cluster)
  ASMFED-NET-005     the admin networks are in every cluster's master authorized networks
  ASMFED-NET-006     the live NetworkPolicies of every application namespace let its pods reach istiod
                     (or the managed control plane), DNS, the peers' pods, the metadata server and the allow-listed ports
  ASMFED-NET-007     the bastion runs, Identity-Aware Proxy reaches its SSH port through the live firewall,
                     and its address is in every cluster's master authorized networks (global access
                     across regions)
  ASMFED-GKE-001     private nodes
  ASMFED-GKE-002     Workload Identity: the workload pool, and the GKE metadata server on every node pool
  ASMFED-GKE-003     the mesh_id label
  ASMFED-GKE-004     node pools on COS_CONTAINERD
  ASMFED-GKE-005     network policy enforcement
  ASMFED-GKE-006     shielded nodes
  ASMFED-GKE-007     the APIs the federation needs are enabled
  ASMFED-TRUST-001   the root the control plane publishes in every namespace (istio-ca-root-cert) is the
                     same in every cluster and, with the plug-in CA, the file's root, whose intermediate
                     each cluster's cacerts hold (a warning while no control plane has published one)
  ASMFED-MESH-001    managed control plane: every cluster's control and data plane are ACTIVE
  ASMFED-MESH-002    every istiod replica has every peer synced (/debug/clusterz)
  ASMFED-MESH-003    a synthetic sidecar gets from every cluster's istiod the endpoints of a probe Service
                     in every cluster (EDS); the probe (sentinel addresses of 192.0.2.0/24) is deleted after
  ASMFED-MESH-004    a synthetic sidecar of every application namespace accepts mutual TLS only; a
                     PeerAuthentication that weakens it is named
  ASMFED-EGRESS-001  a synthetic sidecar of every application namespace gets REGISTRY_ONLY and a cluster for
                     every allow-listed host:port; a pass-through names the Sidecar or setting behind it
  ASMFED-TRAFFIC-001 requests from a probe client in every cluster to a shared echo Service are answered
                     by every cluster
  ASMFED-TRAFFIC-002 a request to a host outside the allow-list is refused by the sidecar (502 from envoy),
                     not dropped by the network
  ASMFED-TRAFFIC-003 a request to an allow-listed host is answered
  ASMFED-TRAFFIC-004 the ingress gateway presents the credential's certificate chain, valid, for every host
                     (TLS handshakes with SNI through a port-forward to a gateway pod)
  ASMFED-ADDON-010   Cloud SQL: the Auth Proxy's service account exists, holds roles/cloudsql.client on the
                     instance's project and lets every client act as it; every cluster's client account
                     is annotated with it
  ASMFED-ADDON-011   Cloud SQL: the instance exists, runs PostgreSQL, and has a private IP on the
                     federation's VPC (or a public IP behind every cluster region's Cloud NAT)

The istiod checks reach each Running istiod pod through port-forwards (ports 15014 and 15012), speak
xDS over TLS verified against the federation's root, and are skipped with a managed control plane.

The traffic checks deploy a probe into every cluster (a namespace asmfed-traffic-<random> labelled
and policed like the file's namespaces, an echo Deployment and a client Deployment running Istio's
app image <hub>/app:<tag>, or --probe-image), exec requests in the client pods, and delete the probe
when verify ends unless --keep. --skip-traffic turns them off.

It exits 0 when nothing failed, 3 when a check failed, 1 when verify itself could not run.`,
		Example: `  # Verify the two-cluster sample on the sandbox
  kubectl asmfed verify -f samples/two-cluster-private/federation.yaml

  # The federation drawn with each flow through the firewall coloured: green allowed, red blocked
  kubectl asmfed verify -f samples/two-cluster-private/federation.yaml --graph

  # As JSON, for CI
  kubectl asmfed verify -f samples/two-cluster-private/federation.yaml -o json

  # Without the traffic probes, which deploy pods into every cluster
  kubectl asmfed verify -f samples/two-cluster-private/federation.yaml --skip-traffic

  # Cross-cluster traffic and the ingress certificate only, with an image mirrored where the nodes pull from, left in place afterwards
  kubectl asmfed verify -f samples/two-cluster-private/federation.yaml --only ASMFED-TRAFFIC-001,ASMFED-TRAFFIC-004 --probe-image europe-docker.pkg.dev/my-project/mirror/app:1.31.0 --keep

  # Remote secrets only, warning of reader tokens issued more than 90 days ago
  kubectl asmfed verify -f samples/two-cluster-private/federation.yaml --only ASMFED-ACCESS-001 --max-token-age 2160h

  # The authorized-network checks only, with a JUnit XML report for the CI server
  kubectl asmfed verify -f samples/two-cluster-private/federation.yaml --only ASMFED-NET-002,ASMFED-NET-005 --junit verify.xml`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	cmd.Flags().StringVarP(&o.filename, "filename", "f", "", "Federation file")
	o.output.addFlag(cmd, "Output format", "")
	cmd.Flags().BoolVar(&o.graph, "graph", false, "Draw the federation with each flow coloured by what the live firewall does to it (the report goes to stderr)")
	cmd.Flags().Var(&o.format, "format", "Format of --graph: mermaid or dot")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"mermaid", "dot"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().StringVar(&o.junit, "junit", "", "Also write the findings as JUnit XML to this file: a testsuite per check, a testcase per finding")
	cmd.Flags().StringSliceVar(&o.only, "only", nil, "Run only the checks with these IDs or globs (ASMFED-NET-*)")
	cmd.Flags().StringSliceVar(&o.skip, "skip", nil, "Do not run the checks with these IDs or globs")
	cmd.Flags().BoolVar(&o.skipTraffic, "skip-traffic", false, "Do not deploy the traffic probes: ASMFED-TRAFFIC-* are skipped")
	cmd.Flags().StringVar(&o.probeImage, "probe-image", "", "Image of the traffic probes' echo server and client (default: Istio's app image from the mesh's hub and tag, <hub>/app:<tag>)")
	cmd.Flags().BoolVar(&o.keep, "keep", false, "Leave the traffic probes in the clusters when verify ends, for inspection")
	cmd.Flags().DurationVar(&o.maxTokenAge, "max-token-age", 365*24*time.Hour, "Warn of a remote secret whose reader token, which never expires, was issued longer ago; 0 turns the warning off")
	_ = cmd.MarkFlagFilename("junit", "xml")
	ids := func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var out []string
		for _, c := range verify.Checks() {
			out = append(out, c.ID+"\t"+c.Name)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	_ = cmd.RegisterFlagCompletionFunc("only", ids)
	_ = cmd.RegisterFlagCompletionFunc("skip", ids)
	o.cloud.add(cmd.Flags())
	o.addClusterFlags(cmd.Flags())
	o.addColorFlag(cmd.Flags())
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	return cmd
}

// Complete reads the federation file and checks it.
func (o *verifyOptions) Complete() (err error) {
	if o.filename == "" {
		return nil
	}
	o.source, o.fed, err = completeValid(o.filename, o.streams.In)
	return err
}

// Validate checks the flags.
func (o *verifyOptions) Validate() error {
	if o.filename == "" {
		return errors.New("no federation file: pass -f FILE")
	}
	checks, err := verify.Select(verify.Checks(), o.only, o.skip)
	if err != nil {
		return err
	}
	if len(checks) == 0 {
		return errors.New("--only and --skip leave no check to run")
	}
	o.checks = checks
	if o.maxTokenAge < 0 {
		return fmt.Errorf("--max-token-age %s: a token's age is not negative (0 turns the warning off)", o.maxTokenAge)
	}
	if o.skipTraffic && o.probeImage != "" {
		return errors.New("--probe-image is for the traffic probes: drop --skip-traffic")
	}
	if o.skipTraffic && o.keep {
		return errors.New("--keep keeps the traffic probes: drop --skip-traffic")
	}
	if o.graph {
		if err := o.format.validate(); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		if o.output.is("json") {
			return errors.New("--graph prints a drawing on stdout: drop -o json")
		}
	}
	return o.output.validate()
}

// Run plans both layers to see the live state, runs the checks and prints the findings.
func (o *verifyOptions) Run(ctx context.Context) error {
	s, err := o.open(ctx, o.fed, o.source, o.cloud, false)
	if err != nil {
		return err
	}
	defer s.close()
	f, copts, eng := s.f, s.copts, s.eng
	fp, err := o.planBoth(ctx, eng, f, copts)
	if err != nil {
		return err
	}
	reach := fp.Reach
	notReady := append([]string(nil), reach.NotReady...)
	notReachable := map[string]verify.NotReachable{}
	for _, u := range reach.Unreachable {
		notReady = append(notReady, u.Cluster)
		notReachable[u.Cluster] = verify.NotReachable{Message: fmt.Sprintf("exists but did not answer via %s at %s: %s", u.Via, u.Address, u.Cause), Hint: u.Fix}
	}
	env := &verify.Env{Federation: f, Derived: fp.Model, BaseDir: o.source.baseDir(), Clusters: reach.Configs,
		NotReady: notReady, NotReachable: notReachable, Pending: fp.Plan, MeshStates: map[string]verify.MeshState{}, Firewall: fp.Cloud.Firewall,
		GKE: fp.Cloud.GKE, EnabledServices: fp.Cloud.EnabledServices, Bastion: &verify.BastionVM{Instance: fp.Cloud.Bastion}, MaxTokenAge: o.maxTokenAge}
	// The same fields, so the compiler holds the two types to each other; nil stays nil.
	env.CloudSQL = (*verify.CloudSQLLive)(fp.Cloud.CloudSQL)
	if f.Spec.Mesh.ControlPlane == v1alpha1.ControlPlaneInCluster {
		istiods := verify.NewPortForwardedIstiods(reach.Configs, fp.Model.Mesh.Revision)
		defer istiods.Close()
		env.Istiods = istiods.Istiods
	}
	if !o.skipTraffic {
		probe := &verify.TrafficProbe{Image: o.probeImage, Keep: o.keep}
		env.Traffic = probe
		defer func() {
			if kept := probe.Close(ctx); kept != "" {
				fmt.Fprintln(o.streams.ErrOut, kept)
			}
		}()
	}
	for name, st := range fp.Cloud.MeshStates {
		env.MeshStates[name] = verify.MeshState{ControlPlane: st.ControlPlane, DataPlane: st.DataPlane, Conditions: st.Conditions}
	}
	report := verify.Run(ctx, env, o.checks)
	if o.junit != "" {
		if err := writeJUnit(o.junit, report); err != nil {
			return err
		}
	}
	switch {
	case o.graph:
		if err := o.printGraph(env); err != nil {
			return err
		}
		err = verify.WriteText(o.streams.ErrOut, report, verify.TextOptions{Color: o.color(o.streams.ErrOut)})
	case o.output.is("json"):
		err = verify.WriteJSON(o.streams.Out, report)
	default:
		err = verify.WriteText(o.streams.Out, report, verify.TextOptions{Color: o.color(o.streams.Out)})
	}
	if err != nil {
		return err
	}
	if report.Failed() {
		return &exitError{Code: exitChecksFailed}
	}
	return nil
}

// writeJUnit writes the report as JUnit XML to path, replacing the file.
func writeJUnit(path string, r *verify.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	if err := verify.WriteJUnit(f, r); err != nil {
		f.Close()
		return fmt.Errorf("--junit: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--junit: write %s: %w", path, err)
	}
	return nil
}

// printGraph draws the federation with each flow through the firewall coloured by its verdict.
func (o *verifyOptions) printGraph(env *verify.Env) error {
	g := graph.Of(env.Derived)
	for _, v := range verify.FirewallVerdicts(env) {
		status, note := graph.Allowed, ""
		if !v.Allowed {
			status, note = graph.Blocked, "BLOCKED: "+v.Reason
		}
		g.Mark(graph.NodeID(v.FromKind, v.From), graph.NodeID(v.ToKind, v.To), "firewall", status, note)
	}
	out := g.Mermaid()
	if o.format.is("dot") {
		out = g.DOT()
	}
	_, err := io.WriteString(o.streams.Out, out)
	return err
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/graph"
	"github.com/asmfed/kubectl-asmfed/pkg/istio/render"
)

type renderOptions struct {
	*globalOptions
	filename string
	derived  bool
	output   outputFormat
	cluster  string

	manifests          bool
	graph              bool
	format             outputFormat
	fleetProjectNumber int64

	source  *fileSource
	checked *v1alpha1.Checked

	addon addonOptions
}

func newRenderCommand(g *globalOptions) *cobra.Command {
	o := &renderOptions{globalOptions: g, output: newOutputFormat("text", "yaml", "json"), format: newOutputFormat("mermaid", "dot")}
	cmd := &cobra.Command{
		Use:   "render -f FILE [--derived | --manifests | --graph] [--cluster NAME]",
		Short: "Show what the tool derives from a federation file, offline: resources, Istio overlays, manifests",
		Long: `Render prints, without calling any API, what the tool derives from a federation file.

Without flags it prints each cluster's IstioOperator overlay as YAML, one document per cluster: the
profile, revision, hub and tag, the mesh ID, cluster name and network, the trust domain and its
aliases, the egress policy, access logging and the ingress gateway behind an internal load
balancer, with the file's own overlays (spec.mesh.overlays) merged in order over it. Every overlay
is checked strictly against Istio's own types first: a misspelt field is an error naming the
overlay's file, line and field, where istioctl would ignore it.

With --manifests it renders the full install manifests in process with Istio's operator library
(Istio ` + render.IstioRelease + `, charts built in, no network), namespace and CRDs first, ready for
kubectl apply --server-side. Use --cluster to get one cluster's manifests. The mesh ID defaults to
proj-<fleet project number>: give the number with --fleet-project-number, spec.fleetProjectNumber or
spec.mesh.meshID.

With --derived it prints everything else derived from the file: firewall rules, master authorized
networks and global access per cluster, Cloud NAT per region, remote-secret pairs, APIs to enable,
Shared VPC wiring and IAM bindings, fleet memberships and the mesh identity. Each derived item says
why it exists. Values that need a live read (a project's number, a cluster's private endpoint) are
shown as placeholders; plan resolves them.

With --graph it draws the federation (--format mermaid, the default, or dot for Graphviz): projects,
the VPC and its subnets, each cluster's control plane and nodes, the flows the mesh needs labelled
with the firewall rule or authorized-network entry that carries each, remote secrets as dashed
edges, and the egress allow-list and the ingress as external nodes. The output is stable, so it
can be committed and diffed.`,
		Example: `  # Each cluster's IstioOperator overlay, user overlays merged in
  kubectl asmfed render -f samples/two-cluster-private/federation.yaml

  # One cluster's install manifests, ready for kubectl apply --server-side -f -
  kubectl asmfed render -f samples/two-cluster-private/federation.yaml --manifests --cluster cluster3 --fleet-project-number 123456789012

  # The derived resources with their reasons
  kubectl asmfed render -f samples/two-cluster-private/federation.yaml --derived

  # The federation as a picture: Mermaid (renders on code hosts), or Graphviz
  kubectl asmfed render -f samples/two-cluster-private/federation.yaml --graph
  kubectl asmfed render -f samples/two-cluster-private/federation.yaml --graph --format dot

  # The Cloud SQL Auth Proxy added to a team's Deployment (docs/addons.md)
  kubectl asmfed render -f samples/addons/federation.yaml --addon cloudsql --deployment samples/addons/orders-deployment.yaml

  # Only what concerns one cluster, as JSON
  kubectl asmfed render -f samples/multi-project-shared-vpc/federation.yaml --derived --cluster payments-central -o json`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	cmd.Flags().StringVarP(&o.filename, "filename", "f", "", "Federation file, or - for standard input")
	cmd.Flags().BoolVar(&o.derived, "derived", false, "Print the derived resources (firewall rules, authorized networks, remote secrets, …)")
	cmd.Flags().BoolVar(&o.manifests, "manifests", false, "Print the rendered Istio install manifests instead of the overlays")
	cmd.Flags().Int64Var(&o.fleetProjectNumber, "fleet-project-number", 0, "Number of the fleet project, for the default mesh ID (proj-NUMBER) when the file does not give it")
	o.output.addFlag(cmd, "Output format of --derived", "(overlays and manifests are YAML)")
	cmd.Flags().StringVar(&o.cluster, "cluster", "", "Only show items that concern this cluster")
	cmd.Flags().BoolVar(&o.graph, "graph", false, "Draw the federation: networks, clusters and the flows between them")
	cmd.Flags().Var(&o.format, "format", "Format of --graph: mermaid or dot")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"mermaid", "dot"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	o.addon.addFlags(cmd)
	return cmd
}

// Complete reads the federation file and checks it.
func (o *renderOptions) Complete() error {
	if o.filename == "" {
		return nil
	}
	src, err := completeFile(o.filename, o.streams.In)
	if err != nil {
		return err
	}
	o.source = src
	o.checked, err = valid(src, o.filename)
	return err
}

// Validate checks the flags, and that --cluster names a cluster of the file.
func (o *renderOptions) Validate() error {
	if o.filename == "" {
		return errors.New("no federation file: pass -f FILE")
	}
	if n := btoi(o.derived) + btoi(o.manifests) + btoi(o.graph) + btoi(o.addon.name != ""); n > 1 {
		return errors.New("--derived, --manifests, --graph and --addon print different things: pass one of them")
	}
	if err := o.addon.validate(o.checked.Federation); err != nil {
		return err
	}
	if o.graph {
		if err := o.format.validate(); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		if o.cluster != "" {
			return errors.New("--graph draws the whole federation: drop --cluster")
		}
	}
	if o.fleetProjectNumber < 0 {
		return fmt.Errorf("--fleet-project-number must be positive, got %d", o.fleetProjectNumber)
	}
	if err := o.output.validate(); err != nil {
		return err
	}
	if !o.derived && !o.output.is("text") && o.graph {
		return fmt.Errorf("--graph prints Mermaid or DOT: use --format, not -o %s", o.output.String())
	}
	if !o.derived && o.output.is("json") {
		return fmt.Errorf("overlays and manifests print as YAML: drop -o %s", o.output.String())
	}
	if o.cluster != "" {
		var names []string
		for _, c := range o.checked.Federation.Spec.Clusters {
			if c.Name == o.cluster {
				return nil
			}
			names = append(names, c.Name)
		}
		return fmt.Errorf("no cluster %q in the federation (clusters: %s)", o.cluster, strings.Join(names, ", "))
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Run compiles the file and prints the overlays, the manifests or the derived set.
func (o *renderOptions) Run(context.Context) error {
	checked := o.checked
	f := checked.Federation
	facts := federation.Facts{}
	if o.fleetProjectNumber > 0 {
		facts.ProjectNumbers = map[string]int64{f.Spec.FleetProject: o.fleetProjectNumber}
	}
	d, err := federation.Compile(f, facts)
	if err != nil {
		return err
	}
	if o.addon.name != "" {
		return o.addon.run(o.streams.Out, d)
	}
	if o.graph {
		g := graph.Of(d)
		out := g.Mermaid()
		if o.format.is("dot") {
			out = g.DOT()
		}
		_, err := io.WriteString(o.streams.Out, out)
		return err
	}
	if !o.derived {
		return o.runIstio(render.Input{Federation: f, Desired: d, Source: checked.Source, BaseDir: o.source.baseDir()})
	}
	if o.cluster != "" {
		if d, err = filterCluster(d, o.cluster); err != nil {
			return err
		}
	}
	federation.RedactRegistryTokensOf(d)
	switch o.output.String() {
	case "json":
		enc := json.NewEncoder(o.streams.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // placeholders such as <private endpoint of c1> stay readable
		return enc.Encode(d)
	case "yaml":
		data, err := marshalYAML(d)
		if err != nil {
			return err
		}
		_, err = o.streams.Out.Write(data)
		return err
	}
	return writeDerivedText(o.streams.Out, f, d)
}

// runIstio prints each cluster's overlay, or its rendered manifests.
func (o *renderOptions) runIstio(in render.Input) error {
	var names []string
	if o.cluster != "" {
		names = []string{o.cluster}
	}
	w := &textWriter{w: o.streams.Out}
	if !o.manifests {
		clusters, err := render.Overlays(in, names...)
		if err != nil {
			return err
		}
		for _, c := range clusters {
			data, err := render.YAML(c.Overlay)
			if err != nil {
				return err
			}
			w.line("---\n# IstioOperator for cluster %s\n%s", c.Name, strings.TrimSuffix(string(data), "\n"))
		}
		return w.err
	}
	start := time.Now()
	r := &render.Renderer{}
	clusters, err := r.Render(in, names...)
	if err != nil {
		return err
	}
	n := 0
	for _, c := range clusters {
		w.line("# Istio %s install manifests for cluster %s: %d objects", render.IstioRelease, c.Name, len(c.Manifests))
		for _, m := range c.Manifests {
			y, err := m.YAML()
			if err != nil {
				return err
			}
			w.line("---\n%s", strings.TrimSuffix(y, "\n"))
		}
		n += len(c.Manifests)
	}
	if w.err == nil {
		fmt.Fprintf(o.streams.ErrOut, "rendered %d objects for %d clusters in %s\n", n, len(clusters), time.Since(start).Round(time.Millisecond))
	}
	return w.err
}

// filterCluster keeps the items that concern one cluster: its own settings, rules that target or
// come from it, secrets it holds or that point at it, and its membership.
func filterCluster(d *federation.Desired, name string) (*federation.Desired, error) {
	out := *d
	out.Clusters = nil
	var c *federation.ClusterDesired
	for i := range d.Clusters {
		if d.Clusters[i].Name == name {
			c = &d.Clusters[i]
			out.Clusters = []federation.ClusterDesired{*c}
		}
	}
	if c == nil {
		names := make([]string, len(d.Clusters))
		for i, c := range d.Clusters {
			names[i] = c.Name
		}
		return nil, fmt.Errorf("no cluster %q in the federation (clusters: %s)", name, strings.Join(names, ", "))
	}
	out.FirewallRules = nil
	for _, r := range d.FirewallRules {
		if containsString(r.TargetTags, c.NodeTags...) || containsString(r.SourceRanges, c.PodRange, c.ControlPlaneRange) {
			out.FirewallRules = append(out.FirewallRules, r)
		}
	}
	out.NATs = nil
	for _, n := range d.NATs {
		if n.Region == c.Region {
			out.NATs = append(out.NATs, n)
		}
	}
	out.RemoteSecrets = nil
	for _, s := range d.RemoteSecrets {
		if s.Holder == name || s.Target == name {
			out.RemoteSecrets = append(out.RemoteSecrets, s)
		}
	}
	out.Subnets = nil
	for _, sn := range d.Subnets {
		if sn.Address == c.SubnetAddress {
			out.Subnets = append(out.Subnets, sn)
		}
	}
	out.FleetMemberships = nil
	for _, m := range d.FleetMemberships {
		if m.ClusterAddress == c.Address {
			out.FleetMemberships = append(out.FleetMemberships, m)
		}
	}
	return &out, nil
}

func containsString(list []string, any ...string) bool {
	for _, s := range list {
		for _, a := range any {
			if s == a {
				return true
			}
		}
	}
	return false
}

// writeDerivedText prints the derived set for people: grouped by kind, one item per block, each
// with the reason it exists.
func writeDerivedText(w io.Writer, f *v1alpha1.Federation, d *federation.Desired) error {
	p := &textWriter{w: w}
	m := d.Mesh
	p.section("Mesh %s", d.Federation)
	p.kv("mesh ID", m.MeshID)
	p.kv("trust domain", m.TrustDomain)
	if len(m.TrustDomainAliases) > 0 {
		p.kv("aliases", strings.Join(m.TrustDomainAliases, ", "))
	}
	p.kv("network", m.Network)
	p.kv("control plane", m.ControlPlane)
	p.kv("CA", m.CA)
	if m.ControlPlane == v1alpha1.ControlPlaneManaged {
		p.kv("revision", "each cluster's channel's")
	} else {
		p.kv("revision", m.Revision)
		p.kv("images", m.Hub+" : "+m.Tag)
	}
	p.why(m.Reason)

	p.section("Network")
	p.item("%s", d.Network.Address)
	p.kv("routing mode", d.Network.RoutingMode)
	p.why(d.Network.Reason)
	for _, sn := range d.Subnets {
		p.item("%s", sn.Address)
		ranges := []string{sn.PrimaryRange}
		for _, r := range sn.SecondaryRanges {
			ranges = append(ranges, fmt.Sprintf("%s %s", r.Name, r.CIDR))
		}
		p.kv("ranges", strings.Join(ranges, ", "))
		p.kv("Google access", fmt.Sprint(sn.PrivateGoogleAccess))
		p.why(sn.Reason)
	}

	if b := d.Bastion; b != nil {
		p.section("Bastion")
		p.item("%s", b.Address)
		p.kv("subnet", b.Subnetwork)
		p.kv("machine type", b.MachineType)
		p.kv("authorized as", b.AuthorizedRange)
		p.kv("ssh", b.SSHCommand)
		p.why(b.Reason)
	}

	p.section("Clusters (%d)", len(d.Clusters))
	for _, c := range d.Clusters {
		p.item("%s", c.Address)
		p.why(c.Reason)
		p.kv("project", c.Project)
		p.kv("location", c.Location)
		p.kv("subnet", fmt.Sprintf("%s (pods %s, services %s)", c.Subnetwork, c.PodRange, c.ServiceRange))
		p.kv("control plane", fmt.Sprintf("%s, private endpoint %t", c.ControlPlaneRange, c.PrivateEndpoint))
		p.kv("node tags", strings.Join(c.NodeTags, ", "))
		p.kv("global access", fmt.Sprintf("%t: %s", c.MasterGlobalAccess, c.MasterGlobalAccessReason))
		p.kv("reached via", fmt.Sprintf("%s at %s: %s", c.Access.Via, c.Access.Address, c.Access.Reason))
		if c.Revision != "" {
			p.kv("revision", fmt.Sprintf("%s, the managed channel of release channel %s", c.Revision, c.ReleaseChannel))
		}
		p.line("    master authorized networks:")
		for _, an := range c.MasterAuthorizedNetworks {
			p.line("      %-18s %-22s %s", an.CIDR, an.DisplayName, an.Reason)
		}
		p.line("    node pools:")
		for _, np := range c.NodePools {
			p.line("      %s: %s, %d-%d nodes per zone, tags %s", np.Name, np.MachineType, np.MinNodes, np.MaxNodes, strings.Join(np.Tags, ", "))
		}
	}

	for _, c := range d.Clusters {
		p.section("Kubernetes objects in %s (%d, and the control plane that render --manifests shows)", c.Name, len(c.Objects))
		for _, o := range c.Objects {
			p.item("%s", o.Address)
			if o.Pending != "" {
				p.kv("at plan time", o.Pending)
			}
			p.why(o.Reason)
		}
	}

	p.section("Firewall rules (%d)", len(d.FirewallRules))
	for _, r := range d.FirewallRules {
		p.item("%s", r.Address)
		var allowed []string
		for _, a := range r.Allowed {
			if len(a.Ports) == 0 {
				allowed = append(allowed, a.IPProtocol)
			} else {
				allowed = append(allowed, a.IPProtocol+":"+strings.Join(a.Ports, ","))
			}
		}
		p.kv("allow", strings.Join(allowed, " "))
		p.kv("from", strings.Join(r.SourceRanges, ", "))
		p.kv("to tags", strings.Join(r.TargetTags, ", "))
		p.why(r.Reason)
	}

	p.section("Cloud NAT (%d)", len(d.NATs))
	for _, n := range d.NATs {
		p.item("%s", n.Address)
		p.kv("router", n.Router)
		var subs []string
		for _, s := range n.Subnets {
			subs = append(subs, s.Name)
		}
		p.kv("subnets", strings.Join(subs, ", "))
		p.why(n.Reason)
	}

	p.section("Remote secrets (%d)", len(d.RemoteSecrets))
	for _, s := range d.RemoteSecrets {
		p.item("%s", s.Address)
		p.kv("lets", fmt.Sprintf("%s's istiod read %s", s.Holder, s.Target))
		p.kv("server", s.Server)
		p.why(s.Reason)
	}

	p.section("APIs (%d)", len(d.APIs))
	byProject := map[string][]string{}
	var projects []string
	for _, a := range d.APIs {
		if _, ok := byProject[a.Project]; !ok {
			projects = append(projects, a.Project)
		}
		byProject[a.Project] = append(byProject[a.Project], a.Service)
	}
	for _, proj := range projects {
		p.item("project %s", proj)
		p.line("    %s", strings.Join(byProject[proj], ", "))
	}

	if s := d.SharedVPC; s != nil {
		p.section("Shared VPC")
		p.kv("host", s.HostProject)
		p.why(s.HostReason)
		for _, sp := range s.ServiceProjects {
			p.item("service project %s", sp.Project)
			p.why(sp.Reason)
		}
	}

	p.section("IAM bindings (%d)", len(d.IAMBindings))
	for _, b := range d.IAMBindings {
		p.item("%s on %s", b.Role, b.Resource)
		p.kv("member", b.Member)
		p.why(b.Reason)
	}

	p.section("Fleet memberships (%d)", len(d.FleetMemberships))
	for _, fm := range d.FleetMemberships {
		p.item("%s", fm.Address)
		p.kv("issuer", fm.Issuer)
		p.kv("pool", fm.WorkloadIdentityPool)
		p.why(fm.Reason)
	}
	if len(d.CallerRoles) > 0 {
		p.section("Roles the caller needs (%d)", len(d.CallerRoles))
		for _, r := range d.CallerRoles {
			p.item("%s on project %s", r.Role, r.Project)
			p.why(r.Reason)
		}
	}
	if mf := d.MeshFeature; mf != nil {
		p.section("Fleet feature")
		p.item("%s", mf.Address)
		p.kv("management", mf.Management)
		p.why(mf.Reason)
	}

	if len(d.Unresolved) > 0 {
		p.section("Resolved at plan time")
		for _, u := range d.Unresolved {
			p.line("  - the number of project %s", u)
		}
	}
	if len(d.Warnings) > 0 {
		p.section("Warnings")
		for _, wn := range d.Warnings {
			p.line("  ! %s", wn)
		}
	}
	return p.err
}

// textWriter keeps the first write error so printing code stays linear.
type textWriter struct {
	w       io.Writer
	err     error
	started bool
}

func (p *textWriter) line(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
	}
}

func (p *textWriter) section(format string, args ...any) {
	if p.started {
		p.line("")
	}
	p.started = true
	p.line(format, args...)
}

func (p *textWriter) item(format string, args ...any) { p.line("  "+format, args...) }

func (p *textWriter) kv(k, v string) { p.line("    %-15s %s", k+":", v) }

func (p *textWriter) why(reason string) {
	if reason != "" {
		p.line("    %-15s %s", "why:", reason)
	}
}

package gcplayer

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"golang.org/x/sync/errgroup"
	orgpolicy "google.golang.org/api/orgpolicy/v2"

	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// Preflight checks, before apply creates anything, what stands in the way of a plan's Google
// Cloud changes (docs/preflight.md): the permissions they need against testIamPermissions on each
// project (and subnetwork), the quotas they consume against each region's and project's usage
// and limit, and the organisation policies in effect that would refuse them. Reads the caller may
// not make are reported as unchecked, never as a failure. A plan without Google Cloud changes
// needs nothing: Preflight returns nil.
func (e *Layer) Preflight(ctx context.Context, r *CloudPlan) (*plan.Preflight, error) {
	if !r.Plan.HasChanges() {
		return nil, nil
	}
	n := preflightNeeds(r)
	out := &plan.Preflight{Permissions: []plan.MissingPermission{}, Quotas: []plan.QuotaShortfall{}, Constraints: []plan.ConstraintViolation{}}
	out.Unchecked = append(out.Unchecked, n.unchecked...)
	var mu sync.Mutex
	unchecked := func(format string, a ...any) {
		mu.Lock()
		out.Unchecked = append(out.Unchecked, fmt.Sprintf(format, a...))
		mu.Unlock()
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(e.opts.ReadParallelism)
	for _, resource := range sortedKeys(n.perms) {
		needs := n.perms[resource]
		g.Go(func() error {
			held, err := e.gcp.HeldPermissions(ctx, resource, sortedKeys(needs))
			if err != nil {
				unchecked("permissions on %s: %v", resource, err)
				return nil
			}
			missing := missingPermissions(resource, needs, held)
			mu.Lock()
			out.Permissions = append(out.Permissions, missing...)
			mu.Unlock()
			return nil
		})
	}
	for _, key := range slices.SortedFunc(maps.Keys(n.quotas), func(a, b quotaKey) int { return cmp.Compare(a.project+"/"+a.region, b.project+"/"+b.region) }) {
		need := n.quotas[key]
		g.Go(func() error {
			var quotas []*computepb.Quota
			var err error
			if key.region == "" {
				quotas, err = e.gcp.ProjectQuotas(ctx, key.project)
			} else {
				quotas, err = e.gcp.RegionQuotas(ctx, key.project, key.region)
			}
			if err != nil {
				if gcp.IsKind(err, gcp.KindAPINotEnabled) {
					unchecked("quotas of project %s: the Compute Engine API is not enabled yet (the plan enables it)", key.project)
				} else {
					unchecked("quotas of %s: %v", key, err)
				}
				return nil
			}
			short := shortfalls(key, need, quotas)
			mu.Lock()
			out.Quotas = append(out.Quotas, short...)
			mu.Unlock()
			return nil
		})
	}
	for _, project := range sortedKeys(n.constraints) {
		checks := n.constraints[project]
		g.Go(func() error {
			for _, constraint := range sortedKeys(checks) {
				policy, err := e.gcp.EffectivePolicy(ctx, project, constraint)
				if err != nil {
					// Reading organisation policies needs orgpolicy.policy.get
					// (roles/orgpolicy.policyViewer), which many deployers lack: say so once.
					if gcp.IsKind(err, gcp.KindPermissionDenied) {
						unchecked("organisation policies of project %s: the caller may not read them (orgpolicy.policy.get, granted by roles/orgpolicy.policyViewer)", project)
					} else {
						unchecked("organisation policies of project %s: %v", project, err)
					}
					return nil
				}
				v := checks[constraint].evaluate(project, constraint, policy)
				if v != nil {
					mu.Lock()
					out.Constraints = append(out.Constraints, *v)
					mu.Unlock()
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sort.Slice(out.Permissions, func(i, j int) bool {
		a, b := out.Permissions[i], out.Permissions[j]
		if a.Resource != b.Resource {
			return a.Resource < b.Resource
		}
		return a.Permission < b.Permission
	})
	sort.Slice(out.Quotas, func(i, j int) bool {
		a, b := out.Quotas[i], out.Quotas[j]
		return a.Project+"/"+a.Region+"/"+a.Metric < b.Project+"/"+b.Region+"/"+b.Metric
	})
	sort.Slice(out.Constraints, func(i, j int) bool {
		a, b := out.Constraints[i], out.Constraints[j]
		return a.Project+a.Constraint < b.Project+b.Constraint
	})
	sort.Strings(out.Unchecked)
	return out, nil
}

// needs is what a plan's changes need from Google Cloud before they can be carried out.
type needs struct {
	// perms are the permissions needed, by resource they are tested on, each with the changes
	// (or the lock) that need it.
	perms map[string]map[string][]string
	// quotas are the amounts of each quota consumed, by project and region.
	quotas map[quotaKey]map[string]float64
	// constraints are the organisation policy checks to make, by project and constraint.
	constraints map[string]map[string]*constraintCheck
	unchecked   []string
}

type quotaKey struct{ project, region string }

func (k quotaKey) String() string {
	if k.region == "" {
		return "project " + k.project
	}
	return fmt.Sprintf("region %s of project %s", k.region, k.project)
}

// preflightNeeds works out, from the plan's changes and the objects they create, what they need:
// pure, no I/O.
func preflightNeeds(r *CloudPlan) *needs {
	n := &needs{perms: map[string]map[string][]string{}, quotas: map[quotaKey]map[string]float64{}, constraints: map[string]map[string]*constraintCheck{}}
	need := func(resource, perm, by string) {
		if n.perms[resource] == nil {
			n.perms[resource] = map[string][]string{}
		}
		n.perms[resource][perm] = append(n.perms[resource][perm], by)
	}
	consume := func(project, region, metric string, amount float64) {
		k := quotaKey{project, region}
		if n.quotas[k] == nil {
			n.quotas[k] = map[string]float64{}
		}
		n.quotas[k][metric] += amount
	}
	check := func(project, constraint string) *constraintCheck {
		if n.constraints[project] == nil {
			n.constraints[project] = map[string]*constraintCheck{}
		}
		if n.constraints[project][constraint] == nil {
			n.constraints[project][constraint] = &constraintCheck{}
		}
		return n.constraints[project][constraint]
	}
	if fp := r.Derived.FleetProject; fp != "" {
		for _, p := range lockPermissions {
			need("projects/"+fp, p, "the apply's lock (metadata of project "+fp+")")
		}
	}
	orgNamed := map[string]bool{}
	for _, c := range r.Plan.Changes {
		if c.Action == plan.NoOp {
			continue
		}
		o := r.desired[c.Address]
		if o == nil {
			o = r.live[c.Address]
		}
		if o == nil {
			continue
		}
		by := string(c.Address)
		if perm, ok := orgPermissions[c.Kind]; ok {
			if !orgNamed[perm] {
				orgNamed[perm] = true
				n.unchecked = append(n.unchecked, fmt.Sprintf("%s, needed by %s, is granted on the organisation or a folder (%s), where a project's testIamPermissions cannot see it",
					perm, by, strings.Join(rolesGranting(perm), " or ")))
			}
			continue
		}
		creates := c.Action == plan.Create || c.Action == plan.Replace
		if c.Kind == plan.KindIAMBinding && o.parent != "" {
			// A binding on a subnetwork is the subnetwork's policy: tested on it once it exists,
			// on its project (where a grant covers every subnetwork) before.
			resource := "projects/" + o.project
			if r.live[plan.SubnetworkAddress(o.project, o.location, o.parent)] != nil {
				resource = fmt.Sprintf("projects/%s/regions/%s/subnetworks/%s", o.project, o.location, o.parent)
			}
			for _, perm := range subnetBindingPermissions {
				need(resource, perm, by)
			}
		} else if ref, ok := o.msg.(saPolicyRef); ok && c.Kind == plan.KindIAMBinding {
			// A binding on a service account is the service account's own policy, tested on its
			// project, where a grant covers every service account (one on the account alone is
			// not seen, and reported missing).
			for _, perm := range serviceAccountBindingPermissions {
				need("projects/"+ref.project, perm, by)
			}
		} else {
			for _, perm := range permissionsFor(c.Kind, c.Action) {
				need("projects/"+o.project, perm, by)
			}
		}
		switch c.Kind {
		case plan.KindNodePool:
			if creates {
				np, _ := o.msg.(*containerpb.NodePool)
				nodes := float64(max(1, np.GetAutoscaling().GetMinNodeCount(), np.GetInitialNodeCount())) * float64(zonesOf(o.location))
				consume(o.project, regionOf(o.location), "CPUS", nodes*machineCPUs(np.GetConfig().GetMachineType()))
			}
		case plan.KindInstance:
			in, _ := o.msg.(*computepb.Instance)
			if creates {
				consume(o.project, regionOf(o.location), "CPUS", machineCPUs(in.GetMachineType()))
				cc := check(o.project, "constraints/compute.requireOsLogin")
				cc.uses = append(cc.uses, use{address: c.Address, value: osLoginOf(in)})
			}
			if len(in.GetNetworkInterfaces()) > 0 {
				if p := projectOf(in.GetNetworkInterfaces()[0].GetSubnetwork()); p != "" && p != o.project {
					need("projects/"+p, "compute.subnetworks.use", by)
				}
			}
		case plan.KindRouter:
			if creates {
				consume(o.project, "", "ROUTERS", 1)
				rt, _ := o.msg.(*computepb.Router)
				consume(o.project, o.location, "IN_USE_ADDRESSES", float64(len(rt.GetNats())))
			}
		case plan.KindFirewall:
			if creates {
				consume(o.project, "", "FIREWALLS", 1)
			}
		case plan.KindNetwork:
			if creates {
				consume(o.project, "", "NETWORKS", 1)
			}
		case plan.KindSubnetwork:
			if creates {
				consume(o.project, "", "SUBNETWORKS", 1)
			}
		case plan.KindAPI:
			if creates {
				cc := check(o.project, "constraints/gcp.restrictServiceUsage")
				cc.uses = append(cc.uses, use{address: c.Address, value: o.parent})
			}
		case plan.KindCluster:
			if cl, ok := o.msg.(*containerpb.Cluster); ok && creates {
				if p := projectOf(cl.GetSubnetwork()); p != "" && p != o.project {
					cc := check(o.project, "constraints/compute.restrictSharedVpcSubnetworks")
					cc.uses = append(cc.uses, use{address: c.Address, value: cl.GetSubnetwork()})
				}
			}
		}
		if creates && o.location != "" && o.location != "global" && c.Kind != plan.KindIAMBinding && c.Kind != plan.KindMembership {
			cc := check(o.project, "constraints/gcp.resourceLocations")
			cc.uses = append(cc.uses, use{address: c.Address, value: o.location})
		}
	}
	return n
}

// permissionsFor are the permissions a change needs, by kind and action; a replace needs those of
// delete and create.
func permissionsFor(kind string, action plan.Action) []string {
	byAction := changePermissions[kind]
	if action == plan.Replace {
		return append(append([]string(nil), byAction[plan.Delete]...), byAction[plan.Create]...)
	}
	return byAction[action]
}

// missingPermissions are the needed permissions on resource that are not held.
func missingPermissions(resource string, needs map[string][]string, held []string) []plan.MissingPermission {
	has := map[string]bool{}
	for _, p := range held {
		has[p] = true
	}
	var out []plan.MissingPermission
	for _, perm := range sortedKeys(needs) {
		if has[perm] {
			continue
		}
		by := append([]string(nil), needs[perm]...)
		sort.Strings(by)
		by = slices.Compact(by)
		out = append(out, plan.MissingPermission{Project: projectOf(resource), Resource: resource, Permission: perm, Roles: rolesGranting(perm), NeededBy: by})
	}
	return out
}

// shortfalls are the quotas of a region or project that the needed amounts would exceed.
func shortfalls(key quotaKey, need map[string]float64, quotas []*computepb.Quota) []plan.QuotaShortfall {
	var out []plan.QuotaShortfall
	for _, q := range quotas {
		amount, ok := need[q.GetMetric()]
		if !ok || amount == 0 {
			continue
		}
		if q.GetUsage()+amount > q.GetLimit() {
			out = append(out, plan.QuotaShortfall{Project: key.project, Region: key.region, Metric: q.GetMetric(), Needed: amount, Usage: q.GetUsage(), Limit: q.GetLimit()})
		}
	}
	return out
}

// use is one value a change would bring under a constraint: a location, a service, a subnetwork.
type use struct {
	address plan.Address
	value   string
}

// constraintCheck holds what a project's changes bring under one constraint.
type constraintCheck struct {
	uses []use
}

// evaluate says which uses the policy in effect refuses; nil when none is.
func (cc *constraintCheck) evaluate(project, constraint string, p *orgpolicy.GoogleCloudOrgpolicyV2Policy) *plan.ConstraintViolation {
	var rules []*orgpolicy.GoogleCloudOrgpolicyV2PolicySpecPolicyRule
	if p != nil && p.Spec != nil {
		rules = p.Spec.Rules
	}
	var refused []use
	var why string
	switch constraint {
	case "constraints/compute.requireOsLogin":
		if !enforced(rules) {
			return nil
		}
		for _, u := range cc.uses {
			if !strings.EqualFold(u.value, "TRUE") {
				refused = append(refused, u)
			}
		}
		why = "VMs must have OS Login enabled (enable-oslogin=TRUE)"
	default:
		match := exactMatch
		what := map[string]string{
			"constraints/gcp.resourceLocations":                "resources may be created only in allowed locations",
			"constraints/gcp.restrictServiceUsage":             "only allowed services may be enabled",
			"constraints/compute.restrictSharedVpcSubnetworks": "only allowed Shared VPC subnetworks may be used",
		}[constraint]
		switch constraint {
		case "constraints/gcp.resourceLocations":
			match = locationMatch
		case "constraints/compute.restrictSharedVpcSubnetworks":
			match = subnetMatch
		}
		var values []string
		for _, u := range cc.uses {
			if !listAllows(rules, u.value, match) {
				refused = append(refused, u)
				values = append(values, u.value)
			}
		}
		why = fmt.Sprintf("%s, and the plan uses %s", what, strings.Join(slices.Compact(slices.Sorted(slices.Values(values))), ", "))
	}
	if len(refused) == 0 {
		return nil
	}
	v := &plan.ConstraintViolation{Project: project, Constraint: constraint, Blocks: why}
	for _, u := range refused {
		v.Addresses = append(v.Addresses, u.address)
	}
	return v
}

// enforced reports whether a boolean constraint's rules enforce it (conditional rules are not
// evaluated).
func enforced(rules []*orgpolicy.GoogleCloudOrgpolicyV2PolicySpecPolicyRule) bool {
	for _, r := range rules {
		if r.Condition == nil && r.Enforce {
			return true
		}
	}
	return false
}

// listAllows evaluates a list constraint's unconditional rules for one value: denyAll or a
// matching denied value refuses it; allowed values, when listed, must match.
func listAllows(rules []*orgpolicy.GoogleCloudOrgpolicyV2PolicySpecPolicyRule, value string, match func(policyValue, value string) bool) bool {
	var allowed []string
	for _, r := range rules {
		if r.Condition != nil {
			continue
		}
		if r.DenyAll {
			return false
		}
		if r.AllowAll {
			return true
		}
		if r.Values == nil {
			continue
		}
		for _, d := range r.Values.DeniedValues {
			if match(d, value) {
				return false
			}
		}
		allowed = append(allowed, r.Values.AllowedValues...)
	}
	if len(allowed) == 0 {
		return true
	}
	for _, a := range allowed {
		if match(a, value) {
			return true
		}
	}
	return false
}

func exactMatch(policyValue, value string) bool {
	return strings.TrimPrefix(policyValue, "is:") == value
}

// locationMatch matches a location (region or zone) against a value of
// constraints/gcp.resourceLocations: the location itself, its region, or a value group
// in:REGION-locations or in:MULTIREGION-locations (in:us-locations covers us-west2).
func locationMatch(policyValue, location string) bool {
	v := strings.TrimPrefix(policyValue, "is:")
	region := regionOf(location)
	if v == location || v == region {
		return true
	}
	if g, ok := strings.CutPrefix(v, "in:"); ok {
		g = strings.TrimSuffix(g, "-locations")
		return g == region || g == location || strings.HasPrefix(region, g+"-")
	}
	return false
}

// subnetMatch matches a subnetwork against a value of
// constraints/compute.restrictSharedVpcSubnetworks: the subnetwork itself, or under:projects/P.
func subnetMatch(policyValue, subnet string) bool {
	v := strings.TrimPrefix(policyValue, "is:")
	subnet = shortLink(subnet)
	if u, ok := strings.CutPrefix(v, "under:"); ok {
		// A folder or the organisation holds every subnetwork this check can see.
		return !strings.HasPrefix(u, "projects/") || strings.HasPrefix(subnet, u+"/")
	}
	return shortLink(v) == subnet
}

// machineCPUs is how many vCPUs a machine type has: the last number of a predefined type
// (e2-standard-4), the first of a custom one (custom-4-16384), and 2 for the shared-core types
// (e2-medium), as Compute Engine counts them against the CPUS quota.
func machineCPUs(machineType string) float64 {
	mt := machineType[strings.LastIndex(machineType, "/")+1:]
	parts := strings.Split(mt, "-")
	pick := parts[len(parts)-1]
	if strings.Contains(mt, "custom-") {
		for _, p := range parts {
			if p != "" && strings.Trim(p, "0123456789") == "" {
				pick = p
				break
			}
		}
	}
	var n int
	if _, err := fmt.Sscanf(pick, "%d", &n); err == nil && n > 0 {
		return float64(n)
	}
	return 2
}

// zonesOf is how many zones a node pool's nodes are spread over: the three of a region, or one
// zone.
func zonesOf(location string) int {
	if regionOf(location) != location {
		return 1
	}
	return 3
}

// projectOf is the project of a resource name or link (…projects/P/…).
func projectOf(ref string) string { return segmentAfter(shortLink(ref), "projects") }

func osLoginOf(in *computepb.Instance) string {
	for _, it := range in.GetMetadata().GetItems() {
		if it.GetKey() == osLoginKey {
			return it.GetValue()
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

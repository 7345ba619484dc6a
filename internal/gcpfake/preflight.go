package gcpfake

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	orgpolicy "google.golang.org/api/orgpolicy/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// What a caller learns before it changes anything: the quotas of Compute Engine regions and
// projects (limits configured with SetQuotaLimit or POST /_fake/quotas, generous by default, usage
// counted from what the store holds), the organisation policies in effect on a project (set with
// SetOrgPolicy or POST /_fake/orgpolicies, none by default), and testIamPermissions on subnetworks
// (answered, like the project's, from the denials).

// QuotaLimit sets the limit of one Compute Engine quota.
type QuotaLimit struct {
	// Project is the project whose quota it is; empty means every project.
	Project string `json:"project,omitempty"`
	// Region is the region of a regional quota (CPUS, IN_USE_ADDRESSES); empty means the
	// project-wide quota (FIREWALLS, ROUTERS, NETWORKS, SUBNETWORKS).
	Region string `json:"region,omitempty"`
	// Metric is the quota's name as Compute Engine reports it, e.g. CPUS.
	Metric string  `json:"metric"`
	Limit  float64 `json:"limit"`
}

// OrgPolicy is a policy set on a project (or on every project) for one constraint, as the
// Organization Policy API v2 writes it: rules of allowed and denied values, allowAll, denyAll or
// enforce. getEffectivePolicy answers it for the project.
type OrgPolicy struct {
	// Project is the project the policy applies to; empty means every project (as if set on the
	// organisation).
	Project string `json:"project,omitempty"`
	// Constraint is its name, e.g. constraints/gcp.resourceLocations.
	Constraint string                                                  `json:"constraint"`
	Rules      []*orgpolicy.GoogleCloudOrgpolicyV2PolicySpecPolicyRule `json:"rules"`
}

// preflightState holds the quota limits and organisation policies tests configure.
type preflightState struct {
	mu       sync.Mutex
	limits   []QuotaLimit
	policies []OrgPolicy
}

// Default quota limits: generous, as in a project whose quotas were raised.
var (
	defaultRegionQuotas  = map[string]float64{"CPUS": 2400, "IN_USE_ADDRESSES": 690, "INSTANCES": 6000}
	defaultProjectQuotas = map[string]float64{"FIREWALLS": 500, "NETWORKS": 50, "SUBNETWORKS": 300, "ROUTERS": 50}
)

// SetQuotaLimit sets a quota's limit; a later limit for the same quota replaces an earlier one.
func (s *Server) SetQuotaLimit(q QuotaLimit) {
	s.pre.mu.Lock()
	defer s.pre.mu.Unlock()
	s.pre.limits = append(s.pre.limits, q)
}

// SetOrgPolicy sets the policy of a constraint; a later policy for the same project and
// constraint replaces an earlier one.
func (s *Server) SetOrgPolicy(p OrgPolicy) {
	s.pre.mu.Lock()
	defer s.pre.mu.Unlock()
	s.pre.policies = append(s.pre.policies, p)
}

// ClearPreflight puts every quota back to its default and removes every organisation policy.
func (s *Server) ClearPreflight() {
	s.pre.mu.Lock()
	defer s.pre.mu.Unlock()
	s.pre.limits, s.pre.policies = nil, nil
}

// limit is the limit of a quota in a project (region empty: the project-wide one).
func (s *Server) limit(project, region, metric string) float64 {
	s.pre.mu.Lock()
	defer s.pre.mu.Unlock()
	l := defaultProjectQuotas[metric]
	if region != "" {
		l = defaultRegionQuotas[metric]
	}
	for _, q := range s.pre.limits {
		if q.Metric == metric && q.Region == region && (q.Project == "" || q.Project == project) {
			l = q.Limit
		}
	}
	return l
}

// machineCPUs is how many vCPUs a machine type has: the last number of a predefined type
// (e2-standard-4), the first of a custom one (custom-4-16384), 2 for the shared-core types.
func machineCPUs(machineType string) float64 {
	mt := machineType[strings.LastIndex(machineType, "/")+1:]
	parts := strings.Split(mt, "-")
	if strings.Contains(mt, "custom-") {
		for _, p := range parts {
			if n, err := strconv.Atoi(p); err == nil {
				return float64(n)
			}
		}
	}
	if n, err := strconv.Atoi(parts[len(parts)-1]); err == nil {
		return float64(n)
	}
	return 2
}

// usage counts what a project uses of each quota, from the store: vCPUs of node pools and
// instances and NAT gateways (one address each) per region, and firewall rules, networks,
// subnetworks and routers across the project. The store lock is held.
func (s *Server) usage(project string) (regional map[string]map[string]float64, global map[string]float64) {
	regional = map[string]map[string]float64{}
	add := func(region, metric string, n float64) {
		if regional[region] == nil {
			regional[region] = map[string]float64{}
		}
		regional[region][metric] += n
	}
	for _, k := range s.st.match("container/projects/" + project + "/locations/*/clusters/*") {
		c, ok := s.st.get(k).(*containerpb.Cluster)
		if !ok {
			continue
		}
		for _, np := range c.NodePools {
			zones := len(np.Locations)
			if zones == 0 {
				zones = len(zonesFor(c.Location))
			}
			n := float64(np.InitialNodeCount) * float64(zones)
			add(regionOf(c.Location), "CPUS", n*machineCPUs(np.GetConfig().GetMachineType()))
			add(regionOf(c.Location), "INSTANCES", n)
		}
	}
	for _, k := range s.st.match("compute/projects/" + project + "/zones/*/instances/*") {
		in, ok := s.st.get(k).(*computepb.Instance)
		if !ok {
			continue
		}
		zone := strings.Split(k, "/")[4]
		add(regionOf(zone), "CPUS", machineCPUs(in.GetMachineType()))
		add(regionOf(zone), "INSTANCES", 1)
	}
	global = map[string]float64{}
	for _, k := range s.st.match("compute/projects/" + project + "/regions/*/routers/*") {
		global["ROUTERS"]++
		if r, ok := s.st.get(k).(*computepb.Router); ok {
			add(strings.Split(k, "/")[4], "IN_USE_ADDRESSES", float64(len(r.GetNats())))
		}
	}
	global["FIREWALLS"] = float64(len(s.st.match("compute/projects/" + project + "/global/firewalls/*")))
	global["NETWORKS"] = float64(len(s.st.match("compute/projects/" + project + "/global/networks/*")))
	global["SUBNETWORKS"] = float64(len(s.st.match("compute/projects/" + project + "/regions/*/subnetworks/*")))
	return regional, global
}

// quotas lists a region's quotas (region empty: the project's), sorted by metric. The store lock
// is held.
func (s *Server) quotas(project, region string) []*computepb.Quota {
	regional, global := s.usage(project)
	used, defaults := global, defaultProjectQuotas
	if region != "" {
		used, defaults = regional[region], defaultRegionQuotas
	}
	var metrics []string
	for m := range defaults {
		metrics = append(metrics, m)
	}
	sort.Strings(metrics)
	out := make([]*computepb.Quota, 0, len(metrics))
	for _, m := range metrics {
		out = append(out, &computepb.Quota{Metric: proto.String(m), Limit: proto.Float64(s.limit(project, region, m)), Usage: proto.Float64(used[m])})
	}
	return out
}

// --- Regions ---

type regions struct {
	computepb.UnimplementedRegionsServer
	s *Server
}

// regionRE accepts what Google's region names look like (us-west2, europe-north1).
var regionRE = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+$`)

func (s *Server) region(project, region string) *computepb.Region {
	fqn := "projects/" + project + "/regions/" + region
	r := &computepb.Region{Kind: proto.String("compute#region"), Id: proto.Uint64(s.st.nextID("region/" + region)), Name: proto.String(region),
		Description: proto.String(region), Status: proto.String("UP"), SelfLink: proto.String(computeLink(fqn)), Quotas: s.quotas(project, region)}
	for _, z := range zonesFor(region) {
		r.Zones = append(r.Zones, computeLink("projects/"+project+"/zones/"+z))
	}
	return r
}

func (x *regions) Get(ctx context.Context, req *computepb.GetRegionRequest) (*computepb.Region, error) {
	defer x.s.lock(req.Project)()
	if err := x.s.requireService(req.Project, "compute.googleapis.com"); err != nil {
		return nil, err
	}
	if !regionRE.MatchString(req.Region) {
		return nil, computeNotFound("projects/" + req.Project + "/regions/" + req.Region)
	}
	return x.s.region(req.Project, req.Region), nil
}

func (x *regions) List(ctx context.Context, req *computepb.ListRegionsRequest) (*computepb.RegionList, error) {
	defer x.s.lock(req.Project)()
	if err := x.s.requireService(req.Project, "compute.googleapis.com"); err != nil {
		return nil, err
	}
	out := &computepb.RegionList{Kind: proto.String("compute#regionList"), Id: proto.String("projects/" + req.Project + "/regions"),
		SelfLink: proto.String(computeLink("projects/" + req.Project + "/regions"))}
	for _, a := range autoSubnets {
		out.Items = append(out.Items, x.s.region(req.Project, a.region))
	}
	return out, nil
}

// --- Subnetwork permissions ---

func (x *subnetworks) TestIamPermissions(ctx context.Context, req *computepb.TestIamPermissionsSubnetworkRequest) (*computepb.TestPermissionsResponse, error) {
	s := x.s
	defer s.lock(req.Project)()
	fqn := "projects/" + req.Project + "/regions/" + req.Region + "/subnetworks/" + req.Resource
	if s.st.get("compute/"+fqn) == nil {
		return nil, computeNotFound(fqn)
	}
	return &computepb.TestPermissionsResponse{Permissions: s.granted(s.callerOf(ctx), req.GetTestPermissionsRequestResource().GetPermissions())}, nil
}

// --- Organization Policy ---

// orgPolicyRoute matches getEffectivePolicy of a project's constraint in the Organization Policy
// API v2, the call gcloud org-policies describe --effective makes.
var orgPolicyRoute = regexp.MustCompile(`^(?:/orgpolicy)?/v2/projects/([^/]+)/policies/([^/:]+):getEffectivePolicy$`)

// orgPolicy serves getEffectivePolicy: the policy set on the project for the constraint, else
// the one set on every project, else an empty one (the constraint's default). A caller denied
// orgpolicy.policy.get is refused with 403, as a caller without roles/orgpolicy.policyViewer is.
func (s *Server) orgPolicy(w http.ResponseWriter, r *http.Request) {
	m := orgPolicyRoute.FindStringSubmatch(r.URL.Path)
	s.ctl.mu.Lock()
	s.ctl.counters["OrgPolicy/GetEffectivePolicy"]++
	s.ctl.mu.Unlock()
	if r.Method != http.MethodGet {
		writeError(w, false, &Error{Code: codes.Unimplemented, HTTP: 405, Message: "getEffectivePolicy is a GET"})
		return
	}
	project, constraint := m[1], "constraints/"+m[2]
	ctx := withHTTP(r.Context(), r)
	if len(s.granted(s.callerOf(ctx), []string{"orgpolicy.policy.get"})) == 0 {
		writeError(w, false, &Error{Code: codes.PermissionDenied, HTTP: 403, Reason: "forbidden",
			Message: fmt.Sprintf("Permission 'orgpolicy.policy.get' denied on resource '//cloudresourcemanager.googleapis.com/projects/%s' (or it may not exist).", project)})
		return
	}
	unlock := s.lock(project)
	num := projectNumber(project)
	unlock()
	out := &orgpolicy.GoogleCloudOrgpolicyV2Policy{Name: fmt.Sprintf("projects/%d/policies/%s", num, m[2]), Spec: &orgpolicy.GoogleCloudOrgpolicyV2PolicySpec{}}
	s.pre.mu.Lock()
	var found *OrgPolicy
	for i, p := range s.pre.policies {
		if p.Constraint != constraint {
			continue
		}
		if p.Project == project || (p.Project == "" && (found == nil || found.Project == "")) {
			found = &s.pre.policies[i]
		}
	}
	if found != nil {
		out.Spec.Rules = found.Rules
	}
	s.pre.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(out)
}

// adminQuotas serves /_fake/quotas: GET lists the limits set, POST sets one ({"project",
// "region", "metric", "limit"}), DELETE puts every quota back to its default (and clears the
// organisation policies with it).
func (s *Server) adminQuotas(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodDelete:
		s.ClearPreflight()
	case http.MethodPost:
		var q QuotaLimit
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil || q.Metric == "" {
			http.Error(w, fmt.Sprintf("bad quota (want {\"project\": \"p\", \"region\": \"us-west2\", \"metric\": \"CPUS\", \"limit\": 8}): %v", err), http.StatusBadRequest)
			return
		}
		s.SetQuotaLimit(q)
	default:
		http.Error(w, "GET, POST or DELETE", http.StatusMethodNotAllowed)
		return
	}
	s.pre.mu.Lock()
	out := append([]QuotaLimit{}, s.pre.limits...)
	s.pre.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// adminOrgPolicies serves /_fake/orgpolicies: GET lists the policies set, POST sets one
// ({"project", "constraint", "rules": [...]}).
func (s *Server) adminOrgPolicies(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		var p OrgPolicy
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil || !strings.HasPrefix(p.Constraint, "constraints/") {
			http.Error(w, fmt.Sprintf("bad policy (want {\"project\": \"p\", \"constraint\": \"constraints/gcp.resourceLocations\", \"rules\": [{\"values\": {\"allowedValues\": [\"in:europe-locations\"]}}]}): %v", err), http.StatusBadRequest)
			return
		}
		s.SetOrgPolicy(p)
	default:
		http.Error(w, "GET or POST", http.StatusMethodNotAllowed)
		return
	}
	s.pre.mu.Lock()
	out := append([]OrgPolicy{}, s.pre.policies...)
	s.pre.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

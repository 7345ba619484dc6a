package verify

import (
	"context"
	"fmt"
	"path"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
)

// DocPage is the page that explains every check and its remedy, one section per check.
const DocPage = "docs/verify.md"

// Check is one verification: an ID that never changes (it names the check in output, JSON, JUnit
// and docs), a name, what it requires, and Run, which returns findings and never prints.
type Check struct {
	ID   string
	Name string
	// Requires are what the check needs of the environment. When one is not met, Run is not
	// called and the check is reported skipped with the reason, never failed.
	Requires []Requirement
	Run      func(ctx context.Context, env *Env) []Finding
}

// Group is the middle of the ID (NET of ASMFED-NET-002): the checks of a group live in one file.
func (c Check) Group() string {
	parts := strings.Split(c.ID, "-")
	if len(parts) < 3 {
		return c.ID
	}
	return parts[1]
}

// Anchor is the check's section in DocPage: the heading is the ID, so the anchor is the ID in
// lower case.
func (c Check) Anchor() string { return strings.ToLower(c.ID) }

// Doc is DocPage with the check's anchor.
func (c Check) Doc() string { return DocPage + "#" + c.Anchor() }

// Requirement is one thing a check needs of the environment.
type Requirement struct {
	// Name says what is needed, e.g. "the network's firewall rules".
	Name string
	// Unmet says why the requirement is not met, or "" when it is.
	Unmet func(env *Env) string
}

var (
	needModel = Requirement{Name: "the federation's model", Unmet: func(env *Env) string {
		return unless(env.Derived != nil, "the federation could not be compiled")
	}}
	needPlan = Requirement{Name: "the plan of both layers", Unmet: func(env *Env) string {
		return unless(env.Pending != nil, "no plan was made")
	}}
	needFirewall = Requirement{Name: "the network's firewall rules", Unmet: func(env *Env) string {
		return unless(env.Firewall != nil, "the network's firewall rules were not read")
	}}
	needGKE = Requirement{Name: "the clusters as GKE reports them", Unmet: func(env *Env) string {
		return unless(env.GKE != nil, "the clusters were not read from GKE")
	}}
	needBastion = Requirement{Name: "the bastion VM as Compute Engine reports it", Unmet: func(env *Env) string {
		return unless(env.Bastion != nil, "the project's VMs were not read")
	}}
	needServices = Requirement{Name: "the projects' enabled APIs", Unmet: func(env *Env) string {
		return unless(env.EnabledServices != nil, "the projects' enabled APIs were not read")
	}}
	needCluster = Requirement{Name: "a cluster that can be reached", Unmet: func(env *Env) string {
		return unless(len(env.Clusters) > 0, "no cluster can be reached")
	}}
	needManaged = Requirement{Name: "a managed control plane", Unmet: func(env *Env) string {
		return unless(env.Federation.Spec.Mesh.ControlPlane == v1alpha1.ControlPlaneManaged, "in-cluster control plane")
	}}
	// needInCluster is met when istiod runs in the clusters and reads its peers' API servers
	// through remote secrets; a managed control plane discovers them itself (ASMFED-ACCESS-002).
	needInCluster = Requirement{Name: "an in-cluster control plane", Unmet: func(env *Env) string {
		return unless(env.Federation.Spec.Mesh.ControlPlane != v1alpha1.ControlPlaneManaged,
			"managed control plane: no istiod reads the peers' API servers, asm-options connects the clusters (ASMFED-ACCESS-002)")
	}}
)

func unless(ok bool, reason string) string {
	if ok {
		return ""
	}
	return reason
}

// Report is the outcome of a verification.
type Report struct {
	// Results are every check's findings, in the order of the checks.
	Results []Finding `json:"results"`
	// Checks are the checks that ran, each with the worst status of its findings and its section
	// of docs/verify.md, which says what it checks and the remedy.
	Checks []CheckResult `json:"checks"`
	Counts Counts        `json:"counts"`
}

// CheckResult is how one check ended: failed when a finding failed, else warning when one
// warned, else ok when one passed; skipped when every finding was skipped.
type CheckResult struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Group  string `json:"group"`
	Doc    string `json:"doc"`
	Status Status `json:"status"`
}

// Counts sums findings, and checks, by status.
type Counts struct {
	OK      int         `json:"ok"`
	Warn    int         `json:"warnings"`
	Fail    int         `json:"failed"`
	Skipped int         `json:"skipped"`
	Checks  CheckCounts `json:"checks"`
}

// CheckCounts sums checks by status.
type CheckCounts struct {
	Total   int `json:"total"`
	OK      int `json:"ok"`
	Warn    int `json:"warnings"`
	Fail    int `json:"failed"`
	Skipped int `json:"skipped"`
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool { return r.Counts.Fail > 0 }

// rank orders statuses for a check's status: the worst finding decides.
var rank = map[Status]int{Skipped: 0, OK: 1, Warn: 2, Fail: 3}

// Run runs checks, at most env.Parallelism at once, and reports them in the order given.
func Run(ctx context.Context, env *Env, checks []Check) *Report {
	found := make([][]Finding, len(checks))
	g := new(errgroup.Group)
	g.SetLimit(env.parallelism())
	for i, c := range checks {
		g.Go(func() error {
			found[i] = runCheck(ctx, env, c)
			return nil
		})
	}
	_ = g.Wait() // checks report problems as findings, never as errors
	r := &Report{Results: []Finding{}, Checks: []CheckResult{}}
	first := map[repeated]string{}
	for i, c := range checks {
		cr := CheckResult{ID: c.ID, Name: c.Name, Group: c.Group(), Doc: c.Doc(), Status: Skipped}
		for _, f := range found[i] {
			f = collapse(f, c.ID, first)
			f.Check, f.Name = c.ID, c.Name
			r.Results = append(r.Results, f)
			if rank[f.Status] > rank[cr.Status] {
				cr.Status = f.Status
			}
			switch f.Status {
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
		r.Checks = append(r.Checks, cr)
		r.Counts.Checks.Total++
		switch cr.Status {
		case OK:
			r.Counts.Checks.OK++
		case Warn:
			r.Counts.Checks.Warn++
		case Fail:
			r.Counts.Checks.Fail++
		case Skipped:
			r.Counts.Checks.Skipped++
		}
	}
	return r
}

// repeated is what makes two findings the same failure: checks that share a cause (the traffic
// probes, when the probe's pods never started in a cluster) return it word for word.
type repeated struct {
	subject, message, hint string
	status                 Status
}

// collapse reports a failure or warning once: a later check that found the same one, word for
// word, still fails or warns for that subject, but refers to the first check instead of repeating
// a message and hint that may run to several lines.
func collapse(f Finding, check string, first map[repeated]string) Finding {
	if (f.Status != Fail && f.Status != Warn) || f.Message == "" {
		return f
	}
	key := repeated{subject: f.Subject, message: f.Message, hint: f.Hint, status: f.Status}
	earlier, ok := first[key]
	if !ok {
		first[key] = check
		return f
	}
	f.Message = fmt.Sprintf("the same failure as %s reports for %s", earlier, subjectOrAll(f.Subject))
	if f.Status == Warn {
		f.Message = fmt.Sprintf("the same warning as %s reports for %s", earlier, subjectOrAll(f.Subject))
	}
	f.Hint = ""
	return f
}

func subjectOrAll(s string) string {
	if s == "" {
		return "the federation"
	}
	return s
}

// runCheck runs one check when its requirements are met; a check with nothing to look at says so.
func runCheck(ctx context.Context, env *Env, c Check) []Finding {
	for _, req := range c.Requires {
		if why := req.Unmet(env); why != "" {
			return []Finding{{Status: Skipped, Message: why}}
		}
	}
	out := c.Run(ctx, env)
	if len(out) == 0 {
		return []Finding{{Status: Skipped, Message: "nothing to check"}}
	}
	return out
}

func (env *Env) parallelism() int {
	if env.Parallelism > 0 {
		return env.Parallelism
	}
	return 8
}

// forEach calls fn for every item, at most env.Parallelism at once, and returns the findings in
// the order of items, whatever order the calls finish in.
func forEach[T any](ctx context.Context, env *Env, items []T, fn func(ctx context.Context, item T) []Finding) []Finding {
	found := make([][]Finding, len(items))
	g := new(errgroup.Group)
	g.SetLimit(env.parallelism())
	for i, it := range items {
		g.Go(func() error {
			found[i] = fn(ctx, it)
			return nil
		})
	}
	_ = g.Wait()
	var out []Finding
	for _, f := range found {
		out = append(out, f...)
	}
	return out
}

// Select keeps the checks whose ID matches a pattern of only (every check when only is empty)
// and no pattern of skip. A pattern is an ID or a glob of path.Match (ASMFED-NET-*), compared
// without regard to case. A pattern that matches no check is an error: a typo must not quietly
// run everything, or nothing.
func Select(checks []Check, only, skip []string) ([]Check, error) {
	matchAny := func(flag string, patterns []string) (map[string]bool, error) {
		hit := map[string]bool{}
		for _, p := range patterns {
			n := 0
			for _, c := range checks {
				ok, err := path.Match(strings.ToUpper(p), strings.ToUpper(c.ID))
				if err != nil {
					return nil, fmt.Errorf("--%s %q: %w", flag, p, err)
				}
				if ok {
					hit[c.ID] = true
					n++
				}
			}
			if n == 0 {
				return nil, fmt.Errorf("--%s %q matches no check: the IDs are listed in kubectl asmfed verify --help and %s", flag, p, DocPage)
			}
		}
		return hit, nil
	}
	keep, err := matchAny("only", only)
	if err != nil {
		return nil, err
	}
	drop, err := matchAny("skip", skip)
	if err != nil {
		return nil, err
	}
	var out []Check
	for _, c := range checks {
		if (len(only) == 0 || keep[c.ID]) && !drop[c.ID] {
			out = append(out, c)
		}
	}
	return out, nil
}

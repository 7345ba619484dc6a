package gcpfake_test

import (
	"strings"
	"testing"

	orgpolicy "google.golang.org/api/orgpolicy/v2"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

// quota finds a metric in gcloud's list of quotas.
func quota(t *testing.T, v any, metric string) map[string]any {
	t.Helper()
	list, _ := field(v, "quotas").([]any)
	for _, q := range list {
		if m, ok := q.(map[string]any); ok && m["metric"] == metric {
			return m
		}
	}
	t.Fatalf("no quota %s in %v", metric, v)
	return nil
}

// What preflight reads, read by gcloud: a region's and a project's quotas with limits as
// configured and usage counted from what exists, the project's IAM policy, and the organisation
// policy in effect, refused to a caller denied orgpolicy.policy.get.
func TestGcloudPreflightFidelity(t *testing.T) {
	srv := gcpfake.Start(t)
	g := newGcloud(t, srv)

	srv.SetQuotaLimit(gcpfake.QuotaLimit{Region: "us-west2", Metric: "CPUS", Limit: 16})
	region := g.ok(t, "compute", "regions", "describe", "us-west2", "--project", "demo")
	want(t, region, "name", "us-west2")
	want(t, region, "status", "UP")
	cpus := quota(t, region, "CPUS")
	want(t, cpus, "limit", 16)
	want(t, cpus, "usage", 0)
	if q := quota(t, g.ok(t, "compute", "regions", "describe", "europe-west1", "--project", "demo"), "CPUS"); q["limit"] != float64(2400) {
		t.Errorf("another region's CPUS limit: %v, want the default 2400", q["limit"])
	}

	before := quota(t, g.ok(t, "compute", "project-info", "describe", "--project", "demo"), "FIREWALLS")["usage"].(float64)
	g.ok(t, "compute", "firewall-rules", "create", "allow-ssh", "--project", "demo", "--network", "default", "--allow", "tcp:22", "--source-ranges", "35.235.240.0/20")
	after := quota(t, g.ok(t, "compute", "project-info", "describe", "--project", "demo"), "FIREWALLS")["usage"].(float64)
	if after != before+1 {
		t.Errorf("FIREWALLS usage %v after creating a rule, want %v", after, before+1)
	}

	policy := g.ok(t, "projects", "get-iam-policy", "demo")
	if etag, _ := field(policy, "etag").(string); etag == "" {
		t.Errorf("get-iam-policy: no etag in %v", policy)
	}

	srv.SetOrgPolicy(gcpfake.OrgPolicy{Constraint: "constraints/gcp.resourceLocations",
		Rules: []*orgpolicy.GoogleCloudOrgpolicyV2PolicySpecPolicyRule{{Values: &orgpolicy.GoogleCloudOrgpolicyV2PolicySpecPolicyRuleStringValues{AllowedValues: []string{"in:europe-locations"}}}}})
	eff := g.ok(t, "org-policies", "describe", "constraints/gcp.resourceLocations", "--effective", "--project", "demo")
	want(t, eff, "spec.rules.0.values.allowedValues.0", "in:europe-locations")
	if name, _ := field(eff, "name").(string); !strings.HasSuffix(name, "/policies/gcp.resourceLocations") {
		t.Errorf("effective policy name %q", name)
	}

	srv.DenyPermission(gcpfake.Denial{Permission: "orgpolicy.policy.get"})
	g.fails(t, "orgpolicy.policy.get", "org-policies", "describe", "constraints/gcp.resourceLocations", "--effective", "--project", "demo")
}

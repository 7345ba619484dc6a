package plan

import (
	"bytes"
	"fmt"
	"strings"
)

// Preflight is what stands in the way of a plan, found before anything is created
// (docs/preflight.md): permissions the caller lacks, quotas the plan would exceed, organisation
// policies that would refuse it, and what could not be checked.
type Preflight struct {
	// Permissions are the permissions the plan needs and the caller does not hold. Apply refuses
	// to start while there is one.
	Permissions []MissingPermission `json:"permissions"`
	// Quotas are the quotas the plan would exceed, with the numbers.
	Quotas []QuotaShortfall `json:"quotas"`
	// Constraints are the organisation policies in effect that would refuse a change.
	Constraints []ConstraintViolation `json:"constraints"`
	// Unchecked says what could not be checked, and why (a read the caller may not make).
	Unchecked []string `json:"unchecked,omitempty"`
}

// MissingPermission is a permission the caller lacks on a project or subnetwork.
type MissingPermission struct {
	Project string `json:"project"`
	// Resource is where the permission is checked: projects/P, or a subnetwork
	// projects/P/regions/R/subnetworks/S.
	Resource   string `json:"resource"`
	Permission string `json:"permission"`
	// Roles are the narrowest predefined roles that grant it.
	Roles []string `json:"roles"`
	// NeededBy are the addresses of the changes that need it (or the apply's lock).
	NeededBy []string `json:"neededBy"`
}

// QuotaShortfall is a Compute Engine quota the plan would exceed: Needed more on top of Usage
// is over Limit.
type QuotaShortfall struct {
	Project string `json:"project"`
	// Region is the quota's region; empty for a project-wide quota (firewall rules, routers).
	Region string  `json:"region,omitempty"`
	Metric string  `json:"metric"`
	Needed float64 `json:"needed"`
	Usage  float64 `json:"usage"`
	Limit  float64 `json:"limit"`
}

// ConstraintViolation is an organisation policy constraint in effect on a project that would
// refuse changes of the plan.
type ConstraintViolation struct {
	Project    string `json:"project"`
	Constraint string `json:"constraint"`
	// Blocks says what the policy refuses and why.
	Blocks    string    `json:"blocks"`
	Addresses []Address `json:"addresses"`
}

// Empty reports whether preflight found nothing.
func (p *Preflight) Empty() bool {
	return p == nil || len(p.Permissions)+len(p.Quotas)+len(p.Constraints)+len(p.Unchecked) == 0
}

// PreflightError refuses to apply a plan for which the caller lacks permissions.
type PreflightError struct {
	Missing []MissingPermission
}

func (e *PreflightError) Error() string {
	var b strings.Builder
	b.WriteString("preflight: the caller lacks permissions the plan needs, and nothing was changed:")
	for _, m := range e.Missing {
		fmt.Fprintf(&b, "\n  %s on %s (granted by %s)", m.Permission, m.Resource, strings.Join(m.Roles, " or "))
	}
	b.WriteString("\ngrant the roles (docs/preflight.md) and run again, or pass --skip-preflight if the check is wrong")
	return b.String()
}

// CheckPreflight refuses, before anything changes, a plan for which preflight found missing
// permissions (a *PreflightError). Quota shortfalls and organisation policies are reported, not
// refused: the checks cannot see every exemption.
func (p *Plan) CheckPreflight() error {
	if p.Preflight == nil || len(p.Preflight.Permissions) == 0 {
		return nil
	}
	return &PreflightError{Missing: p.Preflight.Permissions}
}

// preflight writes the preflight's findings.
func (r TextRenderer) preflight(b *bytes.Buffer, p *Plan) {
	f := p.Preflight
	if f.Empty() {
		return
	}
	fmt.Fprintf(b, "\n%s\n", r.paint(ansiBold, "# preflight: what stands in the way of apply"))
	for _, m := range f.Permissions {
		fmt.Fprintf(b, "  %s missing permission %s on %s\n", r.paint(ansiRed, "!"), m.Permission, m.Resource)
		fmt.Fprintf(b, "      %s %s\n", r.paint(ansiDim, "granted by:"), strings.Join(m.Roles, " or "))
		fmt.Fprintf(b, "      %s %s\n", r.paint(ansiDim, "needed by:"), strings.Join(m.NeededBy, ", "))
	}
	for _, q := range f.Quotas {
		where := "project " + q.Project
		if q.Region != "" {
			where = fmt.Sprintf("region %s of project %s", q.Region, q.Project)
		}
		fmt.Fprintf(b, "  %s quota %s in %s: the plan needs %s more, %s of %s are in use\n", r.paint(ansiYellow, "‼"), q.Metric, where,
			number(q.Needed), number(q.Usage), number(q.Limit))
	}
	for _, c := range f.Constraints {
		fmt.Fprintf(b, "  %s %s on project %s: %s\n", r.paint(ansiYellow, "‼"), c.Constraint, c.Project, c.Blocks)
		fmt.Fprintf(b, "      %s %s\n", r.paint(ansiDim, "blocks:"), joinAddresses(c.Addresses))
	}
	for _, u := range f.Unchecked {
		fmt.Fprintf(b, "  %s not checked: %s\n", r.paint(ansiDim, "?"), u)
	}
	if len(f.Permissions) > 0 {
		fmt.Fprintf(b, "  apply refuses to start until the permissions are granted (or with --skip-preflight)\n")
	}
}

func joinAddresses(as []Address) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// number prints a quota figure without a fraction when it has none.
func number(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprint(int64(v))
	}
	return fmt.Sprintf("%g", v)
}

package gcplayer

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"cloud.google.com/go/iam/apiv1/iampb"
	"golang.org/x/sync/errgroup"
	iam "google.golang.org/api/iam/v1"
	sqladmin "google.golang.org/api/sqladmin/v1"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// The Cloud SQL add-on's Google Cloud side: the proxy's service accounts (owned by the mark in
// their description), roles/cloudsql.client on the instances' projects and
// roles/iam.workloadIdentityUser on the service accounts. A binding is the federation's when its
// member (roles/cloudsql.client) or its resource (roles/iam.workloadIdentityUser) is a service
// account the federation owns: that is what lets destroy remove them, and nothing else of the
// policies is touched. The instances are read, never changed.

// cloudSQLSnapshot is what the add-on reads.
type cloudSQLSnapshot struct {
	// accounts are the service accounts of the projects the add-on creates them in, by email.
	accounts map[string]*iam.ServiceAccount
	// saPolicies are the bindings (role → members) of the service accounts the file names that
	// exist, by email.
	saPolicies map[string]map[string]map[string]bool
	// instances are the Cloud SQL instances of the instances' projects, by connection name.
	instances map[string]*sqladmin.DatabaseInstance
	// noSQLAPI are the projects whose Cloud SQL Admin API is off: they have no instances.
	noSQLAPI map[string]bool
}

// saPolicyRef is the msg of a binding on a service account's own policy.
type saPolicyRef struct{ project, email string }

func cloudSQLProjects(d *federation.Desired) (accountProjects, instanceProjects []string) {
	ap, ip := map[string]bool{}, map[string]bool{}
	for _, a := range d.CloudSQL {
		ap[a.ServiceAccount.Project] = true
		ip[a.Project] = true
	}
	for p := range ap {
		accountProjects = append(accountProjects, p)
	}
	for p := range ip {
		instanceProjects = append(instanceProjects, p)
	}
	sort.Strings(accountProjects)
	sort.Strings(instanceProjects)
	return accountProjects, instanceProjects
}

// readCloudSQL reads, in the snapshot's round, the service accounts of the add-on's projects,
// the instances of its instances' projects; then the policies of the service accounts that exist.
func (e *Layer) readCloudSQL(ctx context.Context, d *federation.Desired) (*cloudSQLSnapshot, error) {
	s := &cloudSQLSnapshot{accounts: map[string]*iam.ServiceAccount{}, saPolicies: map[string]map[string]map[string]bool{},
		instances: map[string]*sqladmin.DatabaseInstance{}, noSQLAPI: map[string]bool{}}
	if len(d.CloudSQL) == 0 {
		return s, nil
	}
	accountProjects, instanceProjects := cloudSQLProjects(d)
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for _, p := range accountProjects {
		g.Go(func() error {
			sas, err := e.gcp.ServiceAccounts(gctx, p)
			if gcp.IsKind(err, gcp.KindAPINotEnabled) {
				return nil // none yet: the plan enables the IAM API first
			}
			mu.Lock()
			defer mu.Unlock()
			for _, sa := range sas {
				s.accounts[sa.Email] = sa
			}
			return err
		})
	}
	for _, p := range instanceProjects {
		g.Go(func() error {
			ins, err := e.gcp.SQLInstances(gctx, p)
			mu.Lock()
			defer mu.Unlock()
			if gcp.IsKind(err, gcp.KindAPINotEnabled) {
				// An instance exists only where its API is on.
				s.noSQLAPI[p] = true
				return nil
			}
			for _, in := range ins {
				s.instances[in.ConnectionName] = in
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	g, gctx = errgroup.WithContext(ctx)
	read := map[string]bool{}
	for _, a := range d.CloudSQL {
		sa := a.ServiceAccount
		// Instances may share an account: its policy is read once.
		if s.accounts[sa.Email] == nil || read[sa.Email] {
			continue
		}
		read[sa.Email] = true
		g.Go(func() error {
			p, err := e.gcp.ServiceAccountIAMPolicy(gctx, sa.Project, sa.Email)
			if isNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			members := map[string]map[string]bool{}
			for _, b := range p.Bindings {
				members[b.Role] = setOf(b.Members)
			}
			mu.Lock()
			s.saPolicies[sa.Email] = members
			mu.Unlock()
			return nil
		})
	}
	return s, g.Wait()
}

// cloudSQLFacts are the instances as the compiler needs them.
func (s *cloudSQLSnapshot) facts(d *federation.Desired) map[string]federation.CloudSQLFacts {
	if s == nil {
		return nil
	}
	out := map[string]federation.CloudSQLFacts{}
	for _, a := range d.CloudSQL {
		in := s.instances[a.ConnectionName]
		if in == nil {
			out[a.ConnectionName] = federation.CloudSQLFacts{}
			continue
		}
		f := federation.CloudSQLFacts{Found: true, State: in.State}
		for _, ip := range in.IpAddresses {
			switch ip.Type {
			case "PRIVATE":
				f.PrivateIP = ip.IpAddress
			case "PRIMARY":
				f.PublicIP = ip.IpAddress
			}
		}
		if c := in.Settings; c != nil && c.IpConfiguration != nil {
			f.PrivateNetwork = c.IpConfiguration.PrivateNetwork
			for _, n := range c.IpConfiguration.AuthorizedNetworks {
				f.AuthorizedNetworks = append(f.AuthorizedNetworks, n.Value)
			}
		}
		out[a.ConnectionName] = f
	}
	return out
}

// cloudSQLDesired are the add-on's service accounts and bindings as plan resources.
func cloudSQLDesired(d *federation.Desired) []*object {
	var out []*object
	pools := map[string][]plan.Address{}
	for _, cd := range d.Clusters {
		if cd.WorkloadPool != "" {
			pools[cd.WorkloadPool] = append(pools[cd.WorkloadPool], cd.Address)
		}
	}
	seen := map[plan.Address]bool{}
	for _, a := range d.CloudSQL {
		sa := a.ServiceAccount
		if !seen[sa.Address] {
			seen[sa.Address] = true
			out = append(out, &object{res: plan.Resource{Address: sa.Address, Kind: plan.KindServiceAccount, Group: "project " + sa.Project, Reason: sa.Reason,
				Fields: map[string]any{"email": sa.Email, "mark": federation.DescriptionMarker(d.Federation)}, DependsOn: []plan.Address{plan.APIAddress(sa.Project, "iam.googleapis.com")}},
				msg: &iam.ServiceAccount{Email: sa.Email, DisplayName: sa.DisplayName, Description: sa.Description}, project: sa.Project, parent: sa.AccountID})
		}
		for _, b := range a.Bindings {
			if seen[b.Address] {
				continue
			}
			seen[b.Address] = true
			o := &object{res: plan.Resource{Address: b.Address, Kind: plan.KindIAMBinding, Group: "project " + sa.Project, Reason: b.Reason,
				Fields: map[string]any{"role": b.Role, "member": b.Member}, DependsOn: []plan.Address{sa.Address}}, project: a.Project}
			if b.Role == federation.RoleWorkloadIdentityUser {
				o.msg, o.project = saPolicyRef{project: sa.Project, email: sa.Email}, sa.Project
				// IAM takes a workload pool's members once a cluster of its project has the pool.
				pool := b.Member[strings.Index(b.Member, ":")+1 : strings.Index(b.Member, "[")]
				o.res.DependsOn = append(o.res.DependsOn, pools[pool]...)
			}
			out = append(out, o)
		}
	}
	return out
}

// liveCloudSQL turns what was read into plan resources: the service accounts the file names or
// the federation owns, and the bindings of them that exist.
func liveCloudSQL(d *federation.Desired, s *cloudSQLSnapshot, s2 *snapshot) []*object {
	if s == nil {
		return nil
	}
	fed := d.Federation
	owned := map[string]bool{}
	var out []*object
	wanted := map[string]bool{}
	for _, a := range d.CloudSQL {
		wanted[a.ServiceAccount.Email] = true
	}
	_, instanceProjects := cloudSQLProjects(d)
	for _, email := range sortedKeys(s.accounts) {
		sa := s.accounts[email]
		own := hasMarker(sa.Description, fed)
		owned[email] = own
		if !own && !wanted[email] {
			continue
		}
		// The mark is a field, so that an account of the file's name without it differs from the
		// one wanted and is a conflict, never taken over.
		mark := sa.Description
		if own {
			mark = federation.DescriptionMarker(fed)
		}
		out = append(out, &object{res: plan.Resource{Address: plan.ServiceAccountAddress(sa.ProjectId, email), Kind: plan.KindServiceAccount,
			Group: "project " + sa.ProjectId, Fields: map[string]any{"email": email, "mark": mark}, Owned: own}, msg: sa, project: sa.ProjectId, parent: strings.Split(email, "@")[0]})
	}
	// roles/cloudsql.client of owned service accounts on the instances' projects.
	for _, p := range instanceProjects {
		for member := range s2.policies["projects/"+p][federation.RoleCloudSQLClient] {
			email, ok := strings.CutPrefix(member, "serviceAccount:")
			if !ok || (!owned[email] && !wanted[email]) {
				continue
			}
			sa := s.accounts[email]
			deps := []plan.Address{}
			if sa != nil {
				deps = append(deps, plan.ServiceAccountAddress(sa.ProjectId, email))
			}
			out = append(out, &object{res: plan.Resource{Address: plan.IAMBindingAddress("projects/"+p, federation.RoleCloudSQLClient, member), Kind: plan.KindIAMBinding,
				Group: "project " + p, Fields: map[string]any{"role": federation.RoleCloudSQLClient, "member": member}, DependsOn: deps, Owned: owned[email]}, project: p})
		}
	}
	// roles/iam.workloadIdentityUser on the service accounts themselves.
	for _, email := range sortedKeys(s.saPolicies) {
		sa := s.accounts[email]
		res := "projects/" + sa.ProjectId + "/serviceAccounts/" + email
		members := s.saPolicies[email][federation.RoleWorkloadIdentityUser]
		for _, m := range sortedKeys(members) {
			out = append(out, &object{res: plan.Resource{Address: plan.IAMBindingAddress(res, federation.RoleWorkloadIdentityUser, m), Kind: plan.KindIAMBinding,
				Group: "project " + sa.ProjectId, Fields: map[string]any{"role": federation.RoleWorkloadIdentityUser, "member": m},
				DependsOn: []plan.Address{plan.ServiceAccountAddress(sa.ProjectId, email)}, Owned: owned[email]},
				msg: saPolicyRef{project: sa.ProjectId, email: email}, project: sa.ProjectId})
		}
	}
	return out
}

// cloudSQLBindingResources are the project policies the add-on's bindings are on.
func cloudSQLBindingResources(d *federation.Desired) []string {
	_, ps := cloudSQLProjects(d)
	for i, p := range ps {
		ps[i] = "projects/" + p
	}
	return ps
}

// createServiceAccount creates the proxy's service account with the federation's mark.
func (e *Layer) createServiceAccount(ctx context.Context, d *object) error {
	sa := d.msg.(*iam.ServiceAccount)
	return e.gcp.CreateServiceAccount(ctx, d.project, d.parent, sa.DisplayName, sa.Description)
}

// addSABinding adds a member to a role of a service account's policy, read-modify-write with the
// policy's etag.
func (e *Layer) addSABinding(ctx context.Context, ref saPolicyRef, role, member string) error {
	return e.retryPolicy(func() error {
		p, err := e.gcp.ServiceAccountIAMPolicy(ctx, ref.project, ref.email)
		if err != nil {
			return err
		}
		var changed bool
		p.Bindings, changed = withMember(p.Bindings, role, member, func(b *iam.Binding) string { return b.Role },
			func(b *iam.Binding) *[]string { return &b.Members },
			func() *iam.Binding { return &iam.Binding{Role: role, Members: []string{member}} })
		if !changed {
			return nil
		}
		return e.gcp.SetServiceAccountIAMPolicy(ctx, ref.project, ref.email, p)
	})
}

// removeBinding takes one member out of one role, and nothing else: on a service account's
// policy (gone with the account, which counts as done) or on a project's.
func (e *Layer) removeBinding(ctx context.Context, l *object) error {
	role, member := l.res.Fields["role"].(string), l.res.Fields["member"].(string)
	if ref, ok := l.msg.(saPolicyRef); ok {
		return e.retryPolicy(func() error {
			p, err := e.gcp.ServiceAccountIAMPolicy(ctx, ref.project, ref.email)
			if isNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			if !withoutMember(p.Bindings, role, member, func(b *iam.Binding) string { return b.Role }, func(b *iam.Binding) *[]string { return &b.Members }) {
				return nil
			}
			return e.gcp.SetServiceAccountIAMPolicy(ctx, ref.project, ref.email, p)
		})
	}
	if l.parent != "" {
		return fmt.Errorf("%s: the tool removes bindings from projects and service accounts only", l.res.Address)
	}
	return e.retryPolicy(func() error {
		p, err := e.gcp.ProjectIAMPolicy(ctx, l.project)
		if err != nil {
			return err
		}
		if !withoutMember(p.Bindings, role, member, (*iampb.Binding).GetRole, func(b *iampb.Binding) *[]string { return &b.Members }) {
			return nil
		}
		return e.gcp.SetProjectIAMPolicy(ctx, l.project, p)
	})
}

// CloudSQLState is the Cloud SQL add-on's part of the live state, as verify checks it: what was
// read for the plan, nothing read again.
type CloudSQLState struct {
	// Accounts are the service accounts of the projects the add-on creates them in, by email.
	Accounts map[string]*iam.ServiceAccount
	// ClientMembers are the members of roles/cloudsql.client on each instance's project, by
	// project.
	ClientMembers map[string]map[string]bool
	// WorkloadIdentityUsers are the members of roles/iam.workloadIdentityUser on each service
	// account of the file that exists, by email.
	WorkloadIdentityUsers map[string]map[string]bool
	// Instances are the Cloud SQL instances of the instances' projects, by connection name.
	Instances map[string]*sqladmin.DatabaseInstance
	// SQLAPIOff are the projects whose Cloud SQL Admin API is off.
	SQLAPIOff map[string]bool
	// NATs are the Cloud NATs on the federation's network, as "router/nat", by region: the path
	// of the clusters' private nodes to a public IP.
	NATs map[string][]string
}

// cloudSQLState gathers the add-on's live state from the snapshot; nil without the add-on.
func cloudSQLState(d *federation.Desired, s *snapshot) *CloudSQLState {
	if len(d.CloudSQL) == 0 || s.cloudSQL == nil {
		return nil
	}
	st := &CloudSQLState{Accounts: s.cloudSQL.accounts, ClientMembers: map[string]map[string]bool{}, WorkloadIdentityUsers: map[string]map[string]bool{},
		Instances: s.cloudSQL.instances, SQLAPIOff: s.cloudSQL.noSQLAPI, NATs: map[string][]string{}}
	_, instanceProjects := cloudSQLProjects(d)
	for _, p := range instanceProjects {
		st.ClientMembers[p] = s.policies["projects/"+p][federation.RoleCloudSQLClient]
	}
	for email, roles := range s.cloudSQL.saPolicies {
		st.WorkloadIdentityUsers[email] = roles[federation.RoleWorkloadIdentityUser]
	}
	network := "projects/" + d.Network.Project + "/global/networks/" + d.Network.Name
	for _, r := range s.routers {
		if shortLink(r.GetNetwork()) != network {
			continue
		}
		region := lastSegment(r.GetRegion())
		for _, n := range r.GetNats() {
			st.NATs[region] = append(st.NATs[region], r.GetName()+"/"+n.GetName())
		}
	}
	return st
}

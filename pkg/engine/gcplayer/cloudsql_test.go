package gcplayer_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	iam "google.golang.org/api/iam/v1"
	sqladmin "google.golang.org/api/sqladmin/v1"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
	"github.com/google/go-cmp/cmp"
)

const (
	addons      = "../../../samples/addons/federation.yaml"
	sqlProject  = "asm-multicluster-demo"
	sqlEmail    = "sql-client@asm-multicluster-demo.iam.gserviceaccount.com"
	sqlMember   = "serviceAccount:" + sqlEmail
	sqlClient   = "roles/cloudsql.client"
	sqlDBA      = "user:dba@example.com"
	sqlSAAddr   = plan.Address("gcp:projects/" + sqlProject + "/serviceAccounts/" + sqlEmail)
	sqlBindAddr = plan.Address("gcp:projects/" + sqlProject + "/iam/" + sqlClient + "/" + sqlMember)
)

// cloudSQLWorld is the simulator with the sample's instance, the engine, and clients to act as
// another administrator with.
func cloudSQLWorld(t *testing.T) (*gcpfake.Server, *gcplayer.Layer, *gcp.Clients) {
	t.Helper()
	srv := gcpfake.Start(t)
	if err := srv.SeedSQLInstance(&sqladmin.DatabaseInstance{Name: "orders-db", Project: sqlProject, Region: "us-west2",
		IpAddresses: []*sqladmin.IpMapping{{Type: "PRIVATE", IpAddress: "10.20.0.3"}},
		Settings:    &sqladmin.Settings{IpConfiguration: &sqladmin.IpConfiguration{PrivateNetwork: "projects/" + sqlProject + "/global/networks/asm-vpc"}}}); err != nil {
		t.Fatal(err)
	}
	clients, err := gcp.New(context.Background(), gcp.Config{Endpoint: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clients.Close() })
	return srv, newEngine(t, srv), clients
}

// clientMembers are the members of roles/cloudsql.client on the sample's project.
func clientMembers(t *testing.T, c *gcp.Clients) []string {
	t.Helper()
	p, err := c.ProjectIAMPolicy(context.Background(), sqlProject)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range p.GetBindings() {
		if b.GetRole() == sqlClient {
			return slices.Sorted(slices.Values(b.GetMembers()))
		}
	}
	return nil
}

// editClientMembers changes roles/cloudsql.client as another administrator would: read, change,
// write with the etag read.
func editClientMembers(t *testing.T, c *gcp.Clients, edit func([]string) []string) {
	t.Helper()
	ctx := context.Background()
	p, err := c.ProjectIAMPolicy(ctx, sqlProject)
	if err != nil {
		t.Fatal(err)
	}
	var b *iampb.Binding
	for _, x := range p.Bindings {
		if x.Role == sqlClient {
			b = x
		}
	}
	if b == nil {
		b = &iampb.Binding{Role: sqlClient}
		p.Bindings = append(p.Bindings, b)
	}
	b.Members = edit(b.Members)
	if err := c.SetProjectIAMPolicy(ctx, sqlProject, p); err != nil {
		t.Fatal(err)
	}
}

func destroy(t *testing.T, e *gcplayer.Layer, path string) *plan.Plan {
	t.Helper()
	ctx := context.Background()
	d, err := e.PlanDestroy(ctx, load(t, path))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.Apply(ctx, d, gcplayer.ApplyOptions{AllowDestroy: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	return d.Plan
}

// A service account of the file's name that an administrator made (no mark in its description)
// is a conflict: apply refuses before changing anything, and destroy neither deletes it nor takes
// away the role someone gave it.
func TestCloudSQLServiceAccountWithoutTheMarkIsAConflict(t *testing.T) {
	_, e, c := cloudSQLWorld(t)
	ctx := context.Background()
	if err := c.CreateServiceAccount(ctx, sqlProject, "sql-client", "SQL client", "made by the DBA team"); err != nil {
		t.Fatal(err)
	}
	editClientMembers(t, c, func(m []string) []string { return append(m, sqlMember) })

	r, err := e.Plan(ctx, load(t, addons))
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(r.Plan.Conflicts, func(x plan.Conflict) bool { return x.Address == sqlSAAddr }); i < 0 {
		t.Fatalf("the service account is not a conflict: %+v\n%s", r.Plan.Conflicts, render(r.Plan))
	}
	for _, ch := range r.Plan.Changes {
		if (ch.Address == sqlSAAddr || ch.Address == sqlBindAddr) && ch.Action != plan.NoOp {
			t.Errorf("plan would %s %s, which is not the federation's", ch.Action, ch.Address)
		}
	}
	var ce *plan.ConflictError
	if _, err := e.Apply(ctx, r, gcplayer.ApplyOptions{}); !errors.As(err, &ce) {
		t.Fatalf("apply of a plan with a conflict: %v, want a ConflictError", err)
	}

	d := destroy(t, e, addons)
	for _, ch := range d.Changes {
		if ch.Address == sqlSAAddr || ch.Address == sqlBindAddr {
			t.Errorf("destroy plans %s of %s, which is not the federation's", ch.Action, ch.Address)
		}
	}
	sas, err := c.ServiceAccounts(ctx, sqlProject)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(sas, func(sa *iam.ServiceAccount) bool { return sa.Email == sqlEmail }); i < 0 || sas[i].Description != "made by the DBA team" {
		t.Errorf("destroy touched the administrator's service account: %+v", sas)
	}
	if got := clientMembers(t, c); !slices.Contains(got, sqlMember) {
		t.Errorf("destroy removed the administrator's binding: %v", got)
	}
}

// Another member of roles/cloudsql.client, added by hand, is never the federation's: apply keeps
// it when it adds its own member back, and destroy removes only its own.
func TestCloudSQLHandMadeClientMemberSurvives(t *testing.T) {
	_, e, c := cloudSQLWorld(t)
	converge(t, e, addons)
	editClientMembers(t, c, func(m []string) []string { return append(m, sqlDBA) })
	converge(t, e, addons) // the other member is not a change

	editClientMembers(t, c, func(m []string) []string {
		return slices.DeleteFunc(m, func(s string) bool { return s == sqlMember })
	})
	r, err := e.Plan(context.Background(), load(t, addons))
	if err != nil {
		t.Fatal(err)
	}
	if ch := changeOf(r.Plan, sqlBindAddr); ch == nil || ch.Action != plan.Create || r.Plan.Summary.Add != 1 || r.Plan.Summary.Destroy != 0 || r.Plan.Summary.Change != 0 {
		t.Fatalf("want the federation's member added back and nothing else:\n%s", render(r.Plan))
	}
	converge(t, e, addons)
	if got := clientMembers(t, c); !slices.Equal(got, []string{sqlMember, sqlDBA}) {
		t.Errorf("after apply, roles/cloudsql.client has %v", got)
	}

	d := destroy(t, e, addons)
	if ch := changeOf(d, sqlBindAddr); ch == nil || ch.Action != plan.Delete {
		t.Errorf("destroy does not remove the federation's member: %+v", ch)
	}
	if got := clientMembers(t, c); !slices.Equal(got, []string{sqlDBA}) {
		t.Errorf("after destroy, roles/cloudsql.client has %v, want only %s", got, sqlDBA)
	}
}

// Another administrator writes the project's policy between apply's read and its write: the
// simulator refuses the stale etag (ABORTED), apply reads the policy again and adds its member to
// it, and the other administrator's change stays.
func TestCloudSQLClientBindingRetriedOnAConcurrentChange(t *testing.T) {
	srv, e, c := cloudSQLWorld(t)
	converge(t, e, addons)
	editClientMembers(t, c, func(m []string) []string {
		return slices.DeleteFunc(m, func(s string) bool { return s == sqlMember })
	})
	ctx := context.Background()
	r, err := e.Plan(ctx, load(t, addons))
	if err != nil {
		t.Fatal(err)
	}
	if r.Plan.Summary.Add != 1 || changeOf(r.Plan, sqlBindAddr) == nil {
		t.Fatalf("want only the binding added:\n%s", render(r.Plan))
	}

	const set = "Projects/SetIamPolicy"
	before := srv.Calls(set)
	srv.InjectFault(gcpfake.Fault{Method: set, Delay: 2 * time.Second, Times: 1})
	done := make(chan error, 1)
	go func() {
		rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{})
		if err == nil {
			err = rep.Err()
		}
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for srv.Calls(set) == before {
		if time.Now().After(deadline) {
			t.Fatal("apply never wrote the project's policy")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// apply's write is held in the simulator; the other administrator's lands first.
	editClientMembers(t, c, func(m []string) []string { return append(m, sqlDBA) })
	if err := <-done; err != nil {
		t.Fatalf("apply: %v", err)
	}

	var aborted int
	for _, l := range srv.RequestLog() {
		if l.Method == set && l.Code == "ABORTED" {
			aborted++
		}
	}
	if aborted == 0 {
		t.Errorf("the simulator refused no stale write: the change did not race apply's")
	}
	if got := clientMembers(t, c); !slices.Equal(got, []string{sqlMember, sqlDBA}) {
		t.Errorf("roles/cloudsql.client has %v, want both the federation's member and the one added meanwhile", got)
	}
	converge(t, e, addons)
}

// Plan reads the instance through the Cloud SQL Admin API: one that does not exist, or lacks the
// address the file asks for, is a warning naming the fix, and the clusters' policies leave its
// address out; one with the address gives it to them.
func TestCloudSQLPlanWarnings(t *testing.T) {
	private := []*sqladmin.IpMapping{{Type: "PRIVATE", IpAddress: "10.20.0.3"}}
	public := []*sqladmin.IpMapping{{Type: "PRIMARY", IpAddress: "34.1.2.3"}}
	tests := []struct {
		name      string
		addresses []*sqladmin.IpMapping // nil: no instance
		publicIP  bool                  // privateIP: false in the file
		warning   string
		address   string
	}{
		{name: "no instance", warning: "Cloud SQL instance asm-multicluster-demo:us-west2:orders-db does not exist: the clusters' policies leave it out until it does; create it, then plan again"},
		{name: "private asked, public only", addresses: public,
			warning: "Cloud SQL instance asm-multicluster-demo:us-west2:orders-db has no private IP, and spec.addons.cloudSQL asks for it (privateIP: true): give it one on the federation's VPC, or set privateIP: false"},
		{name: "public asked, private only", addresses: private, publicIP: true,
			warning: "Cloud SQL instance asm-multicluster-demo:us-west2:orders-db has no public IP, and spec.addons.cloudSQL asks for it (privateIP: false): set privateIP: true"},
		{name: "private", addresses: append(slices.Clone(private), public...), address: "10.20.0.3"},
		{name: "public", addresses: append(slices.Clone(private), public...), publicIP: true, address: "34.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := gcpfake.Start(t)
			if tt.addresses != nil {
				if err := srv.SeedSQLInstance(&sqladmin.DatabaseInstance{Name: "orders-db", Project: sqlProject, Region: "us-west2", IpAddresses: tt.addresses}); err != nil {
					t.Fatal(err)
				}
			}
			f := load(t, addons)
			if tt.publicIP {
				no := false
				f.Spec.Addons.CloudSQL.Instances[0].PrivateIP = &no
			}
			r, err := newEngine(t, srv).Plan(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			var sqlWarnings []string
			for _, w := range r.Plan.Warnings {
				if strings.Contains(w, "Cloud SQL") {
					sqlWarnings = append(sqlWarnings, w)
				}
			}
			var want []string
			if tt.warning != "" {
				want = []string{tt.warning}
			}
			if diff := cmp.Diff(want, sqlWarnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if got := r.Derived.CloudSQL[0].Address; got != tt.address {
				t.Errorf("the instance's address in the model is %q, want %q", got, tt.address)
			}
			// The clusters' objects follow from the model the plan compiled with the instance read.
			if err := federation.AddObjects(f, r.Derived); err != nil {
				t.Fatal(err)
			}
			var egress []string
			for _, o := range r.Derived.Clusters[0].Objects {
				if o.Kind == "NetworkPolicy" && o.Name == "asmfed-cloudsql-orders-db" {
					for _, rule := range o.Object["spec"].(map[string]any)["egress"].([]any) {
						for _, to := range rule.(map[string]any)["to"].([]any) {
							if b, ok := to.(map[string]any)["ipBlock"].(map[string]any); ok {
								egress = append(egress, b["cidr"].(string))
							}
						}
					}
				}
			}
			if tt.address == "" && slices.ContainsFunc(egress, func(c string) bool { return c != "0.0.0.0/0" }) {
				t.Errorf("the policy names an address for an instance without one: %v", egress)
			}
			if tt.address != "" && !slices.Contains(egress, tt.address+"/32") {
				t.Errorf("the policy does not let the pods reach %s: %v", tt.address, egress)
			}
		})
	}
}

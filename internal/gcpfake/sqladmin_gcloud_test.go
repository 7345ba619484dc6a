package gcpfake_test

import (
	"testing"

	sqladmin "google.golang.org/api/sqladmin/v1"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

// TestGcloudCloudSQLAccess drives, with gcloud, what the Cloud SQL add-on needs of the simulator:
// a Google service account, the Workload Identity binding on its own IAM policy, the
// cloudsql.client binding on the project's policy, and a Cloud SQL instance read back with its
// addresses and IP settings.
func TestGcloudCloudSQLAccess(t *testing.T) {
	srv := gcpfake.Start(t)
	g := newGcloud(t, srv)
	if err := srv.SeedSQLInstance(&sqladmin.DatabaseInstance{Name: "orders-db", Project: "demo", Region: "us-west2",
		IpAddresses: []*sqladmin.IpMapping{{Type: "PRIVATE", IpAddress: "10.20.0.3"}, {Type: "PRIMARY", IpAddress: "34.1.2.3"}},
		Settings: &sqladmin.Settings{Tier: "db-custom-1-3840", IpConfiguration: &sqladmin.IpConfiguration{Ipv4Enabled: true,
			PrivateNetwork:     "projects/demo/global/networks/mesh",
			AuthorizedNetworks: []*sqladmin.AclEntry{{Name: "nat", Value: "35.4.5.6/32"}}}}}); err != nil {
		t.Fatal(err)
	}
	const email = "sql-client@demo.iam.gserviceaccount.com"
	const wi = "serviceAccount:demo.svc.id.goog[sample/ksa-sqlproxy]"

	parallel(t, map[string]func(t *testing.T){
		"iam service-accounts create": func(t *testing.T) {
			v := g.ok(t, "iam", "service-accounts", "create", "sql-client", "--description=managed-by=asmfed federation=demo")
			want(t, v, "email", email)
			want(t, v, "description", "managed-by=asmfed federation=demo")
		},
		"sql instances describe": func(t *testing.T) {
			v := g.ok(t, "sql", "instances", "describe", "orders-db")
			want(t, v, "connectionName", "demo:us-west2:orders-db")
			want(t, v, "state", "RUNNABLE")
			want(t, v, "ipAddresses.0.type", "PRIVATE")
			want(t, v, "ipAddresses.0.ipAddress", "10.20.0.3")
			want(t, v, "ipAddresses.1.type", "PRIMARY")
			want(t, v, "settings.ipConfiguration.privateNetwork", "projects/demo/global/networks/mesh")
			want(t, v, "settings.ipConfiguration.authorizedNetworks.0.value", "35.4.5.6/32")
		},
		"sql instances list": func(t *testing.T) {
			v := g.ok(t, "sql", "instances", "list")
			want(t, v, "0.name", "orders-db")
			want(t, v, "0.region", "us-west2")
		},
		"sql instances describe missing": func(t *testing.T) {
			g.fails(t, "The Cloud SQL instance does not exist.", "sql", "instances", "describe", "nosuchdb")
		},
	})
	parallel(t, map[string]func(t *testing.T){
		"iam service-accounts add-iam-policy-binding": func(t *testing.T) {
			v := g.ok(t, "iam", "service-accounts", "add-iam-policy-binding", email, "--role=roles/iam.workloadIdentityUser", "--member="+wi)
			want(t, v, "bindings.0.role", "roles/iam.workloadIdentityUser")
			want(t, v, "bindings.0.members.0", wi)
		},
		"projects add-iam-policy-binding": func(t *testing.T) {
			v := g.ok(t, "projects", "add-iam-policy-binding", "demo", "--role=roles/cloudsql.client", "--member=serviceAccount:"+email, "--condition=None")
			want(t, v, "bindings.0.role", "roles/cloudsql.client")
			want(t, v, "bindings.0.members.0", "serviceAccount:"+email)
		},
	})
	parallel(t, map[string]func(t *testing.T){
		"iam service-accounts get-iam-policy": func(t *testing.T) {
			v := g.ok(t, "iam", "service-accounts", "get-iam-policy", email)
			want(t, v, "bindings.0.members.0", wi)
			if field(v, "etag") == nil {
				t.Errorf("policy has no etag: %v", v)
			}
		},
		"projects get-iam-policy": func(t *testing.T) {
			v := g.ok(t, "projects", "get-iam-policy", "demo")
			want(t, v, "bindings.0.role", "roles/cloudsql.client")
		},
		"iam service-accounts add-iam-policy-binding missing": func(t *testing.T) {
			g.fails(t, "NOT_FOUND", "iam", "service-accounts", "add-iam-policy-binding", "nobody@demo.iam.gserviceaccount.com", "--role=roles/iam.workloadIdentityUser", "--member="+wi)
		},
	})
}

package verify

import (
	"context"
	"strings"
	"testing"

	iam "google.golang.org/api/iam/v1"
	sqladmin "google.golang.org/api/sqladmin/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

const (
	sqlConn  = "asm-multicluster-demo:us-west2:orders-db"
	sqlEmail = "sql-client@asm-multicluster-demo.iam.gserviceaccount.com"
	sqlWI    = "serviceAccount:asm-multicluster-demo.svc.id.goog[sample/ksa-sqlproxy]"
	sqlVPC   = "projects/asm-multicluster-demo/global/networks/asm-vpc"
)

// cloudSQLApplied is the add-on's live state once apply has run against a private instance on
// the federation's VPC: every account and binding of the model, and the region's Cloud NAT.
func cloudSQLApplied(d *federation.Desired) *CloudSQLLive {
	live := &CloudSQLLive{Accounts: map[string]*iam.ServiceAccount{}, ClientMembers: map[string]map[string]bool{},
		WorkloadIdentityUsers: map[string]map[string]bool{}, Instances: map[string]*sqladmin.DatabaseInstance{}, SQLAPIOff: map[string]bool{},
		NATs: map[string][]string{"us-west2": {"asm-vpc-us-west2/asm-vpc-us-west2-nat"}}}
	for _, a := range d.CloudSQL {
		sa := a.ServiceAccount
		live.Accounts[sa.Email] = &iam.ServiceAccount{Email: sa.Email, ProjectId: sa.Project, Description: sa.Description}
		for _, b := range a.Bindings {
			switch b.Role {
			case federation.RoleCloudSQLClient:
				if live.ClientMembers[a.Project] == nil {
					live.ClientMembers[a.Project] = map[string]bool{}
				}
				live.ClientMembers[a.Project][b.Member] = true
			case federation.RoleWorkloadIdentityUser:
				if live.WorkloadIdentityUsers[sa.Email] == nil {
					live.WorkloadIdentityUsers[sa.Email] = map[string]bool{}
				}
				live.WorkloadIdentityUsers[sa.Email][b.Member] = true
			}
		}
		live.Instances[a.ConnectionName] = &sqladmin.DatabaseInstance{Name: a.Instance, Project: a.Project, Region: a.Region, ConnectionName: a.ConnectionName,
			DatabaseVersion: "POSTGRES_16", State: "RUNNABLE", IpAddresses: []*sqladmin.IpMapping{{Type: "PRIVATE", IpAddress: "10.20.0.3"}},
			Settings: &sqladmin.Settings{ActivationPolicy: "ALWAYS", IpConfiguration: &sqladmin.IpConfiguration{PrivateNetwork: sqlVPC}}}
	}
	return live
}

// runFindings runs one check and returns its failures and warnings as "subject: message", checking
// that every failure has a hint.
func runFindings(t *testing.T, env *Env, id string) (r *Report, fails, warns []string) {
	t.Helper()
	r = Run(context.Background(), env, []Check{byID(t, id)})
	for _, res := range r.Results {
		switch res.Status {
		case Fail:
			fails = append(fails, res.Subject+": "+res.Message+" | hint: "+res.Hint)
			if res.Hint == "" {
				t.Errorf("failure without a hint: %s", res.Message)
			}
		case Warn:
			warns = append(warns, res.Subject+": "+res.Message+" | hint: "+res.Hint)
		}
	}
	return r, fails, warns
}

// matchParts is matchAll where a want may be "part of the message | hint: part of the hint": each
// part must be in its own half of the finding.
func matchParts(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d %s, want %d:\n%s", len(got), what, len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		wm, wh, _ := strings.Cut(w, " | hint: ")
		gm, gh, _ := strings.Cut(got[i], " | hint: ")
		if !strings.Contains(gm, wm) || !strings.Contains(gh, wh) {
			t.Errorf("%s %d: %q, want it to contain %q", what, i, got[i], w)
		}
	}
}

// The instance as the Cloud SQL Admin API reports it, healthy and broken each way the Auth Proxy
// would fail to reach it; each failure names the fix.
func TestCloudSQLInstanceReachable(t *testing.T) {
	in := func(live *CloudSQLLive) *sqladmin.DatabaseInstance { return live.Instances[sqlConn] }
	public := func(d *federation.Desired, live *CloudSQLLive) {
		d.CloudSQL[0].PrivateIP = false
		in(live).IpAddresses = []*sqladmin.IpMapping{{Type: "PRIMARY", IpAddress: "34.1.2.3"}}
		in(live).Settings.IpConfiguration = &sqladmin.IpConfiguration{Ipv4Enabled: true}
	}
	tests := []struct {
		name    string
		breakIt func(d *federation.Desired, live *CloudSQLLive)
		fails   []string
		warns   []string
		ok      string
		skipped string
	}{
		{name: "private IP on the federation's VPC", ok: "POSTGRES_16, RUNNABLE, private IP 10.20.0.3 on " + sqlVPC},
		{name: "private network as a URL", breakIt: func(_ *federation.Desired, live *CloudSQLLive) {
			in(live).Settings.IpConfiguration.PrivateNetwork = "https://www.googleapis.com/compute/v1/" + sqlVPC
		}, ok: "private IP 10.20.0.3"},
		{name: "does not exist", breakIt: func(_ *federation.Desired, live *CloudSQLLive) { delete(live.Instances, sqlConn) },
			fails: []string{sqlConn + ": the instance does not exist (the Cloud SQL Admin API lists no orders-db in project asm-multicluster-demo) | hint: create it, or correct connectionName; " +
				"the tool never creates instances: gcloud sql instances create orders-db --project asm-multicluster-demo --region us-west2 --database-version POSTGRES_16 --tier db-custom-1-3840 --network=" + sqlVPC + " --no-assign-ip"}},
		{name: "Cloud SQL Admin API off", breakIt: func(_ *federation.Desired, live *CloudSQLLive) {
			delete(live.Instances, sqlConn)
			live.SQLAPIOff["asm-multicluster-demo"] = true
		}, fails: []string{"the Cloud SQL Admin API is off in project asm-multicluster-demo | hint: kubectl asmfed apply enables it; by hand: gcloud services enable sqladmin.googleapis.com --project asm-multicluster-demo"}},
		{name: "MySQL", breakIt: func(_ *federation.Desired, live *CloudSQLLive) { in(live).DatabaseVersion = "MYSQL_8_0" },
			fails: []string{"the instance runs MYSQL_8_0, not PostgreSQL"}},
		{name: "suspended", breakIt: func(_ *federation.Desired, live *CloudSQLLive) { in(live).State = "SUSPENDED" },
			fails: []string{"the instance is SUSPENDED, not RUNNABLE"}},
		{name: "stopped", breakIt: func(_ *federation.Desired, live *CloudSQLLive) { in(live).Settings.ActivationPolicy = "NEVER" },
			fails: []string{"the instance is stopped (activation policy NEVER) | hint: gcloud sql instances patch orders-db --project asm-multicluster-demo --activation-policy=ALWAYS"}},
		{name: "no private IP", breakIt: func(_ *federation.Desired, live *CloudSQLLive) {
			in(live).IpAddresses = []*sqladmin.IpMapping{{Type: "PRIMARY", IpAddress: "34.1.2.3"}}
			in(live).Settings.IpConfiguration.PrivateNetwork = ""
		}, fails: []string{"the instance has no private IP, and the file asks for it (privateIP: true) | hint: gcloud sql instances patch orders-db --project asm-multicluster-demo --network=" + sqlVPC}},
		{name: "on another network", breakIt: func(_ *federation.Desired, live *CloudSQLLive) {
			in(live).Settings.IpConfiguration.PrivateNetwork = "projects/asm-multicluster-demo/global/networks/default"
		}, fails: []string{"the instance's private IP 10.20.0.3 is on projects/asm-multicluster-demo/global/networks/default, not on the federation's VPC " + sqlVPC +
			": the clusters' pods have no route to it | hint: move it to the federation's VPC: gcloud sql instances patch orders-db --project asm-multicluster-demo --network=" + sqlVPC}},
		{name: "public IP through Cloud NAT", breakIt: public,
			ok: "public IP 34.1.2.3, reached from cluster3, cluster4 through Cloud NAT asm-vpc-us-west2/asm-vpc-us-west2-nat; the Auth Proxy is authorised by IAM, not by authorized networks"},
		{name: "public IP without a NAT in the clusters' region", breakIt: func(d *federation.Desired, live *CloudSQLLive) {
			public(d, live)
			live.NATs = map[string][]string{"europe-west1": {"r/nat"}}
		}, fails: []string{"public IP 34.1.2.3, but no Cloud NAT on the federation's network in us-west2: the private nodes of cluster3, cluster4 have no path to it | hint: kubectl asmfed apply creates"}},
		{name: "no public IP", breakIt: func(d *federation.Desired, live *CloudSQLLive) {
			public(d, live)
			in(live).IpAddresses = []*sqladmin.IpMapping{{Type: "PRIVATE", IpAddress: "10.20.0.3"}}
			in(live).Settings.IpConfiguration.Ipv4Enabled = false
		}, fails: []string{"the instance has no public IP, and the file asks for it (privateIP: false) | hint: gcloud sql instances patch orders-db --project asm-multicluster-demo --assign-ip"}},
		{name: "public IP open to all", breakIt: func(d *federation.Desired, live *CloudSQLLive) {
			public(d, live)
			in(live).Settings.IpConfiguration.AuthorizedNetworks = []*sqladmin.AclEntry{{Name: "all", Value: "0.0.0.0/0"}}
		}, warns: []string{"the public IP authorises 0.0.0.0/0"}},
		{name: "no add-on", breakIt: func(d *federation.Desired, _ *CloudSQLLive) { d.CloudSQL = nil }, skipped: "the file has no Cloud SQL add-on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, d := sample(t, "addons")
			live := cloudSQLApplied(d)
			if tt.breakIt != nil {
				tt.breakIt(d, live)
			}
			r, fails, warns := runFindings(t, &Env{Federation: f, Derived: d, CloudSQL: live}, "ASMFED-ADDON-011")
			if tt.skipped != "" {
				if r.Checks[0].Status != Skipped || !strings.Contains(r.Results[0].Message, tt.skipped) {
					t.Fatalf("want skipped (%s), got %+v", tt.skipped, r.Results)
				}
				return
			}
			matchParts(t, "failures", fails, tt.fails)
			matchParts(t, "warnings", warns, tt.warns)
			if tt.ok != "" && (r.Checks[0].Status != OK || !strings.Contains(r.Results[0].Message, tt.ok)) {
				t.Fatalf("want ok (%s), got %+v", tt.ok, r.Results)
			}
		})
	}
	f, d := sample(t, "addons")
	if r, _, _ := runFindings(t, &Env{Federation: f, Derived: d}, "ASMFED-ADDON-011"); r.Checks[0].Status != Skipped || !strings.Contains(r.Results[0].Message, "were not read") {
		t.Errorf("not read: %+v", r.Results)
	}
}

// The proxy's identity: the service account and its bindings as IAM reports them, and the
// client's Kubernetes service account read from a real API server (cluster3; cluster4 cannot be
// reached and is skipped).
func TestCloudSQLIdentity(t *testing.T) {
	cs := testenv.Clusters(t, 1)
	client := cs[0].Client()
	ctx := context.Background()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sample"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ksa := func(annotations map[string]string) {
		t.Helper()
		_ = client.CoreV1().ServiceAccounts("sample").Delete(ctx, "ksa-sqlproxy", metav1.DeleteOptions{})
		if annotations == nil {
			return
		}
		if _, err := client.CoreV1().ServiceAccounts("sample").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ksa-sqlproxy",
			Annotations: annotations}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	annotated := map[string]string{federation.AnnotationGCPServiceAccount: sqlEmail}
	tests := []struct {
		name    string
		ksa     map[string]string // nil: the account does not exist
		breakIt func(live *CloudSQLLive)
		fails   []string
	}{
		{name: "healthy", ksa: annotated},
		{name: "no service account", ksa: annotated, breakIt: func(live *CloudSQLLive) {
			delete(live.Accounts, sqlEmail)
			live.ClientMembers = map[string]map[string]bool{}
			live.WorkloadIdentityUsers = map[string]map[string]bool{}
		}, fails: []string{sqlEmail + ": the service account does not exist in project asm-multicluster-demo | hint: kubectl asmfed apply creates it"}},
		{name: "disabled", ksa: annotated, breakIt: func(live *CloudSQLLive) { live.Accounts[sqlEmail].Disabled = true },
			fails: []string{"the service account is disabled | hint: gcloud iam service-accounts enable " + sqlEmail + " --project asm-multicluster-demo"}},
		{name: "cloudsql.client removed", ksa: annotated, breakIt: func(live *CloudSQLLive) {
			delete(live.ClientMembers["asm-multicluster-demo"], "serviceAccount:"+sqlEmail)
		}, fails: []string{sqlEmail + ": roles/cloudsql.client on project asm-multicluster-demo does not include serviceAccount:" + sqlEmail +
			" | hint: kubectl asmfed apply adds it back; by hand: gcloud projects add-iam-policy-binding asm-multicluster-demo --role=roles/cloudsql.client --member=serviceAccount:" + sqlEmail + " --condition=None"}},
		{name: "workloadIdentityUser removed", ksa: annotated, breakIt: func(live *CloudSQLLive) {
			delete(live.WorkloadIdentityUsers[sqlEmail], sqlWI)
		}, fails: []string{sqlEmail + ": its roles/iam.workloadIdentityUser does not include " + sqlWI +
			" | hint: kubectl asmfed apply adds it back; by hand: gcloud iam service-accounts add-iam-policy-binding " + sqlEmail + " --project asm-multicluster-demo --role=roles/iam.workloadIdentityUser --member='" + sqlWI + "'"}},
		{name: "wrong annotation", ksa: map[string]string{federation.AnnotationGCPServiceAccount: "other@asm-multicluster-demo.iam.gserviceaccount.com"},
			fails: []string{"cluster3/sample/ksa-sqlproxy: iam.gke.io/gcp-service-account=other@asm-multicluster-demo.iam.gserviceaccount.com, not " + sqlEmail +
				" | hint: kubectl asmfed apply sets it; by hand: kubectl --context cluster3 -n sample annotate serviceaccount ksa-sqlproxy iam.gke.io/gcp-service-account=" + sqlEmail + " --overwrite"}},
		{name: "no annotation", ksa: map[string]string{}, fails: []string{"cluster3/sample/ksa-sqlproxy: no iam.gke.io/gcp-service-account annotation"}},
		{name: "no Kubernetes service account", fails: []string{"cluster3/sample/ksa-sqlproxy: the Kubernetes service account does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ksa(tt.ksa)
			f, d := sample(t, "addons")
			live := cloudSQLApplied(d)
			if tt.breakIt != nil {
				tt.breakIt(live)
			}
			env := &Env{Federation: f, Derived: d, CloudSQL: live, Clusters: map[string]*rest.Config{"cluster3": cs[0].RESTConfig()}}
			r, fails, _ := runFindings(t, env, "ASMFED-ADDON-010")
			matchParts(t, "failures", fails, tt.fails)
			var skipped []string
			for _, res := range r.Results {
				if res.Status == Skipped {
					skipped = append(skipped, res.Subject+": "+res.Message)
				}
			}
			matchAll(t, "skipped", skipped, []string{"cluster4: the cluster cannot be reached"})
			if tt.fails == nil && r.Checks[0].Status != OK {
				t.Fatalf("healthy: %+v", r.Results)
			}
		})
	}
}

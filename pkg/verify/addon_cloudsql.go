package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	iam "google.golang.org/api/iam/v1"
	sqladmin "google.golang.org/api/sqladmin/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// CloudSQLLive is the Cloud SQL add-on's live state as Google Cloud reports it: the reads of the
// plan, not made again. Its fields are gcplayer.CloudSQLState's, which the CLI converts into
// it (verify does not import the engine).
type CloudSQLLive struct {
	// Accounts are the service accounts of the projects the add-on's accounts are in, by email.
	Accounts map[string]*iam.ServiceAccount
	// ClientMembers are the members of roles/cloudsql.client on each instance's project, by
	// project.
	ClientMembers map[string]map[string]bool
	// WorkloadIdentityUsers are the members of roles/iam.workloadIdentityUser on each service
	// account of the file that exists, by email.
	WorkloadIdentityUsers map[string]map[string]bool
	// Instances are the Cloud SQL instances of the instances' projects, by connection name, as
	// the Cloud SQL Admin API lists them.
	Instances map[string]*sqladmin.DatabaseInstance
	// SQLAPIOff are the projects whose Cloud SQL Admin API is off.
	SQLAPIOff map[string]bool
	// NATs are the Cloud NATs on the federation's network, as "router/nat", by region.
	NATs map[string][]string
}

var needCloudSQL = Requirement{Name: "the Cloud SQL add-on's live state", Unmet: func(env *Env) string {
	if env.Derived != nil && len(env.Derived.CloudSQL) == 0 {
		return "the file has no Cloud SQL add-on"
	}
	return unless(env.CloudSQL != nil, "the Cloud SQL add-on's service accounts, policies and instances were not read")
}}

// cloudSQLIdentity checks the chain of grants by which the Auth Proxy beside a client connects:
// the client's Kubernetes service account, in every cluster, is annotated with the Google service
// account; that account exists, is enabled, may be acted as by the client's Workload Identity
// member, and holds roles/cloudsql.client on the instance's project. A missing link is a proxy
// that fails at its first call to the Cloud SQL Admin API with a 403.
func cloudSQLIdentity(ctx context.Context, env *Env) []Finding {
	live := env.CloudSQL
	var out []Finding
	seen := map[string]bool{}
	once := func(key string) bool {
		if seen[key] {
			return false
		}
		seen[key] = true
		return true
	}
	for _, a := range env.Derived.CloudSQL {
		sa := a.ServiceAccount
		if once("sa " + sa.Email) {
			out = append(out, accountFinding(sa, live.Accounts[sa.Email]))
		}
		if live.Accounts[sa.Email] == nil {
			continue // its bindings went with it, or never were: one failure says so
		}
		for _, b := range a.Bindings {
			if !once("binding " + string(b.Address)) {
				continue
			}
			switch b.Role {
			case federation.RoleCloudSQLClient:
				out = append(out, clientRoleFinding(a, b.Member, live.ClientMembers[a.Project][b.Member]))
			case federation.RoleWorkloadIdentityUser:
				out = append(out, workloadIdentityFinding(sa, b.Member, live.WorkloadIdentityUsers[sa.Email][b.Member]))
			}
		}
	}
	return append(out, annotatedAccounts(ctx, env)...)
}

func accountFinding(want federation.GoogleServiceAccount, got *iam.ServiceAccount) Finding {
	f := Finding{Subject: want.Email}
	switch {
	case got == nil:
		f.Status, f.Message = Fail, fmt.Sprintf("the service account does not exist in project %s: the Auth Proxy has no identity to connect as", want.Project)
		f.Hint = "kubectl asmfed apply creates it, with its bindings"
	case got.Disabled:
		f.Status, f.Message = Fail, "the service account is disabled: Google refuses its tokens, and the Auth Proxy cannot connect"
		f.Hint = fmt.Sprintf("gcloud iam service-accounts enable %s --project %s", want.Email, want.Project)
	default:
		f.Status, f.Message = OK, "the service account exists and is enabled"
	}
	return f
}

func clientRoleFinding(a federation.CloudSQLAccess, member string, bound bool) Finding {
	f := Finding{Subject: a.ServiceAccount.Email}
	if bound {
		f.Status, f.Message = OK, fmt.Sprintf("%s on project %s", federation.RoleCloudSQLClient, a.Project)
		return f
	}
	f.Status = Fail
	f.Message = fmt.Sprintf("%s on project %s does not include %s: the Auth Proxy is refused the instance %s (cloudsql.instances.connect)", federation.RoleCloudSQLClient, a.Project, member, a.Instance)
	f.Hint = fmt.Sprintf("kubectl asmfed apply adds it back; by hand: gcloud projects add-iam-policy-binding %s --role=%s --member=%s --condition=None",
		a.Project, federation.RoleCloudSQLClient, member)
	return f
}

func workloadIdentityFinding(sa federation.GoogleServiceAccount, member string, bound bool) Finding {
	f := Finding{Subject: sa.Email}
	if bound {
		f.Status, f.Message = OK, fmt.Sprintf("%s for %s", federation.RoleWorkloadIdentityUser, member)
		return f
	}
	f.Status = Fail
	f.Message = fmt.Sprintf("its %s does not include %s: pods of that Kubernetes service account get no token for it from the GKE metadata server",
		federation.RoleWorkloadIdentityUser, member)
	f.Hint = fmt.Sprintf("kubectl asmfed apply adds it back; by hand: gcloud iam service-accounts add-iam-policy-binding %s --project %s --role=%s --member='%s'",
		sa.Email, sa.Project, federation.RoleWorkloadIdentityUser, member)
	return f
}

// annotatedAccounts reads every client's Kubernetes service account in every cluster (the
// federation's namespaces are in every cluster) and compares its annotation with the file.
func annotatedAccounts(ctx context.Context, env *Env) []Finding {
	want := map[string]string{} // namespace/name → email; the first instance naming a client wins, as in the model
	var clients []string
	for _, a := range env.Derived.CloudSQL {
		for _, c := range a.Clients {
			if _, ok := want[c]; !ok {
				want[c] = a.ServiceAccount.Email
				clients = append(clients, c)
			}
		}
	}
	slices.Sort(clients)
	return forEach(ctx, env, env.Derived.Clusters, func(ctx context.Context, cd federation.ClusterDesired) []Finding {
		cfg, ok := env.Clusters[cd.Name]
		if !ok {
			return []Finding{{Subject: cd.Name, Status: Skipped, Message: "the cluster cannot be reached"}}
		}
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return []Finding{{Subject: cd.Name, Status: Fail, Message: err.Error(), Hint: "check the cluster's credentials"}}
		}
		var out []Finding
		for _, c := range clients {
			ns, name, _ := strings.Cut(c, "/")
			out = append(out, annotationFinding(ctx, client, cd.Name, ns, name, want[c]))
		}
		return out
	})
}

func annotationFinding(ctx context.Context, client kubernetes.Interface, cluster, ns, name, email string) Finding {
	f := Finding{Subject: cluster + "/" + ns + "/" + name}
	annotate := fmt.Sprintf("kubectl asmfed apply sets it; by hand: kubectl --context %s -n %s annotate serviceaccount %s %s=%s --overwrite",
		cluster, ns, name, federation.AnnotationGCPServiceAccount, email)
	ksa, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		f.Status, f.Message = Fail, "the Kubernetes service account does not exist: the clients' pods cannot run as it"
		f.Hint = "kubectl asmfed apply creates it, annotated"
		return f
	case err != nil:
		f.Status, f.Message, f.Hint = Fail, "read the Kubernetes service account: "+err.Error(), "check the cluster's credentials"
		return f
	}
	got, ok := ksa.Annotations[federation.AnnotationGCPServiceAccount]
	switch {
	case got == email:
		f.Status, f.Message = OK, fmt.Sprintf("%s=%s", federation.AnnotationGCPServiceAccount, email)
	case !ok:
		f.Status, f.Message, f.Hint = Fail, fmt.Sprintf("no %s annotation: its pods get the node's identity, or none, instead of %s", federation.AnnotationGCPServiceAccount, email), annotate
	default:
		f.Status, f.Message, f.Hint = Fail, fmt.Sprintf("%s=%s, not %s: its pods act as another Google service account, which the file does not grant the instance", federation.AnnotationGCPServiceAccount, got, email), annotate
	}
	return f
}

// cloudSQLReachable checks each instance as the Cloud SQL Admin API reports it: it exists, runs
// PostgreSQL, accepts connections, and has the address the file asks for on a path from the
// clusters' pods. A private IP must be on the federation's VPC (the Auth Proxy adds no network
// path: an instance on another VPC is unreachable from the pods). A public IP is reached from the
// private nodes through Cloud NAT, so every cluster's region needs one; authorized networks are
// not needed, because the Auth Proxy connects to the instance's server-side proxy on 3307, which
// authorises the connection by IAM (roles/cloudsql.client) and not by source address. An
// authorized 0.0.0.0/0 is a warning: it lets anyone try passwords on 5432 directly.
func cloudSQLReachable(_ context.Context, env *Env) []Finding {
	live := env.CloudSQL
	network := fmt.Sprintf("projects/%s/global/networks/%s", env.Derived.Network.Project, env.Derived.Network.Name)
	var out []Finding
	for _, a := range env.Derived.CloudSQL {
		in := live.Instances[a.ConnectionName]
		fail := func(msg, hint string) {
			out = append(out, Finding{Subject: a.ConnectionName, Status: Fail, Message: msg, Hint: hint})
		}
		switch {
		case live.SQLAPIOff[a.Project]:
			fail(fmt.Sprintf("the Cloud SQL Admin API is off in project %s: the instance cannot exist, and the Auth Proxy could not ask for its address", a.Project),
				fmt.Sprintf("kubectl asmfed apply enables it; by hand: gcloud services enable %s --project %s", federation.CloudSQLAdminHost, a.Project))
			continue
		case in == nil:
			fail(fmt.Sprintf("the instance does not exist (the Cloud SQL Admin API lists no %s in project %s)", a.Instance, a.Project),
				"create it, or correct connectionName; the tool never creates instances: "+createHint(a, network))
			continue
		case !strings.HasPrefix(in.DatabaseVersion, "POSTGRES"):
			fail(fmt.Sprintf("the instance runs %s, not PostgreSQL: the add-on is Cloud SQL for PostgreSQL", in.DatabaseVersion),
				"point connectionName at a PostgreSQL instance")
			continue
		case in.State != "RUNNABLE":
			fail(fmt.Sprintf("the instance is %s, not RUNNABLE: it accepts no connections", in.State),
				fmt.Sprintf("gcloud sql instances describe %s --project %s says why; an instance in MAINTENANCE comes back by itself", a.Instance, a.Project))
			continue
		case in.Settings != nil && in.Settings.ActivationPolicy == "NEVER":
			fail("the instance is stopped (activation policy NEVER): it accepts no connections",
				fmt.Sprintf("gcloud sql instances patch %s --project %s --activation-policy=ALWAYS", a.Instance, a.Project))
			continue
		}
		var private, public string
		for _, ip := range in.IpAddresses {
			switch ip.Type {
			case "PRIVATE":
				private = ip.IpAddress
			case "PRIMARY":
				public = ip.IpAddress
			}
		}
		var ipc sqladmin.IpConfiguration
		if in.Settings != nil && in.Settings.IpConfiguration != nil {
			ipc = *in.Settings.IpConfiguration
		}
		if a.PrivateIP {
			got := ipc.PrivateNetwork
			if i := strings.Index(got, "projects/"); i >= 0 {
				got = got[i:]
			}
			switch {
			case private == "":
				fail("the instance has no private IP, and the file asks for it (privateIP: true)",
					fmt.Sprintf("gcloud sql instances patch %s --project %s --network=%s (the network needs private services access), or set privateIP: false", a.Instance, a.Project, network))
			case got != network:
				fail(fmt.Sprintf("the instance's private IP %s is on %s, not on the federation's VPC %s: the clusters' pods have no route to it", private, orNone(got), network),
					fmt.Sprintf("move it to the federation's VPC: gcloud sql instances patch %s --project %s --network=%s; or set privateIP: false to connect to its public IP", a.Instance, a.Project, network))
			default:
				out = append(out, Finding{Subject: a.ConnectionName, Status: OK,
					Message: fmt.Sprintf("%s, RUNNABLE, private IP %s on %s", in.DatabaseVersion, private, network)})
			}
			continue
		}
		if public == "" {
			fail("the instance has no public IP, and the file asks for it (privateIP: false)",
				fmt.Sprintf("gcloud sql instances patch %s --project %s --assign-ip, or give it a private IP on %s and set privateIP: true", a.Instance, a.Project, network))
			continue
		}
		out = append(out, natFindings(env, a, public)...)
		if slices.ContainsFunc(ipc.AuthorizedNetworks, func(e *sqladmin.AclEntry) bool { return e.Value == "0.0.0.0/0" }) {
			out = append(out, Finding{Subject: a.ConnectionName, Status: Warn,
				Message: "the public IP authorises 0.0.0.0/0: anyone may try passwords on 5432 directly, and the Auth Proxy needs no authorized network",
				Hint:    fmt.Sprintf("remove the entry: gcloud sql instances patch %s --project %s --authorized-networks=<the other entries> (or --clear-authorized-networks)", a.Instance, a.Project)})
		}
	}
	return out
}

// natFindings checks that the private nodes of every cluster have a path to the instance's public
// IP: a Cloud NAT on the federation's network in the cluster's region.
func natFindings(env *Env, a federation.CloudSQLAccess, public string) []Finding {
	byRegion := map[string][]string{}
	for _, cd := range env.Derived.Clusters {
		byRegion[cd.Region] = append(byRegion[cd.Region], cd.Name)
	}
	var out []Finding
	for _, region := range sortedKeys(byRegion) {
		nats := env.CloudSQL.NATs[region]
		if len(nats) == 0 {
			out = append(out, Finding{Subject: a.ConnectionName, Status: Fail,
				Message: fmt.Sprintf("public IP %s, but no Cloud NAT on the federation's network in %s: the private nodes of %s have no path to it", public, region, strings.Join(byRegion[region], ", ")),
				Hint:    "kubectl asmfed apply creates the region's Cloud Router and NAT"})
			continue
		}
		out = append(out, Finding{Subject: a.ConnectionName, Status: OK,
			Message: fmt.Sprintf("public IP %s, reached from %s through Cloud NAT %s; the Auth Proxy is authorised by IAM, not by authorized networks", public, strings.Join(byRegion[region], ", "), strings.Join(nats, ", "))})
	}
	return out
}

func createHint(a federation.CloudSQLAccess, network string) string {
	ip := "--network=" + network + " --no-assign-ip"
	if !a.PrivateIP {
		ip = "--assign-ip"
	}
	return fmt.Sprintf("gcloud sql instances create %s --project %s --region %s --database-version POSTGRES_16 --tier db-custom-1-3840 %s", a.Instance, a.Project, a.Region, ip)
}

func orNone(s string) string {
	if s == "" {
		return "no network"
	}
	return s
}

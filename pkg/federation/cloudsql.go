package federation

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// Names and values of the Cloud SQL add-on.
const (
	// RoleCloudSQLClient lets the proxy's Google service account connect to the project's
	// instances; RoleWorkloadIdentityUser lets a Kubernetes service account act as it.
	RoleCloudSQLClient       = "roles/cloudsql.client"
	RoleWorkloadIdentityUser = "roles/iam.workloadIdentityUser"
	// AnnotationGCPServiceAccount is the annotation GKE's metadata server reads to know which
	// Google service account a Kubernetes service account acts as.
	AnnotationGCPServiceAccount = "iam.gke.io/gcp-service-account"
	// CloudSQLProxyPort is where the Cloud SQL instance's server-side proxy listens; the Auth
	// Proxy connects to it with its own TLS.
	CloudSQLProxyPort = 3307
	// CloudSQLAdminHost is the Cloud SQL Admin API, which the Auth Proxy asks for the instance's
	// address and its ephemeral certificate.
	CloudSQLAdminHost = "sqladmin.googleapis.com"
	// cloudSQLPrefix starts the names of the add-on's NetworkPolicies and ServiceEntries.
	cloudSQLPrefix = "asmfed-cloudsql-"
	// CloudSQLAdminEntry names the ServiceEntry of the Cloud SQL Admin API in each client
	// namespace.
	CloudSQLAdminEntry = cloudSQLPrefix + "admin"
)

// CloudSQLFacts is what the Cloud SQL Admin API says of one instance at plan time.
type CloudSQLFacts struct {
	// Found is false when the instance does not exist (or could not be read).
	Found bool `json:"found"`
	// PrivateIP and PublicIP are the instance's PRIVATE and PRIMARY addresses; empty when it has
	// none.
	PrivateIP string `json:"privateIP,omitempty"`
	PublicIP  string `json:"publicIP,omitempty"`
	// PrivateNetwork is settings.ipConfiguration.privateNetwork, the VPC of the private IP.
	PrivateNetwork string `json:"privateNetwork,omitempty"`
	// AuthorizedNetworks are the CIDRs the public IP accepts.
	AuthorizedNetworks []string `json:"authorizedNetworks,omitempty"`
	// State is the instance's state (RUNNABLE, ...).
	State string `json:"state,omitempty"`
}

// GoogleServiceAccount is a service account the federation creates, marked as its own in its
// description (service accounts have no labels).
type GoogleServiceAccount struct {
	// Address is gcp:projects/P/serviceAccounts/EMAIL.
	Address     plan.Address `json:"address"`
	Project     string       `json:"project"`
	AccountID   string       `json:"accountID"`
	Email       string       `json:"email"`
	DisplayName string       `json:"displayName"`
	Description string       `json:"description"`
	Reason      string       `json:"reason"`
}

// CloudSQLAccess is one instance of spec.addons.cloudSQL with everything derived for it.
type CloudSQLAccess struct {
	ConnectionName string `json:"connectionName"`
	Project        string `json:"project"`
	Region         string `json:"region"`
	Instance       string `json:"instance"`
	// ServiceAccount is the Google service account the proxy runs as.
	ServiceAccount GoogleServiceAccount `json:"serviceAccount"`
	// Bindings are the grants it needs: roles/cloudsql.client on the instance's project, and
	// roles/iam.workloadIdentityUser on the service account for each client of each workload pool.
	// They belong to the federation because their member (or resource) is its service account.
	Bindings []IAMBinding `json:"bindings"`
	// Clients are the Kubernetes service accounts that connect, as namespace/name, sorted.
	Clients []string `json:"clients"`
	// PrivateIP is true when the proxy connects to the private IP.
	PrivateIP bool  `json:"privateIP"`
	Port      int32 `json:"port"`
	// Address is the instance's IP the proxy connects to, read at plan time; empty offline or
	// when the instance has no such address, and then no policy names it.
	Address string `json:"address,omitempty"`
	// Facts are what the Cloud SQL Admin API said of the instance; nil offline.
	Facts *CloudSQLFacts `json:"facts,omitempty"`
}

// cloudSQL derives the Google Cloud side of spec.addons.cloudSQL.
func (c *compiler) cloudSQL(clusters []ClusterDesired) []CloudSQLAccess {
	sql := c.spec.Addons.CloudSQL
	if sql == nil {
		return nil
	}
	pools := map[string]bool{}
	for _, cd := range clusters {
		if cd.WorkloadPool != "" {
			pools[cd.WorkloadPool] = true
		}
	}
	var out []CloudSQLAccess
	sortedPools := slices.Sorted(maps.Keys(pools))
	for _, in := range sql.Instances {
		project := v1alpha1.CloudSQLProject(in.ConnectionName)
		email := in.GoogleServiceAccount
		id, domain, _ := strings.Cut(email, "@")
		saProject := strings.TrimSuffix(domain, ".iam.gserviceaccount.com")
		a := CloudSQLAccess{ConnectionName: in.ConnectionName, Project: project, Region: v1alpha1.CloudSQLRegion(in.ConnectionName),
			Instance: v1alpha1.CloudSQLInstanceName(in.ConnectionName), PrivateIP: v1alpha1.Bool(in.PrivateIP), Port: in.Port}
		a.ServiceAccount = GoogleServiceAccount{Address: plan.ServiceAccountAddress(saProject, email), Project: saProject, AccountID: id, Email: email,
			DisplayName: "Cloud SQL client of " + a.Instance, Description: DescriptionMarker(c.fed) + ": the Cloud SQL Auth Proxy's identity for " + in.ConnectionName,
			Reason: fmt.Sprintf("the Cloud SQL Auth Proxy beside the clients of %s connects as this service account (spec.addons.cloudSQL)", in.ConnectionName)}
		member := "serviceAccount:" + email
		a.Bindings = append(a.Bindings, IAMBinding{Address: plan.IAMBindingAddress("projects/"+project, RoleCloudSQLClient, member),
			Resource: "projects/" + project, Role: RoleCloudSQLClient, Member: member,
			Reason: fmt.Sprintf("%s may connect to the Cloud SQL instances of project %s, %s among them", email, project, a.Instance)})
		saResource := "projects/" + saProject + "/serviceAccounts/" + email
		for _, cl := range in.Clients {
			a.Clients = append(a.Clients, cl.Namespace+"/"+cl.KubernetesServiceAccount)
			for _, pool := range sortedPools {
				m := fmt.Sprintf("serviceAccount:%s[%s/%s]", pool, cl.Namespace, cl.KubernetesServiceAccount)
				a.Bindings = append(a.Bindings, IAMBinding{Address: plan.IAMBindingAddress(saResource, RoleWorkloadIdentityUser, m),
					Resource: saResource, Role: RoleWorkloadIdentityUser, Member: m,
					Reason: fmt.Sprintf("pods running as %s/%s in the clusters of workload pool %s act as %s through Workload Identity", cl.Namespace, cl.KubernetesServiceAccount, pool, email)})
			}
		}
		sort.Strings(a.Clients)
		sort.Slice(a.Bindings, func(i, j int) bool { return a.Bindings[i].Address < a.Bindings[j].Address })
		if f, ok := c.facts.CloudSQL[in.ConnectionName]; ok {
			f := f
			a.Facts = &f
			switch {
			case !f.Found:
				c.warnings = append(c.warnings, fmt.Sprintf("Cloud SQL instance %s does not exist: the clusters' policies leave it out until it does; create it, then plan again", in.ConnectionName))
			case a.PrivateIP && f.PrivateIP == "":
				c.warnings = append(c.warnings, fmt.Sprintf("Cloud SQL instance %s has no private IP, and spec.addons.cloudSQL asks for it (privateIP: true): give it one on the federation's VPC, or set privateIP: false", in.ConnectionName))
			case !a.PrivateIP && f.PublicIP == "":
				c.warnings = append(c.warnings, fmt.Sprintf("Cloud SQL instance %s has no public IP, and spec.addons.cloudSQL asks for it (privateIP: false): set privateIP: true", in.ConnectionName))
			case a.PrivateIP:
				a.Address = f.PrivateIP
			default:
				a.Address = f.PublicIP
			}
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ConnectionName < out[j].ConnectionName })
	return out
}

// cloudSQLObjects adds, in one cluster, what the clients of each instance need: their Kubernetes
// service accounts annotated with the Google service account; where the namespace has the
// default policies, a NetworkPolicy letting its pods reach the instance on 3307 and the Cloud SQL
// Admin API on 443 (the metadata server is asmfed-allow-metadata's); under REGISTRY_ONLY, the
// ServiceEntries that let the sidecar pass the proxy's own TLS to both. The proxy's traffic stays
// in Envoy: it is TLS the proxy originates, which Envoy passes through as TCP.
func (b *objectBuilder) cloudSQLObjects(sql []CloudSQLAccess, namespaces []v1alpha1.Namespace, egress v1alpha1.Egress) {
	if len(sql) == 0 {
		return
	}
	defaultPolicies := map[string]bool{}
	for _, ns := range namespaces {
		defaultPolicies[ns.Name] = ns.DefaultNetworkPolicy == nil || *ns.DefaultNetworkPolicy
	}
	tcp := corev1.ProtocolTCP
	port := func(n int32) networkingv1.NetworkPolicyPort {
		v := intstr.FromInt32(n)
		return networkingv1.NetworkPolicyPort{Protocol: &tcp, Port: &v}
	}
	registryOnly := egress.Mode == v1alpha1.EgressRegistryOnly
	accounts := map[string]string{}
	adminEntry := map[string]bool{}
	for _, a := range sql {
		namespaces := map[string]bool{}
		for _, cl := range a.Clients {
			ns, name, _ := strings.Cut(cl, "/")
			namespaces[ns] = true
			if accounts[cl] == "" {
				accounts[cl] = a.ServiceAccount.Email
				b.add(ns, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name,
					Annotations: map[string]string{AnnotationGCPServiceAccount: a.ServiceAccount.Email}}}, "",
					fmt.Sprintf("pods running as %s act as %s through Workload Identity: the Cloud SQL Auth Proxy beside them connects to %s with its credentials", cl, a.ServiceAccount.Email, a.ConnectionName))
			}
		}
		for _, ns := range slices.Sorted(maps.Keys(namespaces)) {
			name := cloudSQLPrefix + a.Instance
			if defaultPolicies[ns] {
				rules := []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{outside()}, Ports: []networkingv1.NetworkPolicyPort{port(443)}}}
				reason := fmt.Sprintf("the Cloud SQL Auth Proxy in %s reaches the Cloud SQL Admin API (443) for %s's address and certificate", ns, a.ConnectionName)
				if a.Address != "" {
					rules = append(rules, networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: a.Address + "/32"}}},
						Ports: []networkingv1.NetworkPolicyPort{port(CloudSQLProxyPort)}})
					reason += fmt.Sprintf(", and the instance itself on %s:%d", a.Address, CloudSQLProxyPort)
				}
				b.add(ns, &networkingv1.NetworkPolicy{ObjectMeta: meta(name, nil), Spec: networkingv1.NetworkPolicySpec{
					PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}, Egress: rules}}, "", reason)
			}
			if !registryOnly {
				continue
			}
			if !adminEntry[ns] {
				adminEntry[ns] = true
				b.add(ns, &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersions["ServiceEntry"], "kind": "ServiceEntry",
					"metadata": map[string]any{"name": CloudSQLAdminEntry}, "spec": map[string]any{
						"hosts":    []any{CloudSQLAdminHost},
						"ports":    []any{map[string]any{"number": int64(443), "name": "tls-443", "protocol": "TLS"}},
						"location": "MESH_EXTERNAL", "resolution": "DNS", "exportTo": []any{"."}}}}, "",
					"egress is REGISTRY_ONLY: the sidecars of "+ns+" let the Cloud SQL Auth Proxy reach the Cloud SQL Admin API")
			}
			if a.Address != "" {
				b.add(ns, &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersions["ServiceEntry"], "kind": "ServiceEntry",
					"metadata": map[string]any{"name": name}, "spec": map[string]any{
						"hosts":     []any{CloudSQLHost(a)},
						"addresses": []any{a.Address + "/32"},
						"ports":     []any{map[string]any{"number": int64(CloudSQLProxyPort), "name": "tcp-cloudsql", "protocol": "TCP"}},
						"location":  "MESH_EXTERNAL", "resolution": "STATIC", "endpoints": []any{map[string]any{"address": a.Address}}, "exportTo": []any{"."}}}}, "",
					fmt.Sprintf("egress is REGISTRY_ONLY: the sidecars of %s pass the Cloud SQL Auth Proxy's TLS to %s (%s:%d) through as TCP", ns, a.ConnectionName, a.Address, CloudSQLProxyPort))
			}
		}
	}
}

// CloudSQLHost is the name the mesh knows an instance's address by (a ServiceEntry needs one);
// nothing resolves it, the proxy connects to the address.
func CloudSQLHost(a CloudSQLAccess) string {
	return fmt.Sprintf("%s.%s.cloudsql.internal", a.Instance, a.Region)
}

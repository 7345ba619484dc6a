package v1alpha1

import (
	"fmt"
	"regexp"
	"strings"
)

// cloudSQL checks spec.addons.cloudSQL: connection names, service accounts, clients in namespaces
// of the file, and Workload Identity on every cluster (the proxy's credentials come from it).
func (v *validator) cloudSQL(sql *CloudSQL) {
	if sql == nil {
		return
	}
	if len(sql.Instances) == 0 {
		v.errorf("spec.addons.cloudSQL.instances", "list the instances, or remove spec.addons.cloudSQL", "at least one instance is required")
	}
	instances := map[string]string{}
	for i, in := range sql.Instances {
		p := fmt.Sprintf("spec.addons.cloudSQL.instances[%d]", i)
		if !sqlConnection.MatchString(in.ConnectionName) {
			v.errorf(p+".connectionName", "project:region:instance, as shown by gcloud sql instances describe", "%q is not a connection name", in.ConnectionName)
		} else if prev, dup := instances[CloudSQLInstanceName(in.ConnectionName)]; dup {
			v.errorf(p+".connectionName", "give each instance one entry, with all its clients", "instance %q is already %s", CloudSQLInstanceName(in.ConnectionName), prev)
		} else {
			instances[CloudSQLInstanceName(in.ConnectionName)] = p
		}
		if !emailAddr.MatchString(in.GoogleServiceAccount) || !strings.HasSuffix(in.GoogleServiceAccount, ".iam.gserviceaccount.com") {
			v.errorf(p+".googleServiceAccount", "e.g. sql-client@my-project.iam.gserviceaccount.com", "%q is not a Google service account email", in.GoogleServiceAccount)
		} else if id, _, _ := strings.Cut(in.GoogleServiceAccount, "@"); !serviceAccountID.MatchString(id) {
			v.errorf(p+".googleServiceAccount", "6 to 30 lower-case letters, digits and dashes, starting with a letter", "%q cannot be created: its account ID %q is not valid", in.GoogleServiceAccount, id)
		}
		if len(in.Clients) == 0 {
			v.errorf(p+".clients", "add {namespace, kubernetesServiceAccount} for each workload that connects", "at least one client is required")
		}
		seen := map[string]bool{}
		for j, c := range in.Clients {
			cp := fmt.Sprintf("%s.clients[%d]", p, j)
			if !v.hasNamespace(c.Namespace) {
				v.errorf(cp+".namespace", "add it to spec.namespaces", "namespace %q is not in spec.namespaces", c.Namespace)
			}
			if len(c.KubernetesServiceAccount) > 63 || !dnsLabel.MatchString(c.KubernetesServiceAccount) {
				v.errorf(cp+".kubernetesServiceAccount", "lower-case letters, digits and dashes", "%q is not a valid service account name", c.KubernetesServiceAccount)
			}
			key := c.Namespace + "/" + c.KubernetesServiceAccount
			if seen[key] {
				v.errorf(cp, "list each client once", "%s is listed twice", key)
			}
			seen[key] = true
		}
		if in.Port < 1 || in.Port > 65535 {
			v.errorf(p+".port", "", "port %d is out of range", in.Port)
		}
	}
	// One Kubernetes service account carries one Google service account annotation.
	gsaOf := map[string]string{}
	for i, in := range sql.Instances {
		for j, c := range in.Clients {
			key := c.Namespace + "/" + c.KubernetesServiceAccount
			if g, ok := gsaOf[key]; ok && g != in.GoogleServiceAccount {
				v.errorf(fmt.Sprintf("spec.addons.cloudSQL.instances[%d].clients[%d]", i, j), "use one googleServiceAccount for every instance this client connects to, or another kubernetesServiceAccount",
					"%s would be annotated with two Google service accounts (%s and %s)", key, g, in.GoogleServiceAccount)
			}
			gsaOf[key] = in.GoogleServiceAccount
		}
	}
	for i, c := range v.f.Spec.Clusters {
		if c.WorkloadIdentity != nil && !*c.WorkloadIdentity {
			v.errorf(fmt.Sprintf("spec.clusters[%d].workloadIdentity", i), "remove workloadIdentity: false, or spec.addons.cloudSQL",
				"the Cloud SQL Auth Proxy gets its credentials through Workload Identity, which cluster %s turns off", c.Name)
		}
	}
}

// serviceAccountID is what IAM accepts as a service account's account ID.
var serviceAccountID = regexp.MustCompile(`^[a-z]([-a-z0-9]{4,28}[a-z0-9])$`)

// CloudSQLInstanceName is the instance part of a connection name project:region:instance.
func CloudSQLInstanceName(connectionName string) string {
	return connectionName[strings.LastIndex(connectionName, ":")+1:]
}

// CloudSQLProject is the project part of a connection name (a domain-scoped project keeps its
// domain: example.com:proj).
func CloudSQLProject(connectionName string) string {
	parts := strings.Split(connectionName, ":")
	if len(parts) < 3 {
		return ""
	}
	return strings.Join(parts[:len(parts)-2], ":")
}

// CloudSQLRegion is the region part of a connection name.
func CloudSQLRegion(connectionName string) string {
	parts := strings.Split(connectionName, ":")
	if len(parts) < 3 {
		return ""
	}
	return parts[len(parts)-2]
}

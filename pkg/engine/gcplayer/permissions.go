package gcplayer

import (
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// The IAM permissions each change needs, and the predefined roles that grant them: what preflight
// tests with testIamPermissions before apply creates anything (docs/preflight.md).
//
// Source: the "required permissions" of each method in Google Cloud's REST references
// (compute.firewalls.insert needs compute.firewalls.create and compute.networks.updatePolicy,
// container.projects.locations.clusters.create needs container.clusters.create, …) and the
// included permissions of the predefined roles, read with
//
//	gcloud iam roles describe roles/compute.securityAdmin --format='value(includedPermissions)'
//
// To refresh it, describe each role of predefinedRoles again and keep the permissions that
// changePermissions names; TestEveryPermissionHasARole fails when a permission has no role here.

// changePermissions are the permissions a change of each kind needs, by action, on the change's
// project (subnetwork IAM bindings: on the subnetwork once it exists). Replace needs those of
// delete and create. A kind the layer can plan without an entry fails TestEveryKindHasPermissions.
var changePermissions = map[string]map[plan.Action][]string{
	plan.KindAPI: {
		plan.Create: {"serviceusage.services.enable"},
	},
	plan.KindNetwork: {
		plan.Create: {"compute.networks.create"},
		plan.Update: {"compute.networks.update"},
		plan.Delete: {"compute.networks.delete"},
	},
	plan.KindSubnetwork: {
		plan.Create: {"compute.subnetworks.create"},
		plan.Update: {"compute.subnetworks.update", "compute.subnetworks.setPrivateIpGoogleAccess"},
		plan.Delete: {"compute.subnetworks.delete"},
	},
	plan.KindFirewall: {
		plan.Create: {"compute.firewalls.create", "compute.networks.updatePolicy"},
		plan.Update: {"compute.firewalls.update", "compute.networks.updatePolicy"},
		plan.Delete: {"compute.firewalls.delete", "compute.networks.updatePolicy"},
	},
	plan.KindRouter: {
		plan.Create: {"compute.routers.create"},
		plan.Update: {"compute.routers.update"},
		plan.Delete: {"compute.routers.delete"},
	},
	plan.KindInstance: {
		plan.Create: {"compute.instances.create", "compute.disks.create", "compute.subnetworks.use", "compute.instances.setMetadata",
			"compute.instances.setTags", "compute.instances.setLabels", "compute.instances.setServiceAccount", "iam.serviceAccounts.actAs"},
		plan.Update: {"compute.instances.setMachineType", "compute.instances.setServiceAccount", "compute.instances.setShieldedVmIntegrityPolicy",
			"compute.instances.stop", "compute.instances.start", "compute.instances.setMetadata", "compute.instances.setTags",
			"compute.instances.setLabels", "iam.serviceAccounts.actAs"},
		plan.Delete: {"compute.instances.delete"},
	},
	// Shared VPC wiring is granted on the organisation or a folder (roles/compute.xpnAdmin), where
	// a project's testIamPermissions cannot see it: orgPermissions says so instead.
	plan.KindXpnHost:    {},
	plan.KindXpnService: {},
	plan.KindIAMBinding: {
		plan.Create: {"resourcemanager.projects.getIamPolicy", "resourcemanager.projects.setIamPolicy"},
		plan.Delete: {"resourcemanager.projects.getIamPolicy", "resourcemanager.projects.setIamPolicy"},
	},
	// The Cloud SQL add-on's Google service account.
	plan.KindServiceAccount: {
		plan.Create: {"iam.serviceAccounts.create", "iam.serviceAccounts.get"},
		plan.Update: {"iam.serviceAccounts.update"},
		plan.Delete: {"iam.serviceAccounts.delete"},
	},
	plan.KindCluster: {
		plan.Create: {"container.clusters.create", "iam.serviceAccounts.actAs"},
		plan.Update: {"container.clusters.update"},
		plan.Delete: {"container.clusters.delete"},
	},
	plan.KindNodePool: {
		// GKE checks node pool changes as changes of their cluster.
		plan.Create: {"container.clusters.update"},
		plan.Update: {"container.clusters.update"},
		plan.Delete: {"container.clusters.update"},
	},
	plan.KindMembership: {
		plan.Create: {"gkehub.memberships.create"},
		plan.Update: {"gkehub.memberships.update"},
		plan.Delete: {"gkehub.memberships.delete"},
	},
	plan.KindFeature: {
		plan.Create: {"gkehub.features.create"},
		plan.Update: {"gkehub.features.update"},
	},
}

// serviceAccountBindingPermissions replace the project's IAM permissions for a binding on a
// service account's own policy (the Cloud SQL add-on's Workload Identity bindings).
var serviceAccountBindingPermissions = []string{"iam.serviceAccounts.getIamPolicy", "iam.serviceAccounts.setIamPolicy"}

// subnetBindingPermissions replace the project's IAM permissions for a binding on a subnetwork.
var subnetBindingPermissions = []string{"compute.subnetworks.getIamPolicy", "compute.subnetworks.setIamPolicy"}

// lockPermissions are what every apply needs on the fleet project: its lock is an item of the
// project's metadata.
var lockPermissions = []string{"compute.projects.get", "compute.projects.setCommonInstanceMetadata"}

// orgPermissions are the permissions of kinds granted above projects, which preflight names
// without testing.
var orgPermissions = map[string]string{
	plan.KindXpnHost:    "compute.organizations.enableXpnHost",
	plan.KindXpnService: "compute.organizations.enableXpnResource",
}

// predefinedRole is a predefined role and the permissions of changePermissions it includes.
type predefinedRole struct {
	Name        string
	Permissions []string
}

// predefinedRoles are the roles preflight names, narrowest first: a missing permission is
// reported with the first two that include it.
var predefinedRoles = []predefinedRole{
	{"roles/serviceusage.serviceUsageAdmin", []string{"serviceusage.services.enable"}},
	{"roles/iam.serviceAccountUser", []string{"iam.serviceAccounts.actAs"}},
	{"roles/iam.serviceAccountAdmin", []string{"iam.serviceAccounts.create", "iam.serviceAccounts.get", "iam.serviceAccounts.update",
		"iam.serviceAccounts.delete", "iam.serviceAccounts.getIamPolicy", "iam.serviceAccounts.setIamPolicy"}},
	{"roles/compute.networkUser", []string{"compute.subnetworks.use"}},
	{"roles/resourcemanager.projectIamAdmin", []string{"resourcemanager.projects.getIamPolicy", "resourcemanager.projects.setIamPolicy"}},
	{"roles/compute.securityAdmin", []string{"compute.firewalls.create", "compute.firewalls.update", "compute.firewalls.delete",
		"compute.networks.updatePolicy", "compute.subnetworks.getIamPolicy", "compute.subnetworks.setIamPolicy"}},
	{"roles/compute.xpnAdmin", []string{"compute.organizations.enableXpnHost", "compute.organizations.enableXpnResource",
		"compute.subnetworks.getIamPolicy", "compute.subnetworks.setIamPolicy", "compute.projects.get"}},
	{"roles/compute.networkAdmin", []string{"compute.networks.create", "compute.networks.update", "compute.networks.delete",
		"compute.subnetworks.create", "compute.subnetworks.update", "compute.subnetworks.delete", "compute.subnetworks.setPrivateIpGoogleAccess",
		"compute.subnetworks.use", "compute.routers.create", "compute.routers.update", "compute.routers.delete", "compute.projects.get"}},
	{"roles/gkehub.admin", []string{"gkehub.memberships.create", "gkehub.memberships.update", "gkehub.memberships.delete",
		"gkehub.features.create", "gkehub.features.update"}},
	{"roles/container.clusterAdmin", []string{"container.clusters.create", "container.clusters.update", "container.clusters.delete"}},
	{"roles/container.admin", []string{"container.clusters.create", "container.clusters.update", "container.clusters.delete"}},
	{"roles/compute.instanceAdmin.v1", []string{"compute.instances.create", "compute.instances.delete", "compute.disks.create",
		"compute.subnetworks.use", "compute.instances.setMetadata", "compute.instances.setTags", "compute.instances.setLabels",
		"compute.instances.setServiceAccount", "compute.instances.setMachineType", "compute.instances.setShieldedVmIntegrityPolicy",
		"compute.instances.stop", "compute.instances.start", "compute.projects.get", "compute.projects.setCommonInstanceMetadata"}},
	{"roles/compute.admin", []string{"compute.networks.create", "compute.networks.update", "compute.networks.delete",
		"compute.networks.updatePolicy", "compute.subnetworks.create", "compute.subnetworks.update", "compute.subnetworks.delete",
		"compute.subnetworks.setPrivateIpGoogleAccess", "compute.subnetworks.use", "compute.subnetworks.getIamPolicy", "compute.subnetworks.setIamPolicy",
		"compute.firewalls.create", "compute.firewalls.update", "compute.firewalls.delete", "compute.routers.create", "compute.routers.update",
		"compute.routers.delete", "compute.instances.create", "compute.instances.delete", "compute.disks.create", "compute.instances.setMetadata",
		"compute.instances.setTags", "compute.instances.setLabels", "compute.instances.setServiceAccount", "compute.instances.setMachineType",
		"compute.instances.setShieldedVmIntegrityPolicy", "compute.instances.stop", "compute.instances.start", "compute.projects.get",
		"compute.projects.setCommonInstanceMetadata"}},
}

// rolesGranting are the narrowest predefined roles (at most two) that include permission.
func rolesGranting(permission string) []string {
	var out []string
	for _, r := range predefinedRoles {
		for _, p := range r.Permissions {
			if p == permission {
				out = append(out, r.Name)
				break
			}
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		out = []string{"roles/owner"}
	}
	return out
}

package federation

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// IAPRange is the range Identity-Aware Proxy's TCP forwarding connects from: the only source the
// bastion's SSH port is open to.
const IAPRange = "35.235.240.0/20"

// BastionImage is the bastion's boot image: the current Debian 12 image when the VM is created,
// which ships with the Google Cloud CLI (gcloud, and kubectl through its components).
const BastionImage = "projects/debian-cloud/global/images/family/debian-12"

// bastion derives the administration VM, in the network's project and on the subnet the file
// names; nil when the file has none.
func (c *compiler) bastion() (*Bastion, error) {
	b := c.spec.Admin.Bastion
	if b == nil {
		return nil, nil
	}
	sub := c.subnets[b.Subnet]
	if sub == nil {
		return nil, fmt.Errorf("spec.admin.bastion.subnet: subnet %q is not in spec.network.subnets", b.Subnet)
	}
	primary, err := netip.ParsePrefix(sub.PrimaryRange)
	if err != nil {
		return nil, fmt.Errorf("spec.network.subnets[%s].primaryRange: %q is not a CIDR: %w", sub.Name, sub.PrimaryRange, err)
	}
	project := c.spec.Network.Project
	out := &Bastion{
		Address:        plan.InstanceAddress(project, b.Zone, b.Name),
		Project:        project,
		Zone:           b.Zone,
		Region:         v1alpha1.RegionOf(b.Zone),
		Name:           b.Name,
		Network:        c.vpc(),
		Subnetwork:     c.subnetwork(sub.Region, sub.Name),
		SubnetAddress:  plan.SubnetworkAddress(project, sub.Region, sub.Name),
		MachineType:    b.MachineType,
		InternalIP:     b.InternalIP,
		Tag:            ResourceName(c.fed, "bastion"),
		ServiceAccount: b.ServiceAccount,
		Image:          BastionImage,
		Labels:         map[string]string{LabelManagedBy: ManagedByValue, LabelFederation: c.fed},
		SSHRule:        plan.FirewallAddress(project, firewallName(c.fed, sshRuleKind)),
	}
	at := fmt.Sprintf("an address of subnet %s (%s) that Compute Engine picks", sub.Name, primary.Masked())
	out.AuthorizedRange = primary.Masked().String()
	if b.InternalIP != "" {
		ip, err := netip.ParseAddr(b.InternalIP)
		if err != nil {
			return nil, fmt.Errorf("spec.admin.bastion.internalIP: %q is not an IPv4 address: %w", b.InternalIP, err)
		}
		at = fmt.Sprintf("the static address %s of subnet %s", ip, sub.Name)
		out.AuthorizedRange = netip.PrefixFrom(ip, 32).String()
	}
	out.SSHCommand = fmt.Sprintf("gcloud compute ssh %s --zone %s --project %s --tunnel-through-iap", b.Name, b.Zone, project)
	out.Reason = fmt.Sprintf("administration VM %s in %s at %s: no external IP, shielded VM, OS Login; administrators reach it with `%s` and run kubectl from it against the clusters' private endpoints",
		b.Name, b.Zone, at, out.SSHCommand)
	return out, nil
}

// sshRuleKind names the firewall rule that lets Identity-Aware Proxy reach the bastion's SSH port.
const sshRuleKind = "iap-ssh"

// bastionRules is the firewall rule that lets Identity-Aware Proxy reach the bastion's port 22,
// and only the bastion's: it targets the bastion's own network tag.
func (c *compiler) bastionRules(b *Bastion) []FirewallRule {
	if b == nil {
		return nil
	}
	return c.rules(sshRuleKind, []string{IAPRange}, []string{b.Tag}, []Allowed{{IPProtocol: "tcp", Ports: []string{"22"}}},
		fmt.Sprintf("Identity-Aware Proxy's TCP forwarding (%s) carries administrators' SSH to the bastion %s, which has no external IP: %s",
			IAPRange, b.Name, b.SSHCommand))
}

// bastionNetwork admits the bastion to a cluster's control plane. An authorized network that
// already contains its range (an admin network on the bastion's subnet, typically) admits it: that
// entry's reason says so, and no entry is added, since GKE accepts a limited number of them.
func bastionNetwork(b *Bastion, byCIDR map[string]*AuthorizedNetwork) *AuthorizedNetwork {
	if b == nil {
		return nil
	}
	bp := netip.MustParsePrefix(b.AuthorizedRange)
	var covering []string
	for key := range byCIDR {
		if p := netip.MustParsePrefix(key); p.Bits() <= bp.Bits() && p.Contains(bp.Addr()) {
			covering = append(covering, key)
		}
	}
	if len(covering) > 0 {
		sort.Strings(covering)
		at := b.InternalIP
		if at == "" {
			at = "any address of " + b.AuthorizedRange
		}
		for _, key := range covering {
			byCIDR[key].Reason += fmt.Sprintf("; it admits the bastion %s (%s), from which administrators run kubectl", b.Name, at)
		}
		return nil
	}
	why := "its static address"
	if b.InternalIP == "" {
		why = "its subnet's primary range, as its address is not fixed"
	}
	return &AuthorizedNetwork{DisplayName: b.Name, CIDR: b.AuthorizedRange,
		Reason: fmt.Sprintf("the bastion %s: administrators run kubectl against the private endpoint from it (%s)", b.Name, why)}
}

// bastionNATReason says why the bastion's subnet is in a region's Cloud NAT.
func bastionNATReason(b *v1alpha1.Bastion) string {
	return fmt.Sprintf("the bastion %s has no external IP either: spec.admin.bastion.nat adds its subnet %s, so that it can download tools",
		b.Name, b.Subnet)
}

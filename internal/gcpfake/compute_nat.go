package gcpfake

import (
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// natCoverage is what one NAT of a router covers in one subnetwork: the range options of
// LIST_OF_SUBNETWORKS (ALL_IP_RANGES, PRIMARY_IP_RANGE, LIST_OF_SECONDARY_IP_RANGES) and the
// secondary range names of the last.
type natCoverage struct {
	nat, router string
	options     []string
	secondary   []string
}

// checkNatSubnets enforces what Cloud NAT allows on a network's subnet ranges in a region: one
// NAT per range. A NAT with ALL_SUBNETWORKS_* excludes every other NAT of the network in the
// region; a subnetwork's ALL_IP_RANGES excludes every other NAT of that subnetwork; its primary
// range and each secondary range are NATed by one NAT at most. The errors are Compute Engine's.
// r is the router being written (its NATs are checked against each other and against those of
// the network's other routers in the region).
func (s *Server) checkNatSubnets(project, region string, r *computepb.Router) error {
	network := r.GetNetwork()
	var others []*computepb.Router
	for _, k := range s.st.match("compute/projects/" + project + "/regions/" + region + "/routers/*") {
		o, _ := s.st.get(k).(*computepb.Router)
		if o == nil || o.GetName() == r.GetName() || o.GetNetwork() != network {
			continue
		}
		others = append(others, o)
	}
	// covered holds, per subnetwork link, what the NATs seen so far cover; allSubnets names a
	// NAT covering every subnetwork.
	covered := map[string][]natCoverage{}
	var allSubnets *natCoverage
	add := func(router string, n *computepb.RouterNat) {
		switch n.GetSourceSubnetworkIpRangesToNat() {
		case "ALL_SUBNETWORKS_ALL_IP_RANGES", "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES":
			allSubnets = &natCoverage{nat: n.GetName(), router: router, options: []string{n.GetSourceSubnetworkIpRangesToNat()}}
		case "LIST_OF_SUBNETWORKS":
			for _, sn := range n.GetSubnetworks() {
				covered[sn.GetName()] = append(covered[sn.GetName()], natCoverage{nat: n.GetName(), router: router,
					options: sn.GetSourceIpRangesToNat(), secondary: sn.GetSecondaryIpRangeNames()})
			}
		}
	}
	for _, o := range others {
		for _, n := range o.GetNats() {
			add(o.GetName(), n)
		}
	}
	for i, n := range r.GetNats() {
		f := fmt.Sprintf("resource.nats[%d]", i)
		all := n.GetSourceSubnetworkIpRangesToNat()
		if allSubnets != nil {
			return computeInvalid(f+".sourceSubnetworkIpRangesToNat", "Invalid value for field '%s.sourceSubnetworkIpRangesToNat': '%s'. Can not create new Nats since a Nat with option %s exists.", f, all, allSubnets.options[0])
		}
		if strings.HasPrefix(all, "ALL_SUBNETWORKS_") && (len(covered) > 0 || i > 0) {
			return computeInvalid(f+".sourceSubnetworkIpRangesToNat", "Invalid value for field '%s.sourceSubnetworkIpRangesToNat': '%s'. Can not create Nat with option %s since other Nats exist in the region.", f, all, all)
		}
		if all == "LIST_OF_SUBNETWORKS" {
			for j, sn := range n.GetSubnetworks() {
				sf := fmt.Sprintf("%s.subnetworks[%d].sourceIpRangesToNat", f, j)
				for _, prev := range covered[sn.GetName()] {
					if err := rangeClash(sf, sn, prev); err != nil {
						return err
					}
				}
			}
		}
		add(r.GetName(), n)
	}
	return nil
}

// rangeClash says how a subnetwork entry of a new NAT clashes with one of an existing NAT.
func rangeClash(field string, sn *computepb.RouterNatSubnetworkToNat, prev natCoverage) error {
	want := sn.GetSourceIpRangesToNat()
	if slices.Contains(prev.options, "ALL_IP_RANGES") {
		return computeInvalid(field, "Invalid value for field '%s': '%s'. The subnetwork is already configured with ALL_IP_RANGES for Nat which conflicts with the specified IpRangeToNatOption options in this Nat.", field, strings.Join(want, ","))
	}
	for k, opt := range want {
		of := fmt.Sprintf("%s[%d]", field, k)
		switch {
		case opt == "ALL_IP_RANGES":
			return computeInvalid(of, "Invalid value for field '%s': '%s'. Can not specify ALL_IP_RANGES for the Subnetwork since it is already configured for Nat with the option %s.", of, opt, prev.options[0])
		case opt == "PRIMARY_IP_RANGE" && slices.Contains(prev.options, "PRIMARY_IP_RANGE"):
			return computeInvalid(of, "Invalid value for field '%s': '%s'. Can not specify PRIMARY_IP_RANGE for the Subnetwork since it is already configured for Nat with the option PRIMARY_IP_RANGE.", of, opt)
		case opt == "LIST_OF_SECONDARY_IP_RANGES":
			for _, name := range sn.GetSecondaryIpRangeNames() {
				if slices.Contains(prev.secondary, name) {
					return computeInvalid(of, "Invalid value for field '%s': '%s'. Can not specify secondary range %s for the Subnetwork since it is already configured for Nat %s.", of, opt, name, prev.nat)
				}
			}
		}
	}
	return nil
}

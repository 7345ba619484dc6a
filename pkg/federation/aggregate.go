package federation

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// maxPeerEntryName bounds the display name of an entry that merges several peers' pod ranges; a
// longer "<first>-to-<last>-pods" becomes "<first>-and-<n>-more-pods" (cluster names are at most
// 40 characters).
const maxPeerEntryName = 63

// mergePrefixes is the fewest prefixes that hold exactly the addresses of in: prefixes inside
// another are dropped, and two halves of one prefix become that prefix, repeatedly. in is sorted
// by comparePrefixes; so is the result. Nothing outside the union of in is ever added.
func mergePrefixes(in []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(in))
	for _, p := range in {
		// Sorted by address and the wider first, a prefix overlapping the last one kept lies inside
		// it: one that held the last kept would start at its address and sort before it.
		if n := len(out); n > 0 && out[n-1].Overlaps(p) {
			continue
		}
		out = append(out, p)
		for n := len(out); n >= 2 && siblings(out[n-2], out[n-1]); n = len(out) {
			out = append(out[:n-2], netip.PrefixFrom(out[n-2].Addr(), out[n-2].Bits()-1))
		}
	}
	return out
}

// siblings says whether a and b are the two halves of one prefix; both are masked.
func siblings(a, b netip.Prefix) bool {
	if a == b || a.Bits() != b.Bits() || a.Bits() == 0 || a.Addr().BitLen() != b.Addr().BitLen() {
		return false
	}
	pa, _ := a.Addr().Prefix(a.Bits() - 1)
	pb, _ := b.Addr().Prefix(b.Bits() - 1)
	return pa == pb
}

// peerEntry is the authorized network of merged, the merge of the pod ranges of peers (in address
// order). A range of one peer keeps that peer's name and reason, as does a range several peers
// share exactly; a merge of several ranges is named after its first and last peer and its reason
// names every peer it admits.
func peerEntry(merged netip.Prefix, peers []peerNetwork) *AuthorizedNetwork {
	same := true
	for _, n := range peers {
		same = same && n.prefix == merged
	}
	if same {
		reasons := make([]string, len(peers))
		for i, n := range peers {
			reasons[i] = n.reason
		}
		return &AuthorizedNetwork{DisplayName: peers[0].name, CIDR: merged.String(), Reason: strings.Join(reasons, "; ")}
	}
	first, last := peers[0].peer, peers[len(peers)-1].peer
	name := first + "-to-" + last + "-pods"
	if len(name) > maxPeerEntryName {
		name = first + "-and-" + strconv.Itoa(len(peers)-1) + "-more-pods"
	}
	names := make([]string, len(peers))
	for i, n := range peers {
		names[i] = n.peer
	}
	return &AuthorizedNetwork{DisplayName: name, CIDR: merged.String(),
		Reason: "pod ranges of peers " + strings.Join(names, ", ") + ", merged as together they are exactly this range: their istiod reads this API server through the remote secret, from pod IPs"}
}

// MergePrefixes is the fewest prefixes that hold exactly the addresses of prefixes, in address
// order: what a cluster's master authorized networks make of its peers' pod ranges.
func MergePrefixes(prefixes []netip.Prefix) []netip.Prefix {
	in := make([]netip.Prefix, len(prefixes))
	for i, p := range prefixes {
		in[i] = p.Masked()
	}
	slices.SortFunc(in, comparePrefixes)
	return mergePrefixes(in)
}

package federation

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// TestMergePrefixes merges random sets of prefixes of 10.0.0.0/20 and checks the result against
// every one of its 4096 addresses: an address is in the result exactly when it is in one of the
// inputs, and no two results overlap or are halves of one prefix, so none could be fewer.
func TestMergePrefixes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := netip.MustParsePrefix("10.0.0.0/20").Addr().As4()
	addrAt := func(i int) netip.Addr {
		a := base
		a[2] += byte(i >> 8)
		a[3] = byte(i)
		return netip.AddrFrom4(a)
	}
	for round := 0; round < 2000; round++ {
		var in []netip.Prefix
		for n := rng.IntN(12); n >= 0; n-- {
			bits := 20 + rng.IntN(9)
			p, _ := addrAt(rng.IntN(4096)).Prefix(bits)
			in = append(in, p)
		}
		slices.SortFunc(in, comparePrefixes)
		got := mergePrefixes(slices.Clone(in))
		for i := 0; i < 4096; i++ {
			a := addrAt(i)
			want := slices.ContainsFunc(in, func(p netip.Prefix) bool { return p.Contains(a) })
			if has := slices.ContainsFunc(got, func(p netip.Prefix) bool { return p.Contains(a) }); has != want {
				t.Fatalf("%v merged into %v: %s admitted %v, want %v", in, got, a, has, want)
			}
		}
		for i := range got {
			if i > 0 && comparePrefixes(got[i-1], got[i]) >= 0 {
				t.Fatalf("%v merged into %v: not in address order", in, got)
			}
			for j := i + 1; j < len(got); j++ {
				if got[i].Overlaps(got[j]) || siblings(got[i], got[j]) {
					t.Fatalf("%v merged into %v: %s and %s could be fewer", in, got, got[i], got[j])
				}
			}
		}
	}
}

// TestMergePrefixesFamilies: IPv4 and IPv6 prefixes are never halves of one another, and the two
// halves of ::/0 are merged like any other.
func TestMergePrefixesFamilies(t *testing.T) {
	in := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/1"), netip.MustParsePrefix("128.0.0.0/1"),
		netip.MustParsePrefix("::/1"), netip.MustParsePrefix("8000::/1")}
	slices.SortFunc(in, comparePrefixes)
	got := mergePrefixes(in)
	want := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

package federation_test

import (
	"fmt"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

func ExampleCompile() {
	f := fedtest.Reference().Build() // cluster3 and cluster4 in us-west2, bastion 10.0.0.0/24
	d, err := federation.Compile(f, federation.Facts{ProjectNumbers: map[string]int64{"asm-seed": 123456789012}})
	if err != nil {
		panic(err)
	}
	fmt.Println("mesh ID:", d.Mesh.MeshID)
	for _, r := range d.FirewallRules {
		fmt.Println("firewall:", r.Name, r.SourceRanges, "→", r.TargetTags)
	}
	for _, n := range d.Clusters[0].MasterAuthorizedNetworks {
		fmt.Println(d.Clusters[0].Name, "authorizes", n.CIDR, "("+n.DisplayName+")")
	}
	for _, s := range d.RemoteSecrets {
		fmt.Println("secret:", s.Address)
	}
	// Output:
	// mesh ID: proj-123456789012
	// firewall: asmfed-asm--admin [10.0.0.0/24] → [cluster3 cluster4]
	// firewall: asmfed-asm--iap-ssh [35.235.240.0/20] → [asmfed-asm--bastion]
	// firewall: asmfed-asm--mesh-from-cluster3 [10.185.128.0/18] → [cluster4]
	// firewall: asmfed-asm--mesh-from-cluster4 [10.185.192.0/18] → [cluster3]
	// firewall: asmfed-asm--webhooks [192.168.2.0/28 192.168.3.0/28] → [cluster3 cluster4]
	// cluster3 authorizes 10.0.0.0/24 (bastion-admin)
	// cluster3 authorizes 10.185.192.0/18 (cluster4-pods)
	// secret: k8s:cluster3/istio-system/Secret/istio-remote-secret-cluster4
	// secret: k8s:cluster4/istio-system/Secret/istio-remote-secret-cluster3
}

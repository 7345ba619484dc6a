// Package fields proves that the Federation API accepts nothing without effect: every field,
// varied from a valid federation, changes the compiled model of both layers, the rendered
// control plane, or is refused by validation. A new field fails the walk until it has a variation
// here, and a field whose variation changes nothing fails it for good.
package fields

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/asmfed/kubectl-asmfed/internal/testutil"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
	"github.com/asmfed/kubectl-asmfed/pkg/istio/render"
)

// facts are the project numbers the compiled model resolves with, as a plan reads them; the
// fleet project's is left to spec.fleetProjectNumber, as offline commands (validate, render) do.
var facts = federation.Facts{ProjectNumbers: map[string]int64{
	"host-proj": 222222222222, "svc-proj": 333333333333, "other-proj": 444444444444,
}}

type mutation func(f *v1alpha1.Federation)

func ptr[T any](v T) *T { return &v }

// variations vary each leaf field of the API once, from testdata/base.yaml. Slices of structs are
// varied at their first element. A variation must produce a federation that differs from the base
// in that field only, as far as the field allows.
var variations = map[string]mutation{
	"apiVersion":    func(f *v1alpha1.Federation) { f.APIVersion = "asmfed.io/v1beta9" },
	"kind":          func(f *v1alpha1.Federation) { f.Kind = "Mesh" },
	"metadata.name": func(f *v1alpha1.Federation) { f.Metadata.Name = "other" },
	"spec.fleetProject": func(f *v1alpha1.Federation) {
		f.Spec.FleetProject = "other-proj"
		f.Spec.FleetProjectNumber = 444444444444
	},
	"spec.fleetProjectNumber":       func(f *v1alpha1.Federation) { f.Spec.FleetProjectNumber = 111111111112 },
	"spec.network.project":          func(f *v1alpha1.Federation) { f.Spec.Network.Project = "other-proj" },
	"spec.network.name":             func(f *v1alpha1.Federation) { f.Spec.Network.Name = "other-vpc" },
	"spec.network.subnets[].name":   func(f *v1alpha1.Federation) { renameSubnet(f, "admin", "ops") },
	"spec.network.subnets[].region": func(f *v1alpha1.Federation) { f.Spec.Network.Subnets[3].Region = "us-east1" },
	"spec.network.subnets[].primaryRange": func(f *v1alpha1.Federation) {
		f.Spec.Network.Subnets[0].PrimaryRange = "10.0.1.0/24"
	},
	"spec.network.subnets[].podRange.name": func(f *v1alpha1.Federation) { f.Spec.Network.Subnets[1].PodRange.Name = "w-pods" },
	"spec.network.subnets[].podRange.cidr": func(f *v1alpha1.Federation) {
		f.Spec.Network.Subnets[1].PodRange.CIDR = "10.22.0.0/16"
	},
	"spec.network.subnets[].serviceRange.name": func(f *v1alpha1.Federation) {
		f.Spec.Network.Subnets[1].ServiceRange.Name = "w-svc"
	},
	"spec.network.subnets[].serviceRange.cidr": func(f *v1alpha1.Federation) {
		f.Spec.Network.Subnets[1].ServiceRange.CIDR = "10.32.0.0/20"
	},
	"spec.network.subnets[].privateGoogleAccess": func(f *v1alpha1.Federation) {
		f.Spec.Network.Subnets[0].PrivateGoogleAccess = ptr(false)
	},
	"spec.network.cloudNAT.enabled": func(f *v1alpha1.Federation) { f.Spec.Network.CloudNAT.Enabled = ptr(false) },
	"spec.network.cloudNAT.regions": func(f *v1alpha1.Federation) {
		f.Spec.Network.CloudNAT.Regions = []string{"us-west2"}
		f.Spec.Network.CloudNAT.Subnets = []string{"west"}
	},
	"spec.network.cloudNAT.subnets": func(f *v1alpha1.Federation) {
		f.Spec.Network.CloudNAT.Subnets = []string{"west", "east", "admin"}
	},
	"spec.admin.authorizedNetworks[].name": func(f *v1alpha1.Federation) { f.Spec.Admin.AuthorizedNetworks[0].Name = "ops" },
	"spec.admin.authorizedNetworks[].cidr": func(f *v1alpha1.Federation) {
		f.Spec.Admin.AuthorizedNetworks[0].CIDR = "10.0.0.0/25"
	},
	"spec.admin.bastion.name":        func(f *v1alpha1.Federation) { f.Spec.Admin.Bastion.Name = "jump" },
	"spec.admin.bastion.zone":        func(f *v1alpha1.Federation) { f.Spec.Admin.Bastion.Zone = "us-west2-b" },
	"spec.admin.bastion.subnet":      func(f *v1alpha1.Federation) { f.Spec.Admin.Bastion.Subnet = "west" },
	"spec.admin.bastion.machineType": func(f *v1alpha1.Federation) { f.Spec.Admin.Bastion.MachineType = "e2-medium" },
	"spec.admin.bastion.internalIP":  func(f *v1alpha1.Federation) { f.Spec.Admin.Bastion.InternalIP = "10.0.0.10" },
	"spec.admin.bastion.serviceAccount": func(f *v1alpha1.Federation) {
		f.Spec.Admin.Bastion.ServiceAccount = "bastion@host-proj.iam.gserviceaccount.com"
	},
	"spec.admin.bastion.nat": func(f *v1alpha1.Federation) { f.Spec.Admin.Bastion.NAT = true },
	// The first cluster names a kubeconfig context, so the federation-wide way reaches the second.
	"spec.access.via":            func(f *v1alpha1.Federation) { f.Spec.Access.Via = v1alpha1.AccessPrivateEndpoint },
	"spec.clusters[].access.via": func(f *v1alpha1.Federation) { f.Spec.Clusters[1].Access.Via = v1alpha1.AccessPrivateEndpoint },
	"spec.clusters[].name":       func(f *v1alpha1.Federation) { f.Spec.Clusters[0].Name = "north" },
	"spec.clusters[].project":    func(f *v1alpha1.Federation) { f.Spec.Clusters[0].Project = "other-proj" },
	"spec.clusters[].location":   func(f *v1alpha1.Federation) { f.Spec.Clusters[0].Location = "us-west2-a" },
	"spec.clusters[].subnet": func(f *v1alpha1.Federation) {
		f.Spec.Network.Subnets = append(f.Spec.Network.Subnets, v1alpha1.Subnet{Name: "west2", Region: "us-west2",
			PrimaryRange: "10.13.0.0/24",
			PodRange:     &v1alpha1.SecondaryRange{Name: "west2-pods", CIDR: "10.23.0.0/16"},
			ServiceRange: &v1alpha1.SecondaryRange{Name: "west2-services", CIDR: "10.33.0.0/20"}})
		f.Spec.Clusters[0].Subnet = "west2"
		f.Spec.Network.CloudNAT.Subnets = []string{"west2", "east"}
	},
	"spec.clusters[].controlPlaneRange": func(f *v1alpha1.Federation) { f.Spec.Clusters[0].ControlPlaneRange = "192.168.0.32/28" },
	"spec.clusters[].privateEndpoint":   func(f *v1alpha1.Federation) { f.Spec.Clusters[0].PrivateEndpoint = ptr(false) },
	"spec.clusters[].authorizedNetworks[].name": func(f *v1alpha1.Federation) {
		f.Spec.Clusters[0].AuthorizedNetworks[0].Name = "runners"
	},
	"spec.clusters[].authorizedNetworks[].cidr": func(f *v1alpha1.Federation) {
		f.Spec.Clusters[0].AuthorizedNetworks[0].CIDR = "10.0.0.192/26"
	},
	"spec.clusters[].releaseChannel":    func(f *v1alpha1.Federation) { f.Spec.Clusters[0].ReleaseChannel = "STABLE" },
	"spec.clusters[].workloadIdentity":  func(f *v1alpha1.Federation) { f.Spec.Clusters[0].WorkloadIdentity = ptr(false) },
	"spec.clusters[].networkPolicy":     func(f *v1alpha1.Federation) { f.Spec.Clusters[0].NetworkPolicy = ptr(false) },
	"spec.clusters[].shieldedNodes":     func(f *v1alpha1.Federation) { f.Spec.Clusters[0].ShieldedNodes = ptr(false) },
	"spec.clusters[].labels":            func(f *v1alpha1.Federation) { f.Spec.Clusters[0].Labels = map[string]string{"team": "web"} },
	"spec.clusters[].kubeconfigContext": func(f *v1alpha1.Federation) { f.Spec.Clusters[0].KubeconfigContext = "other-context" },
	"spec.clusters[].peerAPIServer":     func(f *v1alpha1.Federation) { f.Spec.Clusters[0].PeerAPIServer = "https://10.10.0.3" },
	"spec.clusters[].nodePools[].name":  func(f *v1alpha1.Federation) { f.Spec.Clusters[0].NodePools[0].Name = "pool-b" },
	"spec.clusters[].nodePools[].machineType": func(f *v1alpha1.Federation) {
		f.Spec.Clusters[0].NodePools[0].MachineType = "e2-standard-8"
	},
	"spec.clusters[].nodePools[].autoscaling.min": func(f *v1alpha1.Federation) { f.Spec.Clusters[0].NodePools[0].Autoscaling.Min = 2 },
	"spec.clusters[].nodePools[].autoscaling.max": func(f *v1alpha1.Federation) { f.Spec.Clusters[0].NodePools[0].Autoscaling.Max = 7 },
	"spec.clusters[].nodePools[].imageType": func(f *v1alpha1.Federation) {
		f.Spec.Clusters[0].NodePools[0].ImageType = "UBUNTU_CONTAINERD"
	},
	"spec.clusters[].nodePools[].diskSizeGB": func(f *v1alpha1.Federation) { f.Spec.Clusters[0].NodePools[0].DiskSizeGB = 200 },
	"spec.clusters[].nodePools[].diskType":   func(f *v1alpha1.Federation) { f.Spec.Clusters[0].NodePools[0].DiskType = "pd-ssd" },
	"spec.clusters[].nodePools[].tags":       func(f *v1alpha1.Federation) { f.Spec.Clusters[0].NodePools[0].Tags = []string{"west-nodes"} },
	"spec.clusters[].nodePools[].serviceAccount": func(f *v1alpha1.Federation) {
		f.Spec.Clusters[0].NodePools[0].ServiceAccount = "gke@svc-proj.iam.gserviceaccount.com"
	},
	"spec.mesh.controlPlane": func(f *v1alpha1.Federation) {
		// What a managed control plane refuses goes with it (see the managed walk).
		f.Spec.Mesh.ControlPlane = v1alpha1.ControlPlaneManaged
		f.Spec.Mesh.CA = v1alpha1.CA{}
		f.Spec.Mesh.Overlays = nil
		f.Spec.Mesh.Revision, f.Spec.Mesh.Hub, f.Spec.Mesh.Tag, f.Spec.Mesh.MeshID, f.Spec.Mesh.TrustDomain = "", "", "", "", ""
	},
	"spec.mesh.revision":           func(f *v1alpha1.Federation) { f.Spec.Mesh.Revision = "rev-b" },
	"spec.mesh.hub":                func(f *v1alpha1.Federation) { f.Spec.Mesh.Hub = "gcr.io/gke-release/asm" },
	"spec.mesh.tag":                func(f *v1alpha1.Federation) { f.Spec.Mesh.Tag = "1.30.2" },
	"spec.mesh.meshID":             func(f *v1alpha1.Federation) { f.Spec.Mesh.MeshID = "mesh-b" },
	"spec.mesh.trustDomain":        func(f *v1alpha1.Federation) { f.Spec.Mesh.TrustDomain = "corp.example.com" },
	"spec.mesh.trustDomainAliases": func(f *v1alpha1.Federation) { f.Spec.Mesh.TrustDomainAliases = []string{"older.svc.id.goog"} },
	"spec.mesh.network":            func(f *v1alpha1.Federation) { f.Spec.Mesh.Network = "net-b" },
	"spec.mesh.ca.mode":            func(f *v1alpha1.Federation) { f.Spec.Mesh.CA = v1alpha1.CA{Mode: v1alpha1.CAManaged} },
	// A certificate and its key vary together: either alone is refused as a mismatch.
	"spec.mesh.ca.rootCertFile": func(f *v1alpha1.Federation) {
		f.Spec.Mesh.CA.RootCertFile, f.Spec.Mesh.CA.RootKeyFile = "ca/other-cert.pem", "ca/other-key.pem"
	},
	"spec.mesh.ca.rootKeyFile": func(f *v1alpha1.Federation) {
		f.Spec.Mesh.CA.RootCertFile, f.Spec.Mesh.CA.RootKeyFile = "ca/other-cert.pem", "ca/other-key.pem"
	},
	"spec.mesh.mtls":        func(f *v1alpha1.Federation) { f.Spec.Mesh.MTLS = "PERMISSIVE" },
	"spec.mesh.egress.mode": func(f *v1alpha1.Federation) { f.Spec.Mesh.Egress.Mode = "ALLOW_ANY" },
	"spec.mesh.egress.allow[].name": func(f *v1alpha1.Federation) {
		f.Spec.Mesh.Egress.Allow[0].Name = "apis"
	},
	"spec.mesh.egress.allow[].hosts": func(f *v1alpha1.Federation) {
		f.Spec.Mesh.Egress.Allow[0].Hosts = []string{"sqladmin.googleapis.com"}
	},
	"spec.mesh.egress.allow[].ports[].number": func(f *v1alpha1.Federation) {
		f.Spec.Mesh.Egress.Allow[0].Ports[0].Number = 8443
	},
	"spec.mesh.egress.allow[].ports[].protocol": func(f *v1alpha1.Federation) {
		f.Spec.Mesh.Egress.Allow[0].Ports[0].Protocol = "HTTPS"
	},
	"spec.mesh.egress.allow[].addresses": func(f *v1alpha1.Federation) {
		f.Spec.Mesh.Egress.Allow[0].Addresses = []string{"199.36.153.4/30"}
	},
	"spec.mesh.egress.gateway":  func(f *v1alpha1.Federation) { f.Spec.Mesh.Egress.Gateway = true },
	"spec.mesh.ingress.enabled": func(f *v1alpha1.Federation) { f.Spec.Mesh.Ingress = v1alpha1.Ingress{Enabled: ptr(false)} },
	"spec.mesh.ingress.name":    func(f *v1alpha1.Federation) { f.Spec.Mesh.Ingress.Name = "shop-gateway" },
	"spec.mesh.ingress.internalLoadBalancer": func(f *v1alpha1.Federation) {
		f.Spec.Mesh.Ingress.InternalLoadBalancer, f.Spec.Mesh.Ingress.GlobalAccess = ptr(false), nil
	},
	"spec.mesh.ingress.globalAccess": func(f *v1alpha1.Federation) { f.Spec.Mesh.Ingress.GlobalAccess = ptr(false) },
	"spec.mesh.ingress.hosts":        func(f *v1alpha1.Federation) { f.Spec.Mesh.Ingress.Hosts = []string{"api.example.com"} },
	"spec.mesh.ingress.tls.mode": func(f *v1alpha1.Federation) {
		f.Spec.Mesh.Ingress.TLS.Mode = v1alpha1.TLSSimple
		f.Spec.Mesh.Ingress.TLS.CACertFile = ""
	},
	"spec.mesh.ingress.tls.credentialName": func(f *v1alpha1.Federation) {
		t := f.Spec.Mesh.Ingress.TLS
		t.CertFile, t.KeyFile, t.CredentialName = "", "", "shop-tls"
	},
	"spec.mesh.ingress.tls.certFile": func(f *v1alpha1.Federation) {
		f.Spec.Mesh.Ingress.TLS.CertFile, f.Spec.Mesh.Ingress.TLS.KeyFile = "tls/other-cert.pem", "tls/other-key.pem"
	},
	"spec.mesh.ingress.tls.keyFile": func(f *v1alpha1.Federation) {
		f.Spec.Mesh.Ingress.TLS.CertFile, f.Spec.Mesh.Ingress.TLS.KeyFile = "tls/other-cert.pem", "tls/other-key.pem"
	},
	"spec.mesh.ingress.tls.caCertFile":         func(f *v1alpha1.Federation) { f.Spec.Mesh.Ingress.TLS.CACertFile = "tls/other-ca.pem" },
	"spec.mesh.ingress.tls.minProtocolVersion": func(f *v1alpha1.Federation) { f.Spec.Mesh.Ingress.TLS.MinProtocolVersion = "TLSV1_3" },
	"spec.mesh.accessLogging":                  func(f *v1alpha1.Federation) { f.Spec.Mesh.AccessLogging = ptr(false) },
	"spec.mesh.webhookPorts":                   func(f *v1alpha1.Federation) { f.Spec.Mesh.WebhookPorts = []int32{15017, 9443} },
	"spec.mesh.crossClusterPorts[].protocol": func(f *v1alpha1.Federation) {
		f.Spec.Mesh.CrossClusterPorts[0].Protocol = "udp"
	},
	"spec.mesh.crossClusterPorts[].ports": func(f *v1alpha1.Federation) {
		f.Spec.Mesh.CrossClusterPorts[0].Ports = []string{"15000-15200"}
	},
	"spec.mesh.overlays[].file": func(f *v1alpha1.Federation) { f.Spec.Mesh.Overlays[0].File = "overlay-b.yaml" },
	"spec.mesh.overlays[].inline": func(f *v1alpha1.Federation) {
		f.Spec.Mesh.Overlays[1].Inline = map[string]any{"apiVersion": "install.istio.io/v1alpha1", "kind": "IstioOperator", "spec": map[string]any{"values": map[string]any{
			"pilot": map[string]any{"env": map[string]any{"A": "2"}}}}}
	},
	"spec.namespaces[].name":                 func(f *v1alpha1.Federation) { f.Spec.Namespaces[0].Name = "orders" },
	"spec.namespaces[].injection":            func(f *v1alpha1.Federation) { f.Spec.Namespaces[0].Injection = ptr(false) },
	"spec.namespaces[].podSecurity":          func(f *v1alpha1.Federation) { f.Spec.Namespaces[0].PodSecurity = "privileged" },
	"spec.namespaces[].defaultNetworkPolicy": func(f *v1alpha1.Federation) { f.Spec.Namespaces[0].DefaultNetworkPolicy = ptr(false) },
	"spec.addons.cloudSQL.instances[].connectionName": func(f *v1alpha1.Federation) {
		cloudSQL(f).ConnectionName = "svc-proj:us-west2:other"
	},
	"spec.addons.cloudSQL.instances[].clients[].namespace": func(f *v1alpha1.Federation) {
		f.Spec.Namespaces = append(f.Spec.Namespaces, v1alpha1.Namespace{Name: "orders"})
		cloudSQL(f).Clients[0].Namespace = "orders"
	},
	"spec.addons.cloudSQL.instances[].clients[].kubernetesServiceAccount": func(f *v1alpha1.Federation) {
		cloudSQL(f).Clients[0].KubernetesServiceAccount = "orders"
	},
	"spec.addons.cloudSQL.instances[].googleServiceAccount": func(f *v1alpha1.Federation) {
		cloudSQL(f).GoogleServiceAccount = "orders-db@svc-proj.iam.gserviceaccount.com"
	},
	"spec.addons.cloudSQL.instances[].privateIP": func(f *v1alpha1.Federation) { cloudSQL(f).PrivateIP = ptr(false) },
	"spec.addons.cloudSQL.instances[].port":      func(f *v1alpha1.Federation) { cloudSQL(f).Port = 6432 },
	"spec.addons.prismaCloud.consoleURL": func(f *v1alpha1.Federation) {
		prisma(f).ConsoleURL = "https://us-east1.cloud.twistlock.com/t"
	},
	"spec.addons.prismaCloud.clusterAddress": func(f *v1alpha1.Federation) { prisma(f).ClusterAddress = "us-east1.cloud.twistlock.com" },
	"spec.addons.prismaCloud.tokenFile":      func(f *v1alpha1.Federation) { prisma(f).TokenFile = "prisma-token-b.txt" },
	"spec.addons.prismaCloud.manifestFile":   func(f *v1alpha1.Federation) { prisma(f).ManifestFile = "prisma-defender-b.yaml" },
	"spec.addons.prismaCloud.namespace":      func(f *v1alpha1.Federation) { prisma(f).Namespace = "defenders" },
}

func renameSubnet(f *v1alpha1.Federation, from, to string) {
	for i := range f.Spec.Network.Subnets {
		if f.Spec.Network.Subnets[i].Name == from {
			f.Spec.Network.Subnets[i].Name = to
		}
	}
	if b := f.Spec.Admin.Bastion; b != nil && b.Subnet == from {
		b.Subnet = to
	}
}

func cloudSQL(f *v1alpha1.Federation) *v1alpha1.CloudSQLInstance {
	if f.Spec.Addons.CloudSQL == nil {
		f.Spec.Addons.CloudSQL = &v1alpha1.CloudSQL{Instances: []v1alpha1.CloudSQLInstance{{
			ConnectionName: "svc-proj:us-west2:orders", Clients: []v1alpha1.CloudSQLClient{{Namespace: "shop"}},
			GoogleServiceAccount: "sql-client@svc-proj.iam.gserviceaccount.com"}}}
	}
	return &f.Spec.Addons.CloudSQL.Instances[0]
}

func prisma(f *v1alpha1.Federation) *v1alpha1.PrismaCloud {
	if f.Spec.Addons.PrismaCloud == nil {
		f.Spec.Addons.PrismaCloud = &v1alpha1.PrismaCloud{ConsoleURL: "https://us-west1.cloud.twistlock.com/t",
			ClusterAddress: "us-west1.cloud.twistlock.com", TokenFile: "prisma-token.txt", ManifestFile: "prisma-defender.yaml"}
	}
	return f.Spec.Addons.PrismaCloud
}

// leaves lists the API's leaf fields by their JSON paths; a slice of structs is written name[].
func leaves(t reflect.Type, prefix string, out *[]string) {
	switch t.Kind() {
	case reflect.Pointer:
		leaves(t.Elem(), prefix, out)
	case reflect.Struct:
		for i := range t.NumField() {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if !sf.IsExported() || name == "-" || name == "" {
				continue
			}
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			leaves(sf.Type, p, out)
		}
	case reflect.Slice:
		e := t.Elem()
		for e.Kind() == reflect.Pointer {
			e = e.Elem()
		}
		if e.Kind() == reflect.Struct {
			leaves(e, prefix+"[]", out)
			return
		}
		*out = append(*out, prefix)
	default:
		*out = append(*out, prefix)
	}
}

// outcome is everything a federation file leads to before anything is read live: the problems
// validation finds, the compiled model of both layers and each cluster's IstioOperator.
type outcome struct {
	errors   []string
	model    map[string]json.RawMessage
	overlays string
}

func evaluate(t *testing.T, dir string, f *v1alpha1.Federation) outcome {
	t.Helper()
	data, err := yaml.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "federation.yaml")
	checked := v1alpha1.Check(path, data, v1alpha1.ValidateOptions{BaseDir: dir})
	var o outcome
	for _, e := range checked.Errors {
		o.errors = append(o.errors, e.Field+": "+e.Message)
	}
	if len(o.errors) > 0 {
		return o
	}
	d, err := federation.Compile(checked.Federation, facts)
	if err != nil {
		o.errors = append(o.errors, "compile: "+err.Error())
		return o
	}
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &o.model); err != nil {
		t.Fatal(err)
	}
	if checked.Federation.Spec.Mesh.ControlPlane != v1alpha1.ControlPlaneManaged {
		clusters, err := render.Overlays(render.Input{Federation: checked.Federation, Desired: d, Source: checked.Source, BaseDir: dir})
		if err != nil {
			o.errors = append(o.errors, "render: "+err.Error())
			return o
		}
		b, err := json.Marshal(clusters)
		if err != nil {
			t.Fatal(err)
		}
		o.overlays = string(b)
	}
	return o
}

// effect says how a variation's outcome differs from the base's: refused by validation (with
// the first problem), the parts of the compiled model that changed, a changed rendering; empty
// when nothing changed.
func effect(base, varied outcome) string {
	if len(varied.errors) > 0 {
		return "rejected: " + varied.errors[0]
	}
	var parts []string
	var changed []string
	for k := range mergeKeys(base.model, varied.model) {
		if string(base.model[k]) != string(varied.model[k]) {
			changed = append(changed, k)
		}
	}
	if len(changed) > 0 {
		sort.Strings(changed)
		parts = append(parts, "model("+strings.Join(changed, ",")+")")
	}
	if base.overlays != varied.overlays {
		parts = append(parts, "render")
	}
	return strings.Join(parts, " ")
}

func mergeKeys(a, b map[string]json.RawMessage) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func TestEveryFieldHasAnEffect(t *testing.T) {
	report, walked := walk(t, "", func(*v1alpha1.Federation) {}, variations)
	for p := range variations {
		if !slices.Contains(walked, p) {
			t.Errorf("variation for %s, which is not a field of the API", p)
		}
	}
	testutil.Golden(t, "testdata/effects.golden", report)
}

// toManaged turns the base into a federation with a managed control plane, without what such a
// federation refuses (an IstioOperator's settings, the plug-in CA).
func toManaged(f *v1alpha1.Federation) {
	m := &f.Spec.Mesh
	m.ControlPlane = v1alpha1.ControlPlaneManaged
	m.CA = v1alpha1.CA{}
	m.Overlays = nil
	m.Revision, m.Hub, m.Tag, m.MeshID, m.TrustDomain = "", "", "", "", ""
}

// managedVariations replace, under a managed control plane, the variations whose base value
// toManaged removed.
var managedVariations = map[string]mutation{
	"spec.mesh.controlPlane": func(f *v1alpha1.Federation) { f.Spec.Mesh.ControlPlane = v1alpha1.ControlPlaneInCluster },
	"spec.mesh.ca.mode":      func(f *v1alpha1.Federation) { f.Spec.Mesh.CA = v1alpha1.CA{Mode: v1alpha1.CAPlugin} },
	"spec.mesh.ca.rootCertFile": func(f *v1alpha1.Federation) {
		f.Spec.Mesh.CA.RootCertFile, f.Spec.Mesh.CA.RootKeyFile = "ca/root-cert.pem", "ca/root-key.pem"
	},
	"spec.mesh.ca.rootKeyFile": func(f *v1alpha1.Federation) {
		f.Spec.Mesh.CA.RootCertFile, f.Spec.Mesh.CA.RootKeyFile = "ca/root-cert.pem", "ca/root-key.pem"
	},
	"spec.mesh.overlays[].file": func(f *v1alpha1.Federation) { f.Spec.Mesh.Overlays = []v1alpha1.Overlay{{File: "overlay.yaml"}} },
	"spec.mesh.overlays[].inline": func(f *v1alpha1.Federation) {
		f.Spec.Mesh.Overlays = []v1alpha1.Overlay{{Inline: map[string]any{"apiVersion": "install.istio.io/v1alpha1", "kind": "IstioOperator"}}}
	},
}

// Under a managed control plane too, every field of spec.mesh is applied the managed way or
// refused: nothing is accepted and ignored.
func TestEveryMeshFieldHasAnEffectUnderAManagedControlPlane(t *testing.T) {
	vary := map[string]mutation{}
	for p, m := range variations {
		if strings.HasPrefix(p, "spec.mesh.") {
			vary[p] = m
		}
	}
	for p, m := range managedVariations {
		vary[p] = m
	}
	report, _ := walk(t, "spec.mesh.", toManaged, vary)
	testutil.Golden(t, "testdata/effects-managed.golden", report)
}

// walk varies each leaf field under prefix, from testdata/base.yaml changed by prepare, and
// reports each variation's effect; a field without a variation or without effect fails the test.
func walk(t *testing.T, prefix string, prepare mutation, vary map[string]mutation) (report string, walked []string) {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir)
	data, err := os.ReadFile("testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	parse := func() *v1alpha1.Federation {
		f, _, errs := v1alpha1.Parse("base.yaml", data)
		if len(errs) > 0 {
			t.Fatalf("testdata/base.yaml: %v", errs)
		}
		prepare(f)
		return f
	}
	base := evaluate(t, dir, parse())
	if len(base.errors) > 0 {
		t.Fatalf("the base federation must be valid:\n%s", strings.Join(base.errors, "\n"))
	}
	var paths []string
	leaves(reflect.TypeFor[v1alpha1.Federation](), "", &paths)
	var b strings.Builder
	for _, p := range paths {
		if !strings.HasPrefix(p, prefix) {
			continue
		}
		walked = append(walked, p)
		m, ok := vary[p]
		if !ok {
			t.Errorf("%s: no variation: add one to variations showing what the field changes", p)
			continue
		}
		f := parse()
		m(f)
		e := effect(base, evaluate(t, dir, f))
		if e == "" {
			t.Errorf("%s: accepted without effect: varying it changes neither the compiled model nor the rendered control plane, and validation accepts it", p)
			e = "NONE"
		}
		fmt.Fprintf(&b, "%s\t%s\n", p, e)
	}
	return b.String(), walked
}

// writeFiles writes what base.yaml refers to: the plug-in CA root, the ingress certificate, key
// and client CA, an overlay file, and for the variations a second of each.
func writeFiles(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{"root", "other"} {
		r, err := istio.NewRoot(istio.RootOptions{Organization: "walk " + name})
		if err != nil {
			t.Fatal(err)
		}
		cert, key, err := r.WriteFiles(filepath.Join(dir, "ca", name), false)
		if err != nil {
			t.Fatal(err)
		}
		mustRename(t, cert, filepath.Join(dir, "ca", name+"-cert.pem"))
		mustRename(t, key, filepath.Join(dir, "ca", name+"-key.pem"))
	}
	for _, name := range []string{"", "other-"} {
		cert, key := selfSigned(t, "shop.example.com")
		write(t, filepath.Join(dir, "tls", name+"cert.pem"), cert)
		write(t, filepath.Join(dir, "tls", name+"key.pem"), key)
		ca, _ := selfSigned(t, "clients "+name)
		write(t, filepath.Join(dir, "tls", name+"ca.pem"), ca)
	}
	write(t, filepath.Join(dir, "overlay.yaml"), []byte("apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  values:\n    pilot:\n      env:\n        B: \"1\"\n"))
	write(t, filepath.Join(dir, "overlay-b.yaml"), []byte("apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  values:\n    pilot:\n      env:\n        B: \"2\"\n"))
	write(t, filepath.Join(dir, "prisma-token.txt"), []byte("token\n"))
	write(t, filepath.Join(dir, "prisma-token-b.txt"), []byte("token b\n"))
	defender, err := os.ReadFile("../../samples/addons/prisma-defender.yaml")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "prisma-defender.yaml"), defender)
	write(t, filepath.Join(dir, "prisma-defender-b.yaml"), []byte(strings.ReplaceAll(string(defender), "defender_32_07_123", "defender_32_07_124")))
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func selfSigned(t *testing.T, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

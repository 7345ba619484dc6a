package federation

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// Names of what the Prisma Cloud add-on adds beside the vendor's manifest.
const (
	// PrismaTokenSecret holds the console token of spec.addons.prismaCloud.tokenFile under
	// PrismaTokenKey, in the Defender namespace.
	PrismaTokenSecret = "prisma-cloud-token"
	PrismaTokenKey    = "token"
	// AnnotationPrismaConsole on the token Secret names the console the token is for.
	AnnotationPrismaConsole = "asmfed.io/prisma-console-url"
	// PrismaConsoleEntry is the ServiceEntry that puts the Console address on the egress
	// allow-list, beside the allow-list's own asmfed-egress-<name>.
	PrismaConsoleEntry = "asmfed-egress-prisma-console"
	// PrismaConsolePort is the port Defenders reach the Console's address on.
	PrismaConsolePort = 443
)

// prismaCloud adds the Defenders of one cluster: their namespace, labelled Pod Security
// privileged and out of the mesh; the console token Secret; every object of the vendor's
// manifest with the federation's ownership, its Secrets' data left to the cluster layer; and the
// Console address on the egress allow-list.
func (b *objectBuilder) prismaCloud(pc *v1alpha1.PrismaCloud) {
	ns := pc.Namespace
	labels := map[string]string{labelInjection: "disabled"}
	for _, mode := range []string{"enforce", "audit", "warn"} {
		labels["pod-security.kubernetes.io/"+mode] = v1alpha1.PodSecurityPrivileged
	}
	b.add("", &corev1.Namespace{ObjectMeta: meta(ns, labels)}, RoleNamespace,
		"Prisma Cloud Defenders (spec.addons.prismaCloud): Pod Security privileged, as Defenders run privileged with host paths, PID and network; no sidecar injection, as they use the host network, outside the mesh")
	tok := b.add(ns, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: PrismaTokenSecret, Annotations: map[string]string{AnnotationPrismaConsole: pc.ConsoleURL}},
		Type:       corev1.SecretTypeOpaque,
	}, RoleAddonSecret, "the Prisma Cloud console token, for "+pc.ConsoleURL)
	if tok != nil {
		tok.Pending = fmt.Sprintf("data.%s: the token in %s", PrismaTokenKey, pc.TokenFile)
	}
	var before []plan.Address
	for _, m := range pc.Manifest {
		u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(m)}
		if u.GetKind() == "Namespace" {
			continue // the namespace above, with its labels
		}
		if u.GetKind() == "ServiceAccount" || u.GetKind() == "Secret" {
			before = append(before, plan.ObjectAddress(b.cluster, ns, u.GetKind(), u.GetName()))
		}
	}
	if tok != nil {
		before = append(before, tok.Address)
	}
	sort.Slice(before, func(i, j int) bool { return before[i] < before[j] })
	for _, m := range pc.Manifest {
		u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(m)}
		kind := u.GetKind()
		if kind == "Namespace" {
			continue
		}
		namespace := u.GetNamespace()
		reason := fmt.Sprintf("%s %s of the Prisma Cloud Defender manifest %s, as the vendor generated it", kind, u.GetName(), pc.ManifestFile)
		var role ObjectRole
		var deps []plan.Address
		var pending string
		switch kind {
		case "Secret":
			role = RoleAddonSecret
			keys := secretKeys(u.Object)
			delete(u.Object, "data")
			delete(u.Object, "stringData")
			pending = fmt.Sprintf("data: the keys %s of %s in %s", strings.Join(keys, ", "), u.GetName(), pc.ManifestFile)
		case "DaemonSet":
			role = RoleDaemonSet
			deps = slices.Clone(before)
			reason = fmt.Sprintf("the Prisma Cloud Defenders, one per node, connecting to %s:%d (DaemonSet %s of %s, as the vendor generated it)", pc.ClusterAddress, PrismaConsolePort, u.GetName(), pc.ManifestFile)
		}
		if o := b.add(namespace, u, role, reason, deps...); o != nil {
			o.Pending = pending
		}
	}
	b.add(IstioNamespace, &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersions["ServiceEntry"], "kind": "ServiceEntry",
		"metadata": map[string]any{"name": PrismaConsoleEntry}, "spec": map[string]any{
			"hosts":    []any{pc.ClusterAddress},
			"ports":    []any{map[string]any{"number": int64(PrismaConsolePort), "name": fmt.Sprintf("tls-%d", PrismaConsolePort), "protocol": "TLS"}},
			"location": "MESH_EXTERNAL", "resolution": "DNS", "exportTo": []any{"*"}}}}, "",
		fmt.Sprintf("the Prisma Cloud Console %s:%d is on the egress allow-list: Defenders reach it from the host network, and any workload of the mesh that talks to the Console may too", pc.ClusterAddress, PrismaConsolePort))
}

// secretKeys are the names of a Secret's keys, data and stringData, sorted: what a plan may say
// of a Secret whose values it never shows.
func secretKeys(obj map[string]any) []string {
	var keys []string
	for _, f := range []string{"data", "stringData"} {
		m, _ := obj[f].(map[string]any)
		for k := range m {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return slices.Compact(keys)
}

// registryToken matches the tenant's access token in the path of a Prisma Cloud SaaS image,
// registry-auth.twistlock.com/tw_<token>/twistlock/defender:<tag>, as the Console's manifests
// for SaaS tenants name it.
var registryToken = regexp.MustCompile(`(registry-auth\.twistlock\.com/tw_)([^/\s"'\\]+)`)

// RegistryTokenRedacted stands in for the access token of a Prisma Cloud image path in output.
const RegistryTokenRedacted = "<redacted>"

// RedactRegistryTokens replaces the access token of every Prisma Cloud image path in s with
// RegistryTokenRedacted, so that output can name the image without the token.
func RedactRegistryTokens(s string) string {
	return registryToken.ReplaceAllString(s, "${1}"+RegistryTokenRedacted)
}

// RedactRegistryTokensIn returns a JSON-compatible value with the tokens of its strings redacted,
// and the tokens found, sorted and without duplicates. v is not modified; it is returned as it
// is when it holds no token.
func RedactRegistryTokensIn(v any) (any, []string) {
	if !holdsRegistryToken(v) {
		// Most objects hold none: they are neither copied nor matched string by string.
		return v, nil
	}
	var tokens []string
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case string:
			for _, m := range registryToken.FindAllStringSubmatch(x, -1) {
				tokens = append(tokens, m[2])
			}
			return RedactRegistryTokens(x)
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, e := range x {
				out[k] = walk(e)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = walk(e)
			}
			return out
		}
		return v
	}
	out := walk(v)
	if len(tokens) == 0 {
		return v, nil
	}
	sort.Strings(tokens)
	return out, slices.Compact(tokens)
}

// registryTokenHost is the literal every registryToken match contains.
const registryTokenHost = "registry-auth.twistlock.com/tw_"

// holdsRegistryToken reports whether a string of v may hold a registry token.
func holdsRegistryToken(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, registryTokenHost)
	case map[string]any:
		for _, e := range x {
			if holdsRegistryToken(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if holdsRegistryToken(e) {
				return true
			}
		}
	}
	return false
}

// RedactRegistryTokensOf redacts the Prisma Cloud registry tokens of every cluster's objects in
// d, for printing the model.
func RedactRegistryTokensOf(d *Desired) {
	for i := range d.Clusters {
		for j := range d.Clusters[i].Objects {
			o := &d.Clusters[i].Objects[j]
			if redacted, tokens := RedactRegistryTokensIn(o.Object); len(tokens) > 0 {
				o.Object = redacted.(map[string]any)
			}
		}
	}
}

package federation

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestObjectMapsAsConverted holds the objects built as maps to what the unstructured converter
// makes of their typed form, which is what the compiler built them from before: the model, its
// goldens and every live comparison rest on that shape.
func TestObjectMapsAsConverted(t *testing.T) {
	tests := []struct {
		name  string
		built objectMap
		typed runtime.Object
	}{
		{"namespace with labels", namespaceMap("istio-system", map[string]string{labelNetwork: "mesh"}),
			&corev1.Namespace{ObjectMeta: meta("istio-system", map[string]string{labelNetwork: "mesh"})}},
		{"namespace without labels", namespaceMap("apps", nil),
			&corev1.Namespace{ObjectMeta: meta("apps", nil)}},
		{"namespace with empty labels", namespaceMap("apps", map[string]string{}),
			&corev1.Namespace{ObjectMeta: meta("apps", map[string]string{})}},
		{"remote secret", secretMap("istio-remote-secret-c2", map[string]string{"istio/multiCluster": "true"}, map[string]string{"networking.istio.io/cluster": "c2"}, corev1.SecretTypeOpaque),
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "istio-remote-secret-c2", Labels: map[string]string{"istio/multiCluster": "true"}, Annotations: map[string]string{"networking.istio.io/cluster": "c2"}}, Type: corev1.SecretTypeOpaque}},
		{"cacerts", secretMap(cacertsSecret, nil, nil, corev1.SecretTypeOpaque),
			&corev1.Secret{ObjectMeta: meta(cacertsSecret, nil), Type: corev1.SecretTypeOpaque}},
		{"reader token", secretMap(ReaderTokenSecret("c1"), nil, map[string]string{corev1.ServiceAccountNameKey: ReaderAccount("c1")}, corev1.SecretTypeServiceAccountToken),
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: ReaderTokenSecret("c1"), Annotations: map[string]string{corev1.ServiceAccountNameKey: ReaderAccount("c1")}}, Type: corev1.SecretTypeServiceAccountToken}},
		{"reader account", serviceAccountMap(ReaderAccount("c1")),
			&corev1.ServiceAccount{ObjectMeta: meta(ReaderAccount("c1"), nil)}},
		{"reader binding", readerBindingMap(ReaderAccount("c1"), IstioNamespace),
			&rbacv1.ClusterRoleBinding{
				ObjectMeta: meta(ReaderAccount("c1"), nil),
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ReaderClusterRole},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: ReaderAccount("c1"), Namespace: IstioNamespace}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			built := &objectBuilder{fed: "f", cluster: "c1"}
			converted := &objectBuilder{fed: "f", cluster: "c1"}
			built.add("", tt.built, "", "why")
			converted.add("", tt.typed, "", "why")
			if built.err != nil || converted.err != nil {
				t.Fatalf("add: %v, %v", built.err, converted.err)
			}
			if diff := cmp.Diff(converted.objs[0].Object, built.objs[0].Object); diff != "" {
				t.Errorf("object (-converted +built):\n%s", diff)
			}
		})
	}
}

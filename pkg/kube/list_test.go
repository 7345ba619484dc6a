package kube_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/pager"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/kube"
)

// TestListAsTheDynamicClient holds List, which reads built-in kinds as protobuf and converts them,
// to what the dynamic client reads as JSON from a real API server, but for managedFields, page by
// page: every field the plan compares comes through it. A kind client-go's scheme does not know
// (CustomResourceDefinitions, Istio's) is read as JSON. The requests say which format was asked.
func TestListAsTheDynamicClient(t *testing.T) {
	c := testenv.Clusters(t, 1)[0]
	ctx := context.Background()
	ns := "list-test"
	cs := c.Client()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"k": "v"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app.kubernetes.io/managed-by": "asmfed"}
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("s%d", i)
		if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: map[string]string{"a": "b"}},
			Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"kubeconfig": []byte("apiVersion: v1\nkind: Config\n"), "empty": {}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tcp := corev1.ProtocolTCP
	port := intstr.FromInt32(15012)
	if _, err := cs.NetworkingV1().NetworkPolicies(ns).Create(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: labels},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}},
				To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}}}}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "list-test-reader", Labels: labels},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "r", Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var accepts []string
	cfg := rest.CopyConfig(c.RESTConfig())
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			accepts = append(accepts, r.Header.Get("Accept"))
			mu.Unlock()
			return rt.RoundTrip(r)
		})
	})
	set, err := kube.NewClientSet(map[string]*rest.Config{"c1": cfg})
	if err != nil {
		t.Fatal(err)
	}
	sel := metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=asmfed", Limit: 2}
	for _, tc := range []struct {
		gvk       schema.GroupVersionKind
		resource  string
		namespace string
		protobuf  bool
	}{
		{schema.GroupVersionKind{Version: "v1", Kind: "Secret"}, "secrets", ns, true},
		{schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}, "networkpolicies", ns, true},
		{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"}, "clusterrolebindings", "", true},
		{schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}, "customresourcedefinitions", "", false},
		{schema.GroupVersionKind{Group: "security.istio.io", Version: "v1", Kind: "PeerAuthentication"}, "peerauthentications", ns, false},
	} {
		t.Run(tc.gvk.Kind, func(t *testing.T) {
			gvr := tc.gvk.GroupVersion().WithResource(tc.resource)
			accepts = nil
			got, err := collect(ctx, func(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
				return set.List(ctx, "c1", tc.gvk, gvr, tc.namespace, opts)
			}, sel)
			if tc.gvk.Kind == "PeerAuthentication" {
				// Not served without Istio's CRDs: the dynamic client's 404, read as JSON.
				if err == nil {
					t.Fatal("a kind the server does not serve was listed")
				}
				if len(accepts) != 1 || accepts[0] == "" || contains(accepts[0], "protobuf") {
					t.Errorf("accept headers %q, want one JSON request", accepts)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range accepts {
				if contains(a, "protobuf") != tc.protobuf {
					t.Errorf("accept %q, want protobuf %v", a, tc.protobuf)
				}
			}
			ri := set.Dynamic("c1").Resource(gvr)
			want, err := collect(ctx, func(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
				if tc.namespace != "" {
					return ri.Namespace(tc.namespace).List(ctx, opts)
				}
				return ri.List(ctx, opts)
			}, sel)
			if err != nil {
				t.Fatal(err)
			}
			for _, obj := range want {
				unstructured.RemoveNestedField(obj, "metadata", "managedFields")
			}
			if tc.gvk.Kind != "CustomResourceDefinition" && len(want) == 0 {
				t.Fatal("nothing listed to compare")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("List (-dynamic client +List):\n%s", diff)
			}
		})
	}
}

// collect pages through a list.
func collect(ctx context.Context, list func(context.Context, metav1.ListOptions) (*unstructured.UnstructuredList, error), opts metav1.ListOptions) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	p := pager.New(func(ctx context.Context, opts metav1.ListOptions) (kruntime.Object, error) { return list(ctx, opts) })
	err := p.EachListItem(ctx, opts, func(obj kruntime.Object) error {
		u := obj.(*unstructured.Unstructured)
		out[u.GetName()] = u.Object
		return nil
	})
	return out, err
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

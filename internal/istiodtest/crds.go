package istiodtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"istio.io/istio/manifests"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// CRDFile is the file of the istio module's base chart that holds every Istio
// CRD, embedded in istio.io/istio/manifests.
const CRDFile = "charts/base/files/crd-all.gen.yaml"

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// CRDs returns the Istio CRDs of the pinned istio module.
func CRDs() ([]*unstructured.Unstructured, error) {
	data, err := fs.ReadFile(manifests.BuiltinOrDir(""), CRDFile)
	if err != nil {
		return nil, fmt.Errorf("read %s from istio.io/istio/manifests: %w", CRDFile, err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", CRDFile, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.GetKind() != "CustomResourceDefinition" {
			return nil, fmt.Errorf("%s: unexpected %s %s", CRDFile, u.GetKind(), u.GetName())
		}
		out = append(out, u)
	}
	return out, nil
}

// InstallCRDs applies the Istio CRDs (server-side, field manager
// "istiodtest") and waits until each is established, as the base chart
// would before istiod starts. It returns how many it applied.
func InstallCRDs(ctx context.Context, cfg *rest.Config) (int, error) {
	crds, err := CRDs()
	if err != nil {
		return 0, err
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return 0, err
	}
	api := client.Resource(crdGVR)
	for _, u := range crds {
		if _, err := api.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: "istiodtest", Force: true}); err != nil {
			return 0, fmt.Errorf("apply CRD %s: %w", u.GetName(), err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, u := range crds {
		for {
			live, err := api.Get(ctx, u.GetName(), metav1.GetOptions{})
			if err == nil && established(live) {
				break
			}
			select {
			case <-ctx.Done():
				return 0, fmt.Errorf("CRD %s not established: %w (last error: %v)", u.GetName(), ctx.Err(), err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return len(crds), nil
}

func established(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

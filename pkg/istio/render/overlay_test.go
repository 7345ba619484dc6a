package render_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/internal/testutil"
	"github.com/asmfed/kubectl-asmfed/pkg/istio/render"
)

func TestOverlaysGolden(t *testing.T) {
	tests := []struct {
		name, file string
	}{
		{name: "two-cluster-private", file: "../../../samples/two-cluster-private/federation.yaml"},
		{name: "multi-project-shared-vpc", file: "../../../samples/multi-project-shared-vpc/federation.yaml"},
		{name: "custom", file: "testdata/custom/federation.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := load(t, tt.file)
			clusters, err := render.Overlays(in)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			for _, c := range clusters {
				y, err := render.YAML(c.Overlay)
				if err != nil {
					t.Fatal(err)
				}
				got.WriteString("---\n# cluster " + c.Name + "\n")
				got.Write(y)
			}
			testutil.Golden(t, filepath.Join("testdata", tt.name, "overlays.golden"), got.String())
		})
	}
}

func TestClusterOverlayUnknownCluster(t *testing.T) {
	in := load(t, "../../../samples/two-cluster-private/federation.yaml")
	_, err := render.ClusterOverlay(in, "nope")
	if err == nil || !strings.Contains(err.Error(), `no cluster "nope"`) {
		t.Fatalf("err = %v", err)
	}
}

// The typo istioctl accepts silently: Istio drops unknown meshConfig fields, so the mesh would
// stay ALLOW_ANY.
func TestStrictMeshConfigTypo(t *testing.T) {
	dir := t.TempDir()
	overlay := filepath.Join(dir, "egress.yaml")
	writeFile(t, overlay, `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  meshConfig:
    outboundTrafficPolcy:
      mode: REGISTRY_ONLY
`)
	fed := filepath.Join(dir, "federation.yaml")
	data, err := os.ReadFile("../../../samples/two-cluster-private/federation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, fed, strings.Replace(string(data), "    webhookPorts:", "    overlays:\n      - file: egress.yaml\n    webhookPorts:", 1))
	in := load(t, fed)
	_, errs := render.LoadOverlays(in)
	want := overlay + `:5:5: spec.meshConfig.outboundTrafficPolcy: unknown field "outboundTrafficPolcy" in istio.mesh.v1alpha1.MeshConfig (did you mean outboundTrafficPolicy?)`
	if diff := cmp.Diff(want, errs.Error()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := render.Overlays(in); err == nil || !strings.Contains(err.Error(), "outboundTrafficPolcy") {
		t.Errorf("Overlays accepted the typo: %v", err)
	}
}

// Every problem of every overlay is reported at once, each with its file, line and field.
func TestStrictEveryError(t *testing.T) {
	in := load(t, "testdata/bad/federation.yaml")
	_, errs := render.LoadOverlays(in)
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		`testdata/bad/federation.yaml:75:49: spec.mesh.overlays[1].inline.spec.meshConfig.defaultConfig.holdApplicationUntilProxyStart: unknown field "holdApplicationUntilProxyStart" in istio.mesh.v1alpha1.ProxyConfig (did you mean holdApplicationUntilProxyStarts?)`,
		`testdata/bad/typo.yaml:5:5: spec.meshConfig.outboundTrafficPolcy: unknown field "outboundTrafficPolcy" in istio.mesh.v1alpha1.MeshConfig (did you mean outboundTrafficPolicy?)`,
		`testdata/bad/typo.yaml:7:5: spec.meshConfig.accessLogEncoding: unknown value "YAML" for enum istio.mesh.v1alpha1.MeshConfig.AccessLogEncoding (one of TEXT, JSON)`,
		`testdata/bad/typo.yaml:11:9: spec.values.global.multiCluster.clusterNme: unknown field "clusterNme" in istio.operator.v1alpha1.MultiClusterConfig (did you mean clusterName?)`,
		`testdata/bad/typo.yaml:13:7: spec.values.pilot.autoscaleEnabled: expected a boolean, got the string "maybe" (use true or false)`,
		`testdata/bad/typo.yaml:21:17: spec.components.ingressGateways[0].k8s.service.ports[0].port: expected an integer, got the string "eighty"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

package federation

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"
)

// The Cloud SQL Auth Proxy a team adds to its own Deployment. The tool does not own the
// Deployment: `render --addon cloudsql` prints the patch, or the patched manifest.
const (
	// CloudSQLProxyImage is the Cloud SQL Auth Proxy v2 release the patch pins: v2.28.0
	// (2026-11-11), whose image tag is its version without the "v", and whose command accepts
	// every flag the patch passes and serves /startup and /liveness (docs/addons.md says how to
	// move the pin).
	CloudSQLProxyImage = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.28.0"
	// CloudSQLProxyContainer names the proxy's container.
	CloudSQLProxyContainer = "cloud-sql-proxy"
	// cloudSQLProxyHealthPort serves the proxy's /startup, /liveness and /readiness.
	cloudSQLProxyHealthPort = 9090
	// AnnotationProxyConfig is Istio's per-pod proxy configuration; the patch holds the
	// application (and the Auth Proxy) until the sidecar is ready, so the Auth Proxy's first
	// call to the Cloud SQL Admin API finds Envoy up.
	AnnotationProxyConfig = "proxy.istio.io/config"
	holdUntilProxyStarts  = `{"holdApplicationUntilProxyStarts": true}`
)

// CloudSQLProxyPatch is the strategic merge patch that adds the Auth Proxy for instance a to a
// Deployment whose pods run as client (namespace/name): the proxy container listening on
// 127.0.0.1:a.Port, the service account that Workload Identity maps to a's Google service
// account, and the sidecar annotation.
func CloudSQLProxyPatch(a CloudSQLAccess, client string) map[string]any {
	_, ksa, _ := strings.Cut(client, "/")
	args := []any{"--structured-logs", "--port=" + strconv.Itoa(int(a.Port)), "--health-check",
		"--http-address=0.0.0.0", "--http-port=" + strconv.Itoa(cloudSQLProxyHealthPort)}
	if a.PrivateIP {
		args = append(args, "--private-ip")
	}
	args = append(args, a.ConnectionName)
	probe := func(path string, failures int64) map[string]any {
		return map[string]any{"httpGet": map[string]any{"path": path, "port": int64(cloudSQLProxyHealthPort)}, "periodSeconds": int64(1), "failureThreshold": failures}
	}
	liveness := probe("/liveness", 3)
	liveness["periodSeconds"] = int64(10)
	container := map[string]any{
		"name":          CloudSQLProxyContainer,
		"image":         CloudSQLProxyImage,
		"args":          args,
		"ports":         []any{map[string]any{"name": "cloudsql-health", "containerPort": int64(cloudSQLProxyHealthPort), "protocol": "TCP"}},
		"startupProbe":  probe("/startup", 60),
		"livenessProbe": liveness,
		"securityContext": map[string]any{"runAsNonRoot": true, "allowPrivilegeEscalation": false,
			"capabilities": map[string]any{"drop": []any{"ALL"}}},
		"resources": map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "128Mi"}},
	}
	return map[string]any{"spec": map[string]any{"template": map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{AnnotationProxyConfig: holdUntilProxyStarts}},
		"spec": map[string]any{
			"serviceAccountName": ksa,
			"containers":         []any{container},
		},
	}}}
}

// PatchDeployment applies CloudSQLProxyPatch to a Deployment manifest (YAML or JSON) with the
// strategic merge patch Kubernetes uses, so the application's containers are kept and the proxy
// joins them by name. The Deployment must be in the client's namespace, or name none.
func PatchDeployment(manifest []byte, a CloudSQLAccess, client string) ([]byte, error) {
	var dep appsv1.Deployment
	if err := yaml.UnmarshalStrict(manifest, &dep); err != nil {
		return nil, fmt.Errorf("read the Deployment: %w", err)
	}
	if dep.Kind != "Deployment" {
		return nil, fmt.Errorf("the manifest is a %q, not a Deployment", dep.Kind)
	}
	ns, _, _ := strings.Cut(client, "/")
	if dep.Namespace != "" && dep.Namespace != ns {
		return nil, fmt.Errorf("Deployment %s is in namespace %s, and the client of %s is in %s: pass --client with a client of its namespace", dep.Name, dep.Namespace, a.ConnectionName, ns)
	}
	orig, err := yaml.YAMLToJSON(manifest)
	if err != nil {
		return nil, err
	}
	patch, err := yaml.Marshal(CloudSQLProxyPatch(a, client))
	if err != nil {
		return nil, err
	}
	pj, err := yaml.YAMLToJSON(patch)
	if err != nil {
		return nil, err
	}
	out, err := strategicpatch.StrategicMergePatch(orig, pj, appsv1.Deployment{})
	if err != nil {
		return nil, fmt.Errorf("patch Deployment %s: %w", dep.Name, err)
	}
	return yaml.JSONToYAML(out)
}

package engine

import (
	"bytes"
	"encoding/base64"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// addonSecrets reads the data of the add-ons' Secrets, by namespace/name: the Prisma Cloud token
// from tokenFile, and the Secrets of the Defender manifest as validation read them (stringData
// encoded into data, as the API server stores it). The values never leave the cluster layer.
func addonSecrets(f *v1alpha1.Federation, baseDir string) (map[string]map[string]any, error) {
	pc := f.Spec.Addons.PrismaCloud
	if pc == nil {
		return nil, nil
	}
	token, err := v1alpha1.ReadFile(v1alpha1.ResolvePath(baseDir, pc.TokenFile))
	if err != nil {
		return nil, fmt.Errorf("read spec.addons.prismaCloud.tokenFile: %w", err)
	}
	out := map[string]map[string]any{
		pc.Namespace + "/" + federation.PrismaTokenSecret: {federation.PrismaTokenKey: base64.StdEncoding.EncodeToString(bytes.TrimSpace(token))},
	}
	for _, m := range pc.Manifest {
		if m["kind"] != "Secret" {
			continue
		}
		meta, _ := m["metadata"].(map[string]any)
		data := map[string]any{}
		if d, ok := m["data"].(map[string]any); ok {
			data = runtime.DeepCopyJSONValue(d).(map[string]any)
		}
		if sd, ok := m["stringData"].(map[string]any); ok {
			for k, v := range sd {
				data[k] = base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(v)))
			}
		}
		out[fmt.Sprintf("%v/%v", meta["namespace"], meta["name"])] = data
	}
	return out, nil
}

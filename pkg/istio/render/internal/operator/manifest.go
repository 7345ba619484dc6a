// Copyright Istio Authors
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.
//
// Changed for kubectl-asmfed: no cluster client, charts rendered concurrently; see doc.go.

package operator

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"istio.io/istio/manifests"
	"istio.io/istio/operator/pkg/apis"
	"istio.io/istio/operator/pkg/component"
	"istio.io/istio/operator/pkg/manifest"
	"istio.io/istio/operator/pkg/util"
	"istio.io/istio/operator/pkg/values"
)

// GenerateManifest produces fully rendered Kubernetes objects from rendering Helm charts.
// Inputs are files. As istio.io/istio/operator/pkg/render.GenerateManifest with no --set flags,
// no force, no cluster client and no logger: nothing is detected from a cluster, and chart
// warnings are returned instead of logged.
func GenerateManifest(files []string) ([]manifest.ManifestSet, values.Map, util.Errors, error) {
	// First, compute our final configuration input. This will be in the form of an IstioOperator, but as an unstructured values.Map.
	// This allows safe access to get/fetch values dynamically, and avoids issues are typing and whether we should emit empty fields.
	merged, err := MergeInputs(files)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("merge inputs: %v", err)
	}
	// Validate the config.
	if _, errs := ParseAndValidateIstioOperator(merged); errs.ToError() != nil {
		return nil, nil, nil, errs.ToError()
	}
	// After validation, apply any unvalidatedValues they may have set.
	if unvalidatedValues, _ := merged.GetPathMap("spec.unvalidatedValues"); unvalidatedValues != nil {
		merged.MergeFrom(values.MakeMap(unvalidatedValues, "spec", "values"))
	}

	// Render each component. Istio renders them one after the other; here every chart is
	// rendered and post-processed at the same time (the CRDs of the base chart alone are half the
	// work), and the results are gathered in Istio's order, with the first error in that order.
	// Component views of the values are made first: they only read merged.
	type job struct {
		comp      component.Component
		spec      apis.GatewayComponentSpec
		vals      values.Map
		finalized []manifest.Manifest
		warnings  util.Errors
		err       error
	}
	var jobs []*job
	for _, comp := range component.AllComponents {
		specs, err := comp.Get(merged)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("get component %v: %v", comp.UserFacingName, err)
		}
		for _, spec := range specs {
			// Each component may get a different view of the values; modify them as needed (with a copy)
			jobs = append(jobs, &job{comp: comp, spec: spec, vals: applyComponentValuesToHelmValues(comp, spec, merged)})
		}
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			// Render the chart
			rendered, warnings, err := helmRender("istio", j.spec.Namespace, j.comp.HelmSubdir, j.vals)
			if err != nil {
				j.err = fmt.Errorf("helm render: %v", err)
				return
			}
			j.warnings = warnings
			// IstioOperator has a variety of processing steps that are done *after* Helm, such as patching. Apply any of these steps.
			if j.finalized, err = postProcess(j.comp, j.spec, rendered, j.vals); err != nil {
				j.err = fmt.Errorf("post processing: %v", err)
			}
		})
	}
	wg.Wait()
	allManifests := map[component.Name]manifest.ManifestSet{}
	var chartWarnings util.Errors
	for _, j := range jobs {
		if j.err != nil {
			return nil, nil, nil, j.err
		}
		chartWarnings = util.AppendErrs(chartWarnings, j.warnings)
		manifests, found := allManifests[j.comp.UserFacingName]
		if found {
			manifests.Manifests = append(manifests.Manifests, j.finalized...)
			allManifests[j.comp.UserFacingName] = manifests
		} else {
			allManifests[j.comp.UserFacingName] = manifest.ManifestSet{
				Component: j.comp.UserFacingName,
				Manifests: j.finalized,
			}
		}
	}

	values := make([]manifest.ManifestSet, 0, len(allManifests))

	for _, v := range allManifests {
		values = append(values, v)
	}

	return values, merged, chartWarnings, nil
}

// applyComponentValuesToHelmValues translates a generic values set into a component-specific one
func applyComponentValuesToHelmValues(comp component.Component, spec apis.GatewayComponentSpec, merged values.Map) values.Map {
	root := comp.ToHelmValuesTreeRoot

	// Gateways allow providing 'name' and 'label' overrides.
	if comp.IsGateway() {
		merged = merged.DeepClone()
		_ = merged.SetPath(fmt.Sprintf("spec.values.%s.name", root), spec.Name)
		_ = merged.SetPath(fmt.Sprintf("spec.values.%s.labels", root), spec.Label)
		if spec.Kubernetes != nil && spec.Kubernetes.Service != nil && len(spec.Kubernetes.Service.Ports) > 0 {
			b, _ := json.Marshal(spec.Kubernetes.Service.Ports)
			var ports []map[string]any
			_ = json.Unmarshal(b, &ports)
			_ = merged.SetPath(fmt.Sprintf("spec.values.%s.ports", root), ports)
		}
	}
	// For Deployment-based components, translate k8s HPA/replica settings to Helm
	// values so that template guard conditions (e.g. PDB requiring autoscaleMin > 1)
	// see them. Without this, k8s.hpaSpec.minReplicas only patches the HPA
	// post-render and the PDB is never generated. DaemonSet components (CNI,
	// ztunnel) have no autoscaling, so we skip them.
	if comp.ResourceType == "Deployment" && spec.Kubernetes != nil {
		if !comp.IsGateway() {
			merged = merged.DeepClone()
		}
		if spec.Kubernetes.HpaSpec != nil {
			if spec.Kubernetes.HpaSpec.MinReplicas != nil {
				_ = merged.SetPath(fmt.Sprintf("spec.values.%s.autoscaleMin", root), int64(*spec.Kubernetes.HpaSpec.MinReplicas))
			}
			if spec.Kubernetes.HpaSpec.MaxReplicas > 0 {
				_ = merged.SetPath(fmt.Sprintf("spec.values.%s.autoscaleMax", root), int64(spec.Kubernetes.HpaSpec.MaxReplicas))
			}
		}
		if spec.Kubernetes.ReplicaCount > 0 {
			_ = merged.SetPath(fmt.Sprintf("spec.values.%s.replicaCount", root), int64(spec.Kubernetes.ReplicaCount))
		}
	}
	// Translate k8s.resources CPU into Helm values so chart guard conditions (e.g.
	// ztunnel's ZTUNNEL_RESOURCE_CPU_* env vars) see operator-set resources. Without
	// this, k8s.resources only patches the container post-render and is invisible at
	// template time, so the guards would never fire on the istioctl/operator path.
	if spec.Kubernetes != nil && spec.Kubernetes.Resources != nil {
		merged = merged.DeepClone()
		if cpu := spec.Kubernetes.Resources.Limits.Cpu(); !cpu.IsZero() {
			_ = merged.SetPath(fmt.Sprintf("spec.values.%s.resources.limits.cpu", root), cpu.String())
		}
		if cpu := spec.Kubernetes.Resources.Requests.Cpu(); !cpu.IsZero() {
			_ = merged.SetPath(fmt.Sprintf("spec.values.%s.resources.requests.cpu", root), cpu.String())
		}
	}
	// No changes needed, skip early to avoid copy
	if !comp.FlattenValues && spec.Hub == "" && spec.Tag == nil && spec.Label == nil {
		return merged
	}

	// Copy to ensure we are not mutating the shared state
	merged = merged.DeepClone()
	if spec.Hub != "" {
		_ = merged.SetSpecPaths(fmt.Sprintf("values.%s.hub=%s", root, spec.Hub))
	}
	if spec.Tag != nil {
		_ = merged.SetSpecPaths(fmt.Sprintf("values.%s.tag=%v", root, spec.Tag))
	}
	// IstioOperator presents users a single set of values to apply to all charts. This works well when the chart expects all
	// values to be prefixed (like `pilot.resources=...`).
	// Other charts do not, and expect direct settings (like `resources=...`).
	// To avoid these direct settings being confusing/conflicting with other charts, IstioOperator nests them in the user-facing configuration,
	// then translates them to the flattened version.
	if comp.FlattenValues {
		cv, f := merged.GetPathMap("spec.values." + root)
		if f {
			vals, _ := merged.GetPathMap("spec.values")
			nv := values.Map{
				"global": vals["global"],
			}
			for k, v := range vals {
				_, isMap := v.(map[string]any)
				if !isMap {
					nv[k] = v
				}
			}
			for k, v := range cv {
				nv[k] = v
			}
			merged["spec"].(map[string]any)["values"] = nv
		}
	}
	return merged
}

// MergeInputs merges the various configuration inputs into one single IstioOperator.
func MergeInputs(filenames []string) (values.Map, error) {
	// We want our precedence order to be: base < profile < auto detected settings < files (in order) < --set flags (in order).
	// The tricky bit is we don't know where to read the profile from until we read the files/--set flags.
	// To handle this, we will build up these first, then apply it on top of the base once we know what base to use.
	// Initial base values
	userConfigBase, err := values.MapFromJSON([]byte(`{
  "apiVersion": "install.istio.io/v1alpha1",
  "kind": "IstioOperator",
  "metadata": {},
  "spec": {}
}`))
	if err != nil {
		return nil, err
	}

	// Apply all passed in files
	for i, fn := range filenames {
		var b []byte
		var err error
		if fn == "-" {
			if i != len(filenames)-1 {
				return nil, fmt.Errorf("stdin is only allowed as the last filename")
			}
			b, err = io.ReadAll(os.Stdin)
		} else {
			b, err = os.ReadFile(strings.TrimSpace(fn))
		}
		if err != nil {
			return nil, err
		}
		if err := checkNoMultipleIOPs(string(b)); err != nil {
			return nil, err
		}
		m, err := values.MapFromYaml(b)
		if err != nil {
			return nil, err
		}
		// Special hack to allow an empty spec to work. Should this be more generic?
		if m["spec"] == nil {
			delete(m, "spec")
		}
		userConfigBase.MergeFrom(m)
	}

	installPackagePath := userConfigBase.GetPathString("spec.installPackagePath")
	profile := userConfigBase.GetPathString("spec.profile")
	userValues, _ := userConfigBase.GetPathMap("spec.values")

	// Now we have the base
	base, err := readProfile(installPackagePath, profile)
	if err != nil {
		return nil, err
	}

	// Istio detects settings from a cluster here (there is none) and inserts a hub and tag
	// compiled into istioctl (this binary has none).

	// Merge the user values on top
	base.MergeFrom(userConfigBase)

	// Canonical-ize some of the values, translating things like `spec.hub` to `spec.values.global.hub` for helm compatibility
	base, err = translateIstioOperatorToHelm(base)
	if err != nil {
		return nil, err
	}

	// User values may override things from translateIstioOperatorToHelm.
	// For instance, I may set `values.istio_cni.enabled=true` without enabling the CNI component; translateIstioOperatorToHelm would set this to
	// nil.
	// So apply the user values on top as the last step
	if userValues != nil {
		base.MergeFrom(values.Map{"spec": values.Map{"values": userValues}})
	}
	return base, nil
}

func checkNoMultipleIOPs(s string) error {
	mfs, err := manifest.ParseMultiple(s)
	if err != nil {
		return fmt.Errorf("unable to parse file: %v", err)
	}
	if len(mfs) > 1 {
		return fmt.Errorf("contains multiple IstioOperator CRs, only one per file is supported")
	}
	return nil
}

// translateIstioOperatorToHelm converts top level IstioOperator configs into Helm values.
// Note: many other settings are done as post-processing steps, so they are not included here.
func translateIstioOperatorToHelm(base values.Map) (values.Map, error) {
	translations := map[string]string{
		"spec.hub":                  "global.hub",
		"spec.tag":                  "global.tag",
		"spec.revision":             "revision",
		"spec.meshConfig":           "meshConfig",
		"spec.compatibilityVersion": "compatibilityVersion",
	}
	for in, out := range translations {
		v, f := base.GetPath(in)
		if !f {
			continue
		}
		if _, ok := v.(map[string]any); ok {
			nm := values.MakeMap(v, "spec", "values", "meshConfig")
			base.MergeFrom(nm)
		} else {
			if err := base.SetSpecPaths(fmt.Sprintf("values.%s=%v", out, v)); err != nil {
				return nil, err
			}
		}
	}

	// Propagate component enablement to values. This is used for cross-chart dependencies.
	if err := base.SetPath("spec.values.pilot.enabled", base.GetPathBool("spec.components.pilot.enabled")); err != nil {
		return nil, err
	}
	if err := base.SetPath("spec.values.pilot.cni.enabled", base.GetPathBool("spec.components.cni.enabled")); err != nil {
		return nil, err
	}
	if n := base.GetPathString("spec.values.global.istioNamespace"); n != "" {
		if err := base.SetPath("metadata.namespace", n); err != nil {
			return nil, err
		}
	}
	return base, nil
}

// readProfile reads a profile, from given path.
func readProfile(path string, profile string) (values.Map, error) {
	if profile == "" {
		profile = "default"
	}
	// All profiles are based on applying on top of the 'default' profile
	base, err := readProfileInternal(path, "default")
	if err != nil {
		return nil, err
	}
	if profile == "default" {
		// If we requested the default profile, just return it
		return base, nil
	}
	// Otherwise, merge default with the requested profile
	top, err := readProfileInternal(path, profile)
	if err != nil {
		return nil, err
	}
	base.MergeFrom(top)
	return base, nil
}

func readProfileInternal(path string, profile string) (values.Map, error) {
	fs := manifests.BuiltinOrDir(path)
	f, err := fs.Open(fmt.Sprintf("profiles/%v.yaml", profile))
	if err != nil {
		return nil, fmt.Errorf("profile %q not found: %v", profile, err)
	}
	pb, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return values.MapFromYaml(pb)
}

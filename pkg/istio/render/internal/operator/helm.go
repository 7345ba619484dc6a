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
// Changed for kubectl-asmfed: no cluster client, the base chart's CRDs relabelled; see doc.go.

package operator

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	commonutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	loaderv2 "helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"istio.io/istio/manifests"
	"istio.io/istio/operator/pkg/manifest"
	"istio.io/istio/operator/pkg/util"
	"istio.io/istio/operator/pkg/values"
	"istio.io/istio/pkg/slices"
	"istio.io/istio/pkg/test/util/yml"
)

// minK8SVersion is istio.io/istio/istioctl/pkg/install/k8sversion.MinK8SVersion, the Kubernetes
// minor version the charts are rendered for when no cluster is asked (a test keeps them equal).
const minK8SVersion = 32

// helmRender produces a set of fully rendered manifests from Helm.
// Any warnings are also propagated up.
// Note: this is the direct result of the Helm call. Postprocessing steps are done later.
// TODO: ReleaseName hardcoded to istio, this should probably have been the component name. However, its a bit late to change it.
func helmRender(releaseName, namespace string, directory string, iop values.Map) ([]manifest.Manifest, util.Errors, error) {
	vals, _ := iop.GetPathMap("spec.values")
	installPackagePath := iop.GetPathString("spec.installPackagePath")
	f := manifests.BuiltinOrDir(installPackagePath)
	path := path.Join("charts", directory)
	chrt, err := loadChart(f, path)
	if err != nil {
		return nil, nil, fmt.Errorf("load chart: %v", err)
	}

	output, warnings, crdLabels, err := renderChart(releaseName, namespace, vals, chrt)
	if err != nil {
		return nil, nil, fmt.Errorf("render chart: %v", err)
	}
	mfs, err := manifest.Parse(output)
	if err != nil || crdLabels == nil {
		return mfs, warnings, err
	}
	// The CRDs came out of the chart as its files hold them: give them the labels the chart's
	// template would have, and the content Helm's toYaml would have printed.
	for i, m := range mfs {
		if m.GetKind() != "CustomResourceDefinition" {
			continue
		}
		if err := unstructured.SetNestedField(m.Object, runtime.DeepCopyJSONValue(crdLabels), "metadata", "labels"); err != nil {
			return nil, nil, err
		}
		if mfs[i], err = manifest.FromObject(m.Unstructured); err != nil {
			return nil, nil, err
		}
	}
	return mfs, warnings, nil
}

// crdLabelsTemplate is added to the base chart when its CRDs are taken as the chart's files hold
// them: it prints the labels that the chart's CRD template gives each of them.
const crdLabelsTemplate = "templates/zzz-asmfed-crd-labels.yaml"

// rawCRDs reports whether the base chart's CRDs can be taken as its files hold them, relabelled,
// instead of through its CRD template, which parses each of the 930 KB of CRDs twice and prints
// it again only to replace its labels (a third of a render): when the values leave the template
// and its exclusions to the chart's defaults, which no profile changes.
func rawCRDs(chrt *chartv2.Chart, vals values.Map) bool {
	if chrt.Metadata.Name != "base" {
		return false
	}
	_, setTemplates := vals.GetPath("base.enableCRDTemplates")
	_, setExcluded := vals.GetPath("base.excludedCRDs")
	return !setTemplates && !setExcluded
}

type Warnings = util.Errors

// renderChart renders the given chart with the given values and returns the resulting YAML manifest string.
// When the base chart's CRDs are taken as its files hold them (rawCRDs), it also returns the labels
// they must be given; otherwise nil.
func renderChart(releaseName string, namespace string, vals values.Map, chrt *chartv2.Chart) ([]string, Warnings, map[string]any, error) {
	raw := rawCRDs(chrt, vals)
	if raw {
		vals = vals.DeepClone()
		if err := vals.SetPath("base.enableCRDTemplates", false); err != nil {
			return nil, nil, nil, err
		}
		chrt.Templates = append(chrt.Templates, &common.File{Name: crdLabelsTemplate, Data: []byte(`{{ include "istio.labels" . }}`)})
	}
	options := common.ReleaseOptions{
		Name:      releaseName,
		Namespace: namespace,
	}

	caps := *common.DefaultCapabilities

	// overwrite helm default capabilities
	operatorVersion, _ := common.ParseKubeVersion("1." + strconv.Itoa(minK8SVersion) + ".0")
	caps.KubeVersion = *operatorVersion

	helmVals, err := commonutil.ToRenderValues(chrt, vals, options, &caps)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("converting values: %v", err)
	}

	files, err := engine.Render(chrt, helmVals)
	if err != nil {
		return nil, nil, nil, err
	}
	var crdLabels map[string]any
	if raw {
		key := path.Join(chrt.Name(), crdLabelsTemplate)
		if err := yaml.Unmarshal([]byte(files[key]), &crdLabels); err != nil || crdLabels == nil {
			return nil, nil, nil, fmt.Errorf("the base chart's CRD labels: %q: %v", files[key], err)
		}
		delete(files, key)
	}

	crdFiles := chrt.CRDObjects()
	if chrt.Metadata.Name == "base" {
		enableIstioConfigCRDs, ok := values.GetPathAs[bool](vals, "base.enableIstioConfigCRDs")
		if ok && !enableIstioConfigCRDs {
			crdFiles = []chartv2.CRD{}
		}
	}

	var warnings Warnings
	// Create sorted array of keys to iterate over, to stabilize the order of the rendered templates
	keys := make([]string, 0, len(files))
	for k, v := range files {
		if strings.HasSuffix(k, NotesFileNameSuffix) {
			warnings = extractWarnings(v)
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)

	results := make([]string, 0, len(keys))
	for _, k := range keys {
		results = append(results, yml.SplitString(files[k])...)
	}

	// Sort crd files by name to ensure stable manifest output
	slices.SortBy(crdFiles, func(a chartv2.CRD) string {
		return a.Name
	})
	for _, crd := range crdFiles {
		results = append(results, yml.SplitString(string(crd.File.Data))...)
	}

	return results, warnings, crdLabels, nil
}

func extractWarnings(v string) Warnings {
	var w Warnings
	for _, l := range strings.Split(v, "\n") {
		if after, ok := strings.CutPrefix(l, "WARNING: "); ok {
			w = util.AppendErr(w, errors.New(after))
		}
	}
	return w
}

const (
	// NotesFileNameSuffix is the file name suffix for helm notes.
	// see https://helm.sh/docs/chart_template_guide/notes_files/
	NotesFileNameSuffix = ".txt"
)

// loadChart reads a chart from the filesystem. This is like loader.LoadDir but allows a fs.FS.
func loadChart(f fs.FS, root string) (*chartv2.Chart, error) {
	fnames, err := getFilesRecursive(f, root)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("component does not exist")
		}
		return nil, fmt.Errorf("list files: %v", err)
	}
	var bfs []*archive.BufferedFile
	for _, fname := range fnames {
		b, err := fs.ReadFile(f, fname)
		if err != nil {
			return nil, fmt.Errorf("read file: %v", err)
		}
		// Helm expects unix / separator, but on windows this will be \
		name := strings.ReplaceAll(stripPrefix(fname, root), string(filepath.Separator), "/")
		bf := &archive.BufferedFile{
			Name: name,
			Data: b,
		}
		bfs = append(bfs, bf)
	}

	return loaderv2.LoadFiles(bfs)
}

// stripPrefix removes the given prefix from prefix.
func stripPrefix(path, prefix string) string {
	pl := len(strings.Split(prefix, "/"))
	pv := strings.Split(path, "/")
	return strings.Join(pv[pl:], "/")
}

func getFilesRecursive(f fs.FS, root string) ([]string, error) {
	res := []string{}
	err := fs.WalkDir(f, root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		res = append(res, path)
		return nil
	})
	return res, err
}

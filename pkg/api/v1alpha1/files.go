package v1alpha1

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/asmfed/kubectl-asmfed/internal/pemcert"
	yaml "go.yaml.in/yaml/v3"
)

// ResolvePath returns a file reference of the federation file as a path usable from the working
// directory: absolute paths stay, relative ones are relative to baseDir.
func ResolvePath(baseDir, ref string) string {
	if filepath.IsAbs(ref) || baseDir == "" {
		return ref
	}
	return filepath.Join(baseDir, ref)
}

func (v *validator) readFile(path, ref string) ([]byte, bool) {
	if v.opts.SkipFiles {
		return nil, false
	}
	data, err := ReadFile(ResolvePath(v.opts.BaseDir, ref))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.errorf(path, "paths are relative to the federation file", "file %q does not exist", ref)
		return nil, false
	case errors.Is(err, ErrNotRegular):
		v.errorf(path, "name a regular file, not a device, pipe or directory", "%q is not a regular file", ref)
		return nil, false
	case errors.Is(err, ErrTooLarge):
		v.errorf(path, "", "%q is %s", ref, ErrTooLarge)
		return nil, false
	case err != nil:
		v.errorf(path, "", "cannot read %q: %v", ref, errors.Unwrap(err))
		return nil, false
	}
	return data, true
}

// FileRefs are the files a federation refers to (overlays, the plug-in CA root, the ingress
// credential, add-on tokens), resolved against baseDir, in the order the file names them: what
// plan, apply and verify read besides the federation file itself.
func FileRefs(f *Federation, baseDir string) []string {
	var refs []string
	add := func(ref string) {
		if ref != "" {
			refs = append(refs, ResolvePath(baseDir, ref))
		}
	}
	m := f.Spec.Mesh
	for _, o := range m.Overlays {
		add(o.File)
	}
	if m.CA.Mode == CAPlugin {
		add(m.CA.RootCertFile)
		add(m.CA.RootKeyFile)
	}
	if t := m.Ingress.TLS; t != nil {
		add(t.CertFile)
		add(t.KeyFile)
		add(t.CACertFile)
	}
	if pc := f.Spec.Addons.PrismaCloud; pc != nil {
		add(pc.TokenFile)
		add(pc.ManifestFile)
	}
	return refs
}

func (v *validator) nonEmptyFile(path, ref string) {
	if data, ok := v.readFile(path, ref); ok && len(bytes.TrimSpace(data)) == 0 {
		v.errorf(path, "", "file %q is empty", ref)
	}
}

func (v *validator) certBundle(path, ref string) {
	data, ok := v.readFile(path, ref)
	if !ok {
		return
	}
	if _, err := pemcert.Parse(data); err != nil {
		v.errorf(path, "it must hold PEM certificates", "%q is not a certificate: %v", ref, err)
	}
}

// keyPair checks that certRef holds a PEM certificate and keyRef the matching private key. Key
// material is never part of a message.
func (v *validator) keyPair(certPath, certRef, keyPath, keyRef string, mustBeCA bool) {
	certPEM, okC := v.readFile(certPath, certRef)
	keyPEM, okK := v.readFile(keyPath, keyRef)
	var certs []*x509.Certificate
	if okC {
		var err error
		if certs, err = pemcert.Parse(certPEM); err != nil {
			v.errorf(certPath, "it must hold a PEM certificate", "%q is not a certificate: %v", certRef, err)
			okC = false
		}
	}
	if okK {
		block, _ := pem.Decode(keyPEM)
		if block == nil || !strings.Contains(block.Type, "PRIVATE KEY") {
			v.errorf(keyPath, "it must hold a PEM private key", "%q is not a private key", keyRef)
			okK = false
		}
	}
	if !okC || !okK {
		return
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		v.errorf(keyPath, "use the key the certificate was issued for", "%q does not match the certificate in %q", keyRef, certRef)
		return
	}
	if mustBeCA && (!certs[0].IsCA || !certs[0].BasicConstraintsValid) {
		v.errorf(certPath, "a root of trust must be a CA certificate; create one with `kubectl asmfed ca init`", "%q is not a CA certificate", certRef)
	}
}

// IstioOperator fields an overlay may set: the top level of the resource and of its spec.
var (
	iopTopFields  = []string{"apiVersion", "kind", "metadata", "spec"}
	iopSpecFields = []string{"profile", "installPackagePath", "namespace", "revision", "compatibilityVersion", "hub", "tag", "resourceSuffix", "meshConfig", "components", "values", "unvalidatedValues"}
)

const iopAPIVersion = "install.istio.io/v1alpha1"

func (v *validator) overlay(p string, o Overlay) {
	switch {
	case o.File != "" && o.Inline != nil:
		v.errorf(p, "keep one of them", "file and inline are exclusive")
		return
	case o.File == "" && o.Inline == nil:
		v.errorf(p, "set file to an IstioOperator YAML file, or inline to an IstioOperator", "an overlay needs file or inline")
		return
	case o.Inline != nil:
		v.inlineOverlay(p+".inline", o.Inline)
		return
	}
	data, ok := v.readFile(p+".file", o.File)
	if !ok {
		return
	}
	sm := NewSourceMap(ResolvePath(v.opts.BaseDir, o.File))
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			v.errors(ErrorList{{File: sm.File, Pos: Pos{1, 1}, Message: "overlay is empty"}})
		} else {
			v.errors(ErrorList{yamlSyntaxError(sm.File, err)})
		}
		return
	}
	d := &decoder{sm: sm}
	root := doc.Content[0]
	d.recordPositions(root, "")
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "", "", "an IstioOperator is a mapping, got %s", kindName(root))
		v.errors(d.errs)
		return
	}
	var m map[string]any
	if err := root.Decode(&m); err != nil {
		d.errorf(root, "", "", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		v.errors(d.errs)
		return
	}
	v.errors(d.errs)
	v.errors(checkIstioOperator(m, sm, ""))
}

func (v *validator) inlineOverlay(p string, m map[string]any) {
	v.errors(checkIstioOperator(m, v.sm, p))
}

func (v *validator) errors(list ErrorList) { v.errs = append(v.errs, list...) }

// checkIstioOperator checks the shape of an overlay: an IstioOperator resource whose top-level and
// spec fields exist. Deeper checks of meshConfig and values happen when the overlay is rendered.
func checkIstioOperator(m map[string]any, sm *SourceMap, prefix string) ErrorList {
	var errs ErrorList
	at := func(field string) string { return joinPath(prefix, field) }
	if av, ok := m["apiVersion"]; !ok {
		errs = append(errs, sm.Errorf(prefix, "add apiVersion: "+iopAPIVersion, "overlay has no apiVersion"))
	} else if av != iopAPIVersion {
		errs = append(errs, sm.Errorf(at("apiVersion"), "use "+iopAPIVersion, "%s is not an IstioOperator apiVersion", Excerpt(fmt.Sprint(av))))
	}
	if k, ok := m["kind"]; !ok {
		errs = append(errs, sm.Errorf(prefix, "add kind: IstioOperator", "overlay has no kind"))
	} else if k != "IstioOperator" {
		errs = append(errs, sm.Errorf(at("kind"), "use IstioOperator", "%s is not IstioOperator", Excerpt(fmt.Sprint(k))))
	}
	errs = append(errs, unknownKeys(m, iopTopFields, sm, prefix)...)
	if spec, ok := m["spec"]; ok {
		sp, isMap := spec.(map[string]any)
		if !isMap {
			errs = append(errs, sm.Errorf(at("spec"), "", "spec must be a mapping"))
		} else {
			errs = append(errs, unknownKeys(sp, iopSpecFields, sm, at("spec"))...)
		}
	}
	return errs
}

func unknownKeys(m map[string]any, known []string, sm *SourceMap, prefix string) ErrorList {
	fields := map[string]int{}
	for i, k := range known {
		fields[k] = i
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs ErrorList
	for _, k := range keys {
		if _, ok := fields[k]; !ok {
			errs = append(errs, sm.Errorf(joinPath(prefix, k), suggestField(k, fields), "unknown IstioOperator field"))
		}
	}
	return errs
}

func joinPath(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return fmt.Sprintf("%s.%s", prefix, field)
}

package main

import "path/filepath"

// Paths of the generated files, relative to the module root.
const (
	schemaPath    = "schema/federation.v1alpha1.json"
	referencePath = "docs/federation.md"
	apiDir        = "pkg/api/v1alpha1"
)

// generatedFile is one output of the generator.
type generatedFile struct {
	Path string // relative to the module root, slash-separated
	Data []byte
}

// generate produces every generated file from the types and comments under root.
func generate(root string) ([]generatedFile, error) {
	c, err := readComments(filepath.Join(root, filepath.FromSlash(apiDir)))
	if err != nil {
		return nil, err
	}
	objs := objects(c)
	schema, err := renderSchema(c, objs)
	if err != nil {
		return nil, err
	}
	readme, err := renderReadme(root)
	if err != nil {
		return nil, err
	}
	return []generatedFile{
		{Path: schemaPath, Data: schema},
		{Path: referencePath, Data: renderReference(objs)},
		{Path: readmePath, Data: readme},
	}, nil
}

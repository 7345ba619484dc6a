package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// comments holds the doc comments of a package's exported types ("Type") and their fields
// ("Type.Field"), each as plain text with the comment's line breaks joined into paragraphs.
type comments map[string]string

// readComments parses the non-test Go files of the package in dir.
func readComments(dir string) (comments, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	fset := token.NewFileSet()
	c := comments{}
	for _, n := range names {
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", n, err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				if !ts.Name.IsExported() {
					continue
				}
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				c[ts.Name.Name] = paragraphs(doc.Text())
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, fld := range st.Fields.List {
					text := fld.Doc.Text()
					if text == "" {
						text = fld.Comment.Text()
					}
					for _, name := range fld.Names {
						if name.IsExported() {
							c[ts.Name.Name+"."+name.Name] = paragraphs(text)
						}
					}
				}
			}
		}
	}
	return c, nil
}

// paragraphs joins the lines of each paragraph of a comment with single spaces.
func paragraphs(text string) string {
	var out []string
	for _, p := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if p = strings.Join(strings.Fields(p), " "); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n\n")
}

// splitDefault separates the "Default: …" sentence of a field comment from the rest. It returns
// the default as written (without the trailing period) and the comment without that sentence.
func splitDefault(doc string) (def, rest string) {
	const marker = "Default:"
	i := strings.Index(doc, marker)
	if i < 0 {
		return "", doc
	}
	start := i + len(marker)
	end := len(doc)
	for j := start; j < len(doc); j++ {
		if doc[j] != '.' || (j+1 < len(doc) && doc[j+1] != ' ' && doc[j+1] != '\n') {
			continue
		}
		if strings.HasSuffix(doc[:j], "e.g") || strings.HasSuffix(doc[:j], "i.e") {
			continue
		}
		end = j
		break
	}
	def = strings.TrimSpace(doc[start:end])
	tail := ""
	if end < len(doc) {
		tail = doc[end+1:]
	}
	rest = strings.TrimSpace(strings.TrimSpace(doc[:i]) + " " + strings.TrimSpace(tail))
	return def, rest
}

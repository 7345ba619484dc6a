// Package xsdcheck validates XML documents against an XML Schema, for tests. No pure-Go XML
// Schema validator is served by the module proxy, so it reads the schema itself: global and local
// element declarations (name, ref, type), complex types (named or inline, mixed or not) with their
// attributes (use required, undeclared attributes refused, simple-type patterns) and content
// models (sequence and choice with minOccurs and maxOccurs, turned into a regular expression over
// the child element names), and simple types restricted by a pattern. That is every construct of
// Jenkins' junit-10.xsd, which it carries; a construct it does not know makes loading a schema
// fail rather than pass documents unchecked.
package xsdcheck

import (
	"bytes"
	_ "embed"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// junit10 is Jenkins' JUnit schema (xunit-plugin's junit-10.xsd, MIT licence in the file).
//
//go:embed junit-10.xsd
var junit10 []byte

// JUnit is the JUnit XML schema CI servers read.
func JUnit() *Schema {
	s, err := Load(junit10)
	if err != nil {
		panic(err) // the embedded schema is fixed: a test proves it loads
	}
	return s
}

// node is an element of a parsed XML document.
type node struct {
	name     string
	attrs    map[string]string
	children []*node
	text     string
}

func parseXML(r io.Reader) (*node, error) {
	dec := xml.NewDecoder(r)
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name.Local, attrs: map[string]string{}}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
					continue
				}
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			} else if root != nil {
				return nil, fmt.Errorf("a second root element %s", n.name)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("no root element")
	}
	return root, nil
}

// Schema is an XSD read into what validation needs.
type Schema struct {
	elements    map[string]*node // global xs:element by name
	complex     map[string]*node // named xs:complexType
	simple      map[string]*regexp.Regexp
	contentExpr map[*node]*regexp.Regexp
}

// Load reads a schema.
func Load(data []byte) (*Schema, error) {
	root, err := parseXML(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	s := &Schema{elements: map[string]*node{}, complex: map[string]*node{}, simple: map[string]*regexp.Regexp{}, contentExpr: map[*node]*regexp.Regexp{}}
	for _, c := range root.children {
		switch c.name {
		case "element":
			s.elements[c.attrs["name"]] = c
		case "complexType":
			s.complex[c.attrs["name"]] = c
		case "simpleType":
			re, err := simplePattern(c)
			if err != nil {
				return nil, err
			}
			s.simple[c.attrs["name"]] = re
		default:
			return nil, fmt.Errorf("schema construct xs:%s is not supported", c.name)
		}
	}
	return s, nil
}

// simplePattern is a simple type's pattern restriction as an anchored regular expression (XSD
// patterns match the whole value).
func simplePattern(st *node) (*regexp.Regexp, error) {
	if len(st.children) != 1 || st.children[0].name != "restriction" || st.children[0].attrs["base"] != "xs:string" {
		return nil, fmt.Errorf("simple type %s: only a pattern restriction of xs:string is supported", st.attrs["name"])
	}
	var parts []string
	for _, f := range st.children[0].children {
		if f.name != "pattern" {
			return nil, fmt.Errorf("simple type %s: facet xs:%s is not supported", st.attrs["name"], f.name)
		}
		parts = append(parts, "(?:"+f.attrs["value"]+")")
	}
	return regexp.Compile(`^(?:` + strings.Join(parts, "|") + `)$`)
}

// typeOf resolves an element declaration to its complex type, or to a simple type (nil complex
// type and the pattern, nil for xs:string).
func (s *Schema) typeOf(decl *node) (*node, *regexp.Regexp, error) {
	if ref := decl.attrs["ref"]; ref != "" {
		g, ok := s.elements[ref]
		if !ok {
			return nil, nil, fmt.Errorf("ref to undeclared element %s", ref)
		}
		return s.typeOf(g)
	}
	if t := decl.attrs["type"]; t != "" {
		if t == "xs:string" {
			return nil, nil, nil
		}
		if ct, ok := s.complex[t]; ok {
			return ct, nil, nil
		}
		if re, ok := s.simple[t]; ok {
			return nil, re, nil
		}
		return nil, nil, fmt.Errorf("unknown type %s", t)
	}
	for _, c := range decl.children {
		if c.name == "complexType" {
			return c, nil, nil
		}
	}
	return nil, nil, nil
}

func declName(decl *node) string {
	if r := decl.attrs["ref"]; r != "" {
		return r
	}
	return decl.attrs["name"]
}

func occurs(p *node) string {
	lo, hi := p.attrs["minOccurs"], p.attrs["maxOccurs"]
	if lo == "" {
		lo = "1"
	}
	if hi == "" {
		hi = "1"
	}
	if hi == "unbounded" {
		return "{" + lo + ",}"
	}
	return "{" + lo + "," + hi + "}"
}

// particle turns a content particle into a regular expression over "<name>" tokens and collects
// the declarations of the elements it allows.
func particle(p *node, decls map[string]*node) (string, error) {
	switch p.name {
	case "element":
		decls[declName(p)] = p
		return "(?:" + regexp.QuoteMeta("<"+declName(p)+">") + ")" + occurs(p), nil
	case "sequence", "choice":
		var parts []string
		for _, c := range p.children {
			e, err := particle(c, decls)
			if err != nil {
				return "", err
			}
			parts = append(parts, e)
		}
		sep := ""
		if p.name == "choice" {
			sep = "|"
		}
		return "(?:" + strings.Join(parts, sep) + ")" + occurs(p), nil
	}
	return "", fmt.Errorf("content particle xs:%s is not supported", p.name)
}

// Validate checks a document against the schema and returns every violation; none means valid.
func (s *Schema) Validate(doc []byte) []string {
	root, err := parseXML(bytes.NewReader(doc))
	if err != nil {
		return []string{"not well-formed: " + err.Error()}
	}
	return s.validate(root)
}

func (s *Schema) validate(doc *node) []string {
	decl, ok := s.elements[doc.name]
	if !ok {
		return []string{fmt.Sprintf("root element %s is not declared", doc.name)}
	}
	var errs []string
	s.element(doc, decl, "/"+doc.name, &errs)
	return errs
}

func (s *Schema) element(n, decl *node, at string, errs *[]string) {
	fail := func(format string, args ...any) { *errs = append(*errs, at+": "+fmt.Sprintf(format, args...)) }
	ct, pattern, err := s.typeOf(decl)
	if err != nil {
		fail("%v", err)
		return
	}
	if ct == nil { // a simple type: text only
		if len(n.attrs) > 0 || len(n.children) > 0 {
			fail("a simple-typed element has attributes or children")
		}
		if pattern != nil && !pattern.MatchString(n.text) {
			fail("value %q does not match its type's pattern", n.text)
		}
		return
	}
	declared := map[string]bool{}
	decls := map[string]*node{}
	expr := ""
	for _, c := range ct.children {
		switch c.name {
		case "attribute":
			name := c.attrs["name"]
			declared[name] = true
			v, has := n.attrs[name]
			if !has && c.attrs["use"] == "required" {
				fail("required attribute %s is missing", name)
			}
			if re, ok := s.simple[c.attrs["type"]]; ok && has && !re.MatchString(v) {
				fail("attribute %s=%q does not match %s", name, v, c.attrs["type"])
			}
		case "sequence", "choice":
			e, err := particle(c, decls)
			if err != nil {
				fail("%v", err)
				return
			}
			expr = e
		default:
			fail("complex type construct xs:%s is not supported", c.name)
			return
		}
	}
	for a := range n.attrs {
		if !declared[a] {
			fail("attribute %s is not declared", a)
		}
	}
	if ct.attrs["mixed"] != "true" && strings.TrimSpace(n.text) != "" {
		fail("text %q where the type allows none", strings.TrimSpace(n.text))
	}
	var seq strings.Builder
	for _, c := range n.children {
		seq.WriteString("<" + c.name + ">")
	}
	re, ok := s.contentExpr[ct]
	if !ok {
		re = regexp.MustCompile("^" + expr + "$")
		if expr == "" {
			re = regexp.MustCompile("^$")
		}
		s.contentExpr[ct] = re
	}
	if !re.MatchString(seq.String()) {
		fail("children %s are not allowed by the content model", seq.String())
		return
	}
	for i, c := range n.children {
		s.element(c, decls[c.name], at+"/"+c.name+"["+strconv.Itoa(i)+"]", errs)
	}
}

package v1alpha1

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Parse strictly decodes a federation file: unknown fields, duplicate fields and values of the
// wrong type are all reported at once, each with its line and column. The returned SourceMap maps
// field paths (spec.clusters[0].subnet) to positions for later checks.
func Parse(filename string, data []byte) (f *Federation, sm *SourceMap, errs ErrorList) {
	defer func() {
		// The YAML library has panicked on malformed input in the past; a bad file must never
		// crash the tool. The fuzz targets call parse, without this guard, so that they see any
		// panic.
		if r := recover(); r != nil {
			f = nil
			sm = NewSourceMap(filename)
			errs = ErrorList{{File: filename, Pos: Pos{1, 1}, Message: fmt.Sprintf("cannot parse YAML: %v", r)}}
		}
	}()
	return parse(filename, data)
}

func parse(filename string, data []byte) (f *Federation, sm *SourceMap, errs ErrorList) {
	sm = NewSourceMap(filename)
	d := &decoder{sm: sm}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, sm, ErrorList{{File: filename, Pos: Pos{1, 1}, Message: "file is empty",
				Hint: "start from a sample: samples/two-cluster-private/federation.yaml"}}
		}
		return nil, sm, ErrorList{yamlSyntaxError(filename, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, sm, ErrorList{{File: filename, Pos: Pos{extra.Line, extra.Column},
			Message: "a federation file holds exactly one YAML document", Hint: "split other documents into their own files"}}
	} else if !errors.Is(err, io.EOF) {
		return nil, sm, ErrorList{yamlSyntaxError(filename, err)}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, sm, ErrorList{{File: filename, Pos: Pos{1, 1}, Message: "file is empty"}}
		}
		root = root.Content[0]
	}
	f = &Federation{}
	d.decode(root, reflect.ValueOf(f).Elem(), "")
	d.errs.Sort()
	if d.exceeded {
		// What was decoded is partial; checking it would only add noise.
		return nil, sm, d.errs
	}
	return f, sm, d.errs
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlSyntaxError(file string, err error) Error {
	line := 1
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil && n > 0 {
			line = n
		}
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = yamlLine.ReplaceAllString(msg, "")
	msg = strings.TrimPrefix(strings.TrimSpace(msg), ": ")
	return Error{File: file, Pos: Pos{Line: line, Column: 1}, Message: "invalid YAML: " + msg}
}

type decoder struct {
	sm   *SourceMap
	errs ErrorList
	// visits counts nodes walked. Aliases are followed, so a few lines of YAML can expand into
	// billions of nodes ("billion laughs"); past maxVisits the file is rejected.
	visits   int
	exceeded bool
}

// maxVisits is a hundred times the nodes of a large federation file with a full inline overlay;
// it keeps an alias bomb's rejection cheap (milliseconds), which is also what lets the fuzzer
// make progress past one.
const maxVisits = 20_000

// visit counts a node and reports whether the walk may go on.
func (d *decoder) visit(n *yaml.Node) bool {
	d.visits++
	if d.visits <= maxVisits {
		return true
	}
	if !d.exceeded {
		d.exceeded = true
		d.errorf(n, "", "expand fewer aliases", "the document expands to more than %d nodes", maxVisits)
	}
	return false
}

func (d *decoder) errorf(n *yaml.Node, path, hint, format string, args ...any) {
	d.errs = append(d.errs, Error{File: d.sm.File, Pos: nodePos(n), Field: path, Message: fmt.Sprintf(format, args...), Hint: hint})
}

func nodePos(n *yaml.Node) Pos {
	p := Pos{Line: n.Line, Column: n.Column}
	if p.Line < 1 {
		p.Line = 1
	}
	if p.Column < 1 {
		p.Column = 1
	}
	return p
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		// A scalar may be a whole token file named where YAML was expected: never quote it all.
		return Excerpt(n.Value)
	}
	return "something else"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

var anyType = reflect.TypeOf((*any)(nil)).Elem()

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if !d.visit(n) {
		return
	}
	d.sm.Set(path, nodePos(n))
	if isNull(n) {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		elem := reflect.New(v.Type().Elem())
		d.decode(n, elem.Elem(), path)
		v.Set(elem)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "", "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, path, "", "expected a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.errorf(n, path, "", "expected true or false, got %s", kindName(n))
			return
		}
		b, err := strconv.ParseBool(n.Value)
		if err != nil {
			d.errorf(n, path, "", "expected true or false, got %s", Excerpt(n.Value))
			return
		}
		v.SetBool(b)
	case reflect.Int32, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			hint := ""
			if n.Kind == yaml.ScalarNode && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
				hint = "write the number without quotes"
			}
			d.errorf(n, path, hint, "expected an integer, got %s", kindName(n))
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, v.Type().Bits())
		if err != nil {
			d.errorf(n, path, "", "integer %s is out of range", Excerpt(n.Value))
			return
		}
		v.SetInt(i)
	case reflect.Interface:
		var out any
		if err := n.Decode(&out); err != nil {
			d.errorf(n, path, "", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
			return
		}
		d.recordPositions(n, path)
		if out != nil {
			v.Set(reflect.ValueOf(out))
		}
	default:
		d.errorf(n, path, "", "unsupported field type %s", v.Type())
	}
}

// recordPositions walks free-form YAML (inline overlays) so that later checks can point into it.
func (d *decoder) recordPositions(n *yaml.Node, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if !d.visit(n) {
		return
	}
	d.sm.Set(path, nodePos(n))
	switch n.Kind {
	case yaml.MappingNode:
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if first, dup := seen[k.Value]; dup {
				d.errorf(k, join(path, k.Value), "remove one of them", "duplicate field (first set on line %d)", first.Line)
				continue
			}
			seen[k.Value] = k
			d.recordPositions(val, join(path, k.Value))
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			d.recordPositions(c, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "", "expected a mapping, got %s", kindName(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		d.errorf(n, path, "", "unsupported map key type %s", v.Type().Key())
		return
	}
	if v.Type().Elem() == anyType {
		// Free-form YAML (an inline overlay): keep every value, check only for duplicate keys.
		before := len(d.errs)
		d.recordPositions(n, path)
		if len(d.errs) > before {
			return
		}
		var out map[string]any
		if err := n.Decode(&out); err != nil {
			d.errorf(n, path, "", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
			return
		}
		v.Set(reflect.ValueOf(out))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kp := fmt.Sprintf("%s[%s]", path, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "", "expected a string key, got %s", kindName(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, kp, "remove one of them", "duplicate key (first set on line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		ev := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, ev, kp)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), ev)
	}
	v.Set(m)
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "", "expected a mapping, got %s", kindName(n))
		return
	}
	fields := structFields(v.Type())
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "", "expected a field name, got %s", kindName(k))
			continue
		}
		fp := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, fp, "remove one of them", "duplicate field (first set on line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		idx, ok := fields[k.Value]
		if !ok {
			d.errorf(k, fp, suggestField(k.Value, fields), "unknown field")
			continue
		}
		d.decode(val, v.Field(idx), fp)
		// The key's position is more useful than the value's for a field that is later found
		// wrong as a whole, but the value's is what editors expect for scalars; keep the key's
		// for mappings and lists.
		if val.Kind == yaml.MappingNode || val.Kind == yaml.SequenceNode {
			d.sm.Set(fp, nodePos(k))
		}
	}
}

// structFields maps the JSON names of t's fields to their indexes.
func structFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		if name := jsonName(t.Field(i)); name != "" {
			out[name] = i
		}
	}
	return out
}

func jsonName(f reflect.StructField) string {
	tag := f.Tag.Get("json")
	if tag == "-" || !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		return f.Name
	}
	return name
}

// suggestField names the closest known field, or lists them all when none is close.
func suggestField(got string, fields map[string]int) string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	best, bestDist := "", 1<<30
	for _, name := range names {
		if strings.EqualFold(name, got) {
			return fmt.Sprintf("did you mean %q?", name)
		}
		if dist := levenshtein(strings.ToLower(got), strings.ToLower(name)); dist < bestDist {
			best, bestDist = name, dist
		}
	}
	if best != "" && bestDist <= max(2, len(got)/4) {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "valid fields: " + strings.Join(names, ", ")
}

// EditDistance is the Levenshtein distance between two strings, for "did you mean" hints.
func EditDistance(a, b string) int { return levenshtein(a, b) }

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

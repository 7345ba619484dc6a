package v1alpha1

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a 1-based line and column in a source file.
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Error is one problem with a federation file: where it is, which field, what is wrong and, when
// the fix is known, how to fix it.
type Error struct {
	File    string `json:"file"`
	Pos     Pos    `json:"pos"`
	Field   string `json:"field"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// Error formats the problem as FILE:LINE:COL: field: message (hint), the form editors and CI
// annotations understand.
func (e Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Pos.Line, e.Pos.Column)
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Hint != "" {
		fmt.Fprintf(&b, " (%s)", e.Hint)
	}
	return b.String()
}

// ErrorList is every problem found in a file. Tools report all of them at once.
type ErrorList []Error

// Error joins the problems, one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Sort orders problems by position, then field, so output is stable.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Column != b.Pos.Column {
			return a.Pos.Column < b.Pos.Column
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		return a.Message < b.Message
	})
}

// SourceMap records where each field path of a parsed file was written, so that problems found
// after parsing (validation, derivation, overlay rendering) can point at a line.
type SourceMap struct {
	// File is the path of the file as the user named it.
	File string
	pos  map[string]Pos
}

// NewSourceMap returns an empty map for file.
func NewSourceMap(file string) *SourceMap {
	return &SourceMap{File: file, pos: map[string]Pos{}}
}

// Set records the position of path.
func (m *SourceMap) Set(path string, p Pos) { m.pos[path] = p }

// Lookup returns the position of path, or of its nearest ancestor that was written (a defaulted
// field has no position of its own), or 1:1.
func (m *SourceMap) Lookup(path string) Pos {
	if m == nil {
		return Pos{Line: 1, Column: 1}
	}
	for p := path; ; p = parentPath(p) {
		if pos, ok := m.pos[p]; ok {
			return pos
		}
		if p == "" {
			return Pos{Line: 1, Column: 1}
		}
	}
}

// Has reports whether path was written in the file.
func (m *SourceMap) Has(path string) bool {
	if m == nil {
		return false
	}
	_, ok := m.pos[path]
	return ok
}

// Errorf builds an Error for path.
func (m *SourceMap) Errorf(path, hint, format string, args ...any) Error {
	file := ""
	if m != nil {
		file = m.File
	}
	return Error{File: file, Pos: m.Lookup(path), Field: path, Message: fmt.Sprintf(format, args...), Hint: hint}
}

// parentPath strips the last segment of a field path: a.b[2].c → a.b[2] → a.b → a → "".
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

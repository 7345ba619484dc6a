package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// Renderer writes a plan for a reader. Renderers never decide anything: the plan is complete.
type Renderer interface {
	Render(w io.Writer, p *Plan) error
}

// JSONRenderer writes the plan as JSON (docs/plan-json.md).
type JSONRenderer struct{}

// Render writes p as indented JSON.
func (JSONRenderer) Render(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(p)
}

// TextRenderer writes the plan the way terraform plan does: a mark per resource (+ create,
// ~ update, -/+ replace, - delete), the reason it exists, field-level before → after, grouped by
// project and cluster, and a closing count.
type TextRenderer struct {
	// Color adds ANSI colours; set it only when writing to a terminal.
	Color bool
	// ShowNoOp lists unchanged resources too.
	ShowNoOp bool
}

const (
	ansiReset   = "\x1b[0m"
	ansiBold    = "\x1b[1m"
	ansiGreen   = "\x1b[32m"
	ansiYellow  = "\x1b[33m"
	ansiRed     = "\x1b[31m"
	ansiMagenta = "\x1b[35m"
	ansiDim     = "\x1b[2m"
	ansiBlue    = "\x1b[34m"
)

func (r TextRenderer) paint(code, s string) string {
	if !r.Color {
		return s
	}
	return code + s + ansiReset
}

func (r TextRenderer) actionColor(a Action) string {
	switch a {
	case Create:
		return ansiGreen
	case Update:
		return ansiYellow
	case Replace:
		return ansiMagenta
	case Delete:
		return ansiRed
	case Adopt:
		return ansiBlue
	}
	return ansiDim
}

// Render writes p as text.
func (r TextRenderer) Render(w io.Writer, p *Plan) error {
	var b bytes.Buffer
	if !p.HasChanges() && len(p.Conflicts) == 0 {
		if len(p.Unreachable) > 0 {
			b.WriteString(r.paint(ansiBold, "No changes") + " in what could be planned; the clusters below could not be.\n")
		} else {
			b.WriteString(r.paint(ansiBold, "No changes.") + " The federation matches the live state.\n")
		}
		r.unreachable(&b, p)
		r.preflight(&b, p)
		r.warnings(&b, p)
		_, err := w.Write(b.Bytes())
		return err
	}
	fmt.Fprintf(&b, "kubectl asmfed will perform the following actions (%s):\n", legend(r, p.Summary.Adopt > 0))
	group := ""
	for _, c := range p.Changes {
		if c.Action == NoOp && !r.ShowNoOp {
			continue
		}
		if c.Group != group {
			group = c.Group
			fmt.Fprintf(&b, "\n%s\n", r.paint(ansiBold, "# "+group))
		}
		r.change(&b, c)
	}
	if len(p.Conflicts) > 0 {
		fmt.Fprintf(&b, "\n%s\n", r.paint(ansiBold, "# left alone: exist but are not owned by this federation"))
		for _, c := range p.Conflicts {
			fmt.Fprintf(&b, "  %s %s\n      %s\n", r.paint(ansiRed, "!"), c.Address, c.Reason)
		}
	}
	r.unreachable(&b, p)
	r.preflight(&b, p)
	r.warnings(&b, p)
	s := p.Summary
	adopt := ""
	if s.Adopt > 0 {
		adopt = fmt.Sprintf("%d to adopt, ", s.Adopt)
	}
	fmt.Fprintf(&b, "\n%s %s%d to add, %d to change, %d to replace, %d to destroy.\n", r.paint(ansiBold, "Plan:"), adopt, s.Add, s.Change, s.Replace, s.Destroy)
	_, err := w.Write(b.Bytes())
	return err
}

// legend explains the marks; @ adopt only in a plan that adopts something, so that plans made
// without --adopt read as they always have.
func legend(r TextRenderer, adopt bool) string {
	marks := []string{
		r.paint(ansiGreen, "+") + " create",
		r.paint(ansiYellow, "~") + " update in place",
		r.paint(ansiMagenta, "-/+") + " replace",
		r.paint(ansiRed, "-") + " destroy",
	}
	if adopt {
		marks = append(marks, r.paint(ansiBlue, "@")+" adopt (take ownership, change in place)")
	}
	return strings.Join(marks, ", ")
}

// unreachable says, per cluster the plan could not cover, the address tried, why it did not
// answer and what would fix it.
func (r TextRenderer) unreachable(b *bytes.Buffer, p *Plan) {
	if len(p.Unreachable) == 0 {
		return
	}
	fmt.Fprintf(b, "\n%s\n", r.paint(ansiBold, "# not planned: clusters that exist but did not answer"))
	for _, u := range p.Unreachable {
		fmt.Fprintf(b, "  %s %s (via %s) at %s\n", r.paint(ansiRed, "!"), u.Cluster, u.Via, u.Address)
		fmt.Fprintf(b, "      %s %s\n", r.paint(ansiDim, "cause:"), u.Cause)
		fmt.Fprintf(b, "      %s %s\n", r.paint(ansiDim, "fix:"), u.Fix)
	}
}

func (r TextRenderer) warnings(b *bytes.Buffer, p *Plan) {
	if len(p.Warnings)+len(p.Notes)+len(p.FilesRead) == 0 {
		return
	}
	b.WriteString("\n")
	for _, w := range p.Warnings {
		fmt.Fprintf(b, "%s %s\n", r.paint(ansiYellow, "warning:"), w)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(b, "%s %s\n", r.paint(ansiDim, "note:"), n)
	}
	if len(p.FilesRead) > 0 {
		fmt.Fprintf(b, "%s %s\n", r.paint(ansiDim, "files read:"), strings.Join(p.FilesRead, ", "))
	}
}

func (r TextRenderer) change(b *bytes.Buffer, c Change) {
	color := r.actionColor(c.Action)
	header := fmt.Sprintf("  %s %s", r.paint(color, c.Action.Symbol()), c.Address)
	if c.ActionReason != "" {
		header += r.paint(ansiDim, " ("+c.ActionReason+")")
	}
	b.WriteString(header + "\n")
	if c.Reason != "" {
		fmt.Fprintf(b, "      %s %s\n", r.paint(ansiDim, "why:"), c.Reason)
	}
	switch c.Action {
	case Create:
		r.fields(b, c.After, "+", ansiGreen)
	case Delete:
		r.fields(b, c.Before, "-", ansiRed)
	case Update, Replace, Adopt:
		width := 0
		for _, f := range c.Fields {
			width = max(width, len(f.Path))
		}
		for _, f := range c.Fields {
			r.fieldChange(b, f, width)
		}
	}
}

func (r TextRenderer) fields(b *bytes.Buffer, fields map[string]any, mark, color string) {
	keys := make([]string, 0, len(fields))
	width := 0
	for k := range fields {
		keys = append(keys, k)
		width = max(width, len(k))
	}
	sort.Strings(keys)
	for _, k := range keys {
		if fields[k] == nil {
			continue
		}
		fmt.Fprintf(b, "      %s %-*s = %s\n", r.paint(color, mark), width, k, formatValue(fields[k]))
	}
}

func (r TextRenderer) fieldChange(b *bytes.Buffer, f FieldChange, width int) {
	note := ""
	if f.ForcesReplacement {
		note = r.paint(ansiMagenta, " # forces replacement")
	}
	before, bIsList := f.Before.([]any)
	after, aIsList := f.After.([]any)
	if bIsList && aIsList && !f.Sensitive {
		fmt.Fprintf(b, "      %s %s:%s\n", r.paint(ansiYellow, "~"), f.Path, note)
		removed, added := setDiff(before, after)
		for _, v := range removed {
			fmt.Fprintf(b, "          %s %s\n", r.paint(ansiRed, "-"), formatValue(v))
		}
		for _, v := range added {
			fmt.Fprintf(b, "          %s %s\n", r.paint(ansiGreen, "+"), formatValue(v))
		}
		if len(removed) == 0 && len(added) == 0 {
			fmt.Fprintf(b, "          %s → %s\n", formatValue(f.Before), formatValue(f.After))
		}
		return
	}
	switch {
	case f.Before == nil:
		fmt.Fprintf(b, "      %s %-*s = %s%s\n", r.paint(ansiGreen, "+"), width, f.Path, formatValue(f.After), note)
	case f.After == nil:
		fmt.Fprintf(b, "      %s %-*s = %s%s\n", r.paint(ansiRed, "-"), width, f.Path, formatValue(f.Before), note)
	default:
		fmt.Fprintf(b, "      %s %-*s = %s → %s%s\n", r.paint(ansiYellow, "~"), width, f.Path, formatValue(f.Before), formatValue(f.After), note)
	}
}

// setDiff returns the elements only in before and only in after, compared by their JSON form.
func setDiff(before, after []any) (removed, added []any) {
	key := func(v any) string { return fullValue(v) }
	inBefore := map[string]int{}
	for _, v := range before {
		inBefore[key(v)]++
	}
	inAfter := map[string]int{}
	for _, v := range after {
		inAfter[key(v)]++
	}
	for _, v := range before {
		if inAfter[key(v)] == 0 {
			removed = append(removed, v)
		}
	}
	for _, v := range after {
		if inBefore[key(v)] == 0 {
			added = append(added, v)
		}
	}
	return removed, added
}

// maxValue is how much of one value a text plan shows; the JSON plan has it whole.
const maxValue = 200

// formatValue prints a field value compactly: strings quoted, collections as JSON, cut to
// maxValue characters (a rendered ConfigMap is tens of kilobytes).
func formatValue(v any) string {
	s := fullValue(v)
	if len(s) <= maxValue {
		return s
	}
	cut := maxValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes in all; plan -o json shows everything)", s[:cut], len(s))
}

func fullValue(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	return strings.TrimSpace(b.String())
}

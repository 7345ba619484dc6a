package plan

import (
	"fmt"
	"strings"
)

// adoptChange decides what plan --adopt does with a desired resource that exists without the
// federation's mark and differs from the file in fields (the mark itself is one of them where it
// is a field: a description, labels). When no field that differs forces replacement, it is an
// Adopt change: the mark is added and the other fields change in place, in one step. When one
// does, adopting it would mean replacing it, which is never done to what the tool does not own:
// it stays a conflict that names the fields. liveFields and desiredFields are l's and d's fields
// as Diff made them canonical.
func adoptChange(c Change, d, l Resource, liveFields, desiredFields map[string]any, fields []FieldChange, federation string) (Change, *Conflict) {
	if l.OwnedBy != "" && l.OwnedBy != federation {
		return Change{}, &Conflict{Address: d.Address,
			Reason: fmt.Sprintf("carries the ownership mark of federation %q and cannot be adopted: a federation never takes another's resources; destroy it from that federation's file, or remove it from this one", l.OwnedBy)}
	}
	var forcing []string
	for _, f := range fields {
		if f.ForcesReplacement {
			forcing = append(forcing, fmt.Sprintf("%s (%s here, %s in the file)", f.Path, formatValue(f.Before), formatValue(f.After)))
		}
	}
	if len(forcing) > 0 {
		return Change{}, &Conflict{Address: d.Address,
			Reason: fmt.Sprintf("exists without the ownership mark of federation %q and cannot be adopted: %s cannot change in place, and the tool never replaces what it does not own; change the file to match, or rebuild the resource by hand",
				federation, strings.Join(forcing, ", "))}
	}
	c.Action = Adopt
	c.Fields = fields
	c.Before, c.After = redactCanonical(liveFields, d.Sensitive), redactCanonical(desiredFields, d.Sensitive)
	c.ActionReason = fmt.Sprintf("exists without the mark of federation %q; adopted: the mark is added", federation)
	if other := nonMarkFields(fields); len(other) > 0 {
		verb := " change in place"
		if len(other) == 1 {
			verb = " changes in place"
		}
		c.ActionReason += " and " + strings.Join(other, ", ") + verb
	}
	return c, nil
}

// markFields are the fields that carry the ownership mark: a description, labels, or the
// "mark" of a kind whose mark is not one of its fields (where the mark is: a network's adoption
// record).
var markFields = map[string]bool{"description": true, "labels": true, "mark": true}

func nonMarkFields(fields []FieldChange) []string {
	var out []string
	for _, f := range fields {
		if !markFields[f.Path] {
			out = append(out, f.Path)
		}
	}
	return out
}

// Adopted lists the addresses a plan adopts, in plan order.
func (p *Plan) Adopted() []Address {
	var out []Address
	for _, c := range p.Changes {
		if c.Action == Adopt {
			out = append(out, c.Address)
		}
	}
	return out
}

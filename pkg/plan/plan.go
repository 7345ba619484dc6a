package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// FormatVersion is the version of the JSON form of a plan (docs/plan-json.md). The minor number
// grows when fields are added; the major when a field changes meaning or disappears.
const FormatVersion = "1.3"

// Action is what apply will do to a resource.
type Action string

// Actions, in the order a plan lists them.
const (
	NoOp    Action = "no-op"
	Create  Action = "create"
	Update  Action = "update"
	Replace Action = "replace"
	Delete  Action = "delete"
	// Adopt takes a resource that exists without the federation's mark into its ownership: the
	// mark is added and the fields that differ change in place, in one step (see adopt.go).
	Adopt Action = "adopt"
	// Wait is not a change: apply waits for work an earlier, interrupted apply started (an
	// operation still running, a cluster still provisioning) before planning again.
	Wait Action = "wait"
)

// Symbol is the mark renderers print before an address, as terraform plan does.
func (a Action) Symbol() string {
	switch a {
	case Create:
		return "+"
	case Update:
		return "~"
	case Replace:
		return "-/+"
	case Delete:
		return "-"
	case Adopt:
		return "@"
	case Wait:
		return "…"
	}
	return " "
}

// Resource is one desired or live object reduced to the fields the tool manages, normalised so
// that equal meaning gives equal values (sorted sets, server defaults filled in, canonical links).
// Adapters produce Resources; Diff compares them.
type Resource struct {
	Address Address `json:"address"`
	// Kind is a short type name, e.g. firewall, subnetwork, cluster, nodePool, Secret.
	Kind string `json:"kind"`
	// Group is the heading a renderer files the resource under, e.g. "project p" or "cluster c".
	Group string `json:"group"`
	// Fields are the managed fields, as JSON-compatible values.
	Fields map[string]any `json:"fields"`
	// Owned is true when a live resource carries this federation's ownership mark.
	Owned bool `json:"owned,omitempty"`
	// OwnedBy names the other federation whose mark a live resource carries: it is never
	// adopted, whatever --adopt says.
	OwnedBy string `json:"ownedBy,omitempty"`
	// Reason says why a desired resource exists.
	Reason string `json:"reason,omitempty"`
	// DependsOn are resources that must exist before this one (and be deleted after it).
	DependsOn []Address `json:"dependsOn,omitempty"`
	// Immutable are fields that cannot change in place: a change replaces the resource.
	Immutable []string `json:"immutable,omitempty"`
	// Sensitive are fields whose values never appear in output; a hash stands in for them.
	Sensitive []string `json:"sensitive,omitempty"`
	// Protected resources (clusters, networks) are replaced or deleted only when the caller
	// allows destruction.
	Protected bool `json:"protected,omitempty"`
}

// FieldChange is one managed field that differs between live and desired state.
type FieldChange struct {
	Path   string `json:"path"`
	Before any    `json:"before"`
	After  any    `json:"after"`
	// ForcesReplacement is set when the field cannot change in place.
	ForcesReplacement bool `json:"forcesReplacement,omitempty"`
	Sensitive         bool `json:"sensitive,omitempty"`
}

// Change is what apply will do to one resource and why.
type Change struct {
	Address Address `json:"address"`
	Kind    string  `json:"kind"`
	Group   string  `json:"group"`
	Action  Action  `json:"action"`
	// Before is the live managed state (nil for create); After the desired (nil for delete).
	// Sensitive values are already redacted.
	Before map[string]any `json:"before"`
	After  map[string]any `json:"after"`
	// Fields lists what differs, for update and replace.
	Fields []FieldChange `json:"fields,omitempty"`
	// Reason says why the resource exists (from the derivation).
	Reason string `json:"reason,omitempty"`
	// ActionReason explains the action: why replace rather than update, why delete.
	ActionReason string    `json:"actionReason,omitempty"`
	DependsOn    []Address `json:"dependsOn,omitempty"`
	Protected    bool      `json:"protected,omitempty"`
}

// Conflict is a live resource the federation wants but does not own: the tool leaves it alone.
type Conflict struct {
	Address Address `json:"address"`
	Reason  string  `json:"reason"`
}

// Summary counts changes by action.
type Summary struct {
	Add     int `json:"add"`
	Change  int `json:"change"`
	Replace int `json:"replace"`
	Destroy int `json:"destroy"`
	// Adopt counts resources taken into the federation's ownership (plan --adopt).
	Adopt int `json:"adopt,omitempty"`
}

// Plan is the full set of changes, in dependency order, with what it was made from.
type Plan struct {
	FormatVersion string `json:"formatVersion"`
	Federation    string `json:"federation"`
	// Adopt is set on a plan made with --adopt: resources that exist without the mark and are
	// compatible with the file are adopted, not conflicts. A saved plan carries it to apply.
	Adopt     bool       `json:"adopt,omitempty"`
	Changes   []Change   `json:"changes"`
	Conflicts []Conflict `json:"conflicts"`
	Warnings  []string   `json:"warnings"`
	// Notes report live state worth knowing that is not a change, e.g. the managed control
	// plane's provisioning state per cluster.
	Notes []string `json:"notes,omitempty"`
	// FilesRead are the files the federation refers to that making the plan read (overlays, the
	// plug-in CA root, the ingress credential, add-on tokens), as paths from the working
	// directory; the federation file itself is not listed. Their contents never appear.
	FilesRead []string `json:"filesRead,omitempty"`
	// Unreachable are the clusters that exist but did not answer the way the file says to reach
	// them: their side is missing from the plan.
	Unreachable []Unreachable `json:"unreachable,omitempty"`
	// Preflight is what stands in the way of applying the plan's Google Cloud changes, checked
	// against the live project; absent when the plan has none.
	Preflight *Preflight `json:"preflight,omitempty"`
	Summary   Summary    `json:"summary"`
	// Live fingerprints the live state the plan was made from, per resource, so that a saved
	// plan can be refused when it went stale, naming what moved.
	Live Fingerprint `json:"liveFingerprint"`
}

// Unreachable is a cluster the plan could not cover: the address tried, why it did not answer,
// and what would fix it.
type Unreachable struct {
	Cluster string `json:"cluster"`
	// Via is how the file says to reach it: connectGateway, privateEndpoint, publicEndpoint or
	// kubeconfig.
	Via     string `json:"via"`
	Address string `json:"address"`
	Cause   string `json:"cause"`
	Fix     string `json:"fix"`
}

// HasChanges reports whether apply would do anything.
func (p *Plan) HasChanges() bool {
	s := p.Summary
	return s.Add+s.Change+s.Replace+s.Destroy+s.Adopt > 0
}

// DiffOptions tune Diff.
type DiffOptions struct {
	// Federation names the plan.
	Federation string
	// Adopt turns a desired resource that exists without the mark into an Adopt change when no
	// field that forces replacement differs (see adoptChange).
	Adopt bool
}

// Diff compares desired resources with live ones and returns the plan. It is pure: no I/O and no
// formatting. Live resources not desired are deleted only when owned; desired resources that
// exist unowned become conflicts, never changes.
func Diff(desired, live []Resource, opts DiffOptions) (*Plan, error) {
	liveBy := map[Address]Resource{}
	// Each resource's fields are made canonical once, for the comparison, the plan's before and
	// after, and the fingerprint: a cluster's fields hold lists of hundreds of entries.
	liveFields := make(map[Address]map[string]any, len(live))
	for _, r := range live {
		if _, dup := liveBy[r.Address]; dup {
			return nil, fmt.Errorf("live state lists %s twice", r.Address)
		}
		liveBy[r.Address] = r
		liveFields[r.Address] = canonicalFields(r.Fields)
	}
	p := &Plan{FormatVersion: FormatVersion, Federation: opts.Federation, Adopt: opts.Adopt, Changes: []Change{}, Conflicts: []Conflict{}, Warnings: []string{}}
	seen := map[Address]bool{}
	for _, d := range desired {
		if seen[d.Address] {
			return nil, fmt.Errorf("desired state lists %s twice", d.Address)
		}
		seen[d.Address] = true
		l, exists := liveBy[d.Address]
		c := Change{Address: d.Address, Kind: d.Kind, Group: d.Group, Reason: d.Reason, DependsOn: d.DependsOn, Protected: d.Protected}
		desiredFields := canonicalFields(d.Fields)
		switch {
		case !exists:
			c.Action = Create
			c.After = redactCanonical(desiredFields, d.Sensitive)
		default:
			fields := diffCanonical(liveFields[d.Address], desiredFields, d.Immutable, d.Sensitive)
			if len(fields) == 0 {
				c.Action = NoOp
				c.After = redactCanonical(desiredFields, d.Sensitive)
				c.Before = c.After
				if !sameKeys(liveFields[d.Address], desiredFields) {
					c.Before = redactCanonical(liveFields[d.Address], d.Sensitive)
				}
				break
			}
			if !l.Owned && opts.Adopt {
				change, conflict := adoptChange(c, d, l, liveFields[d.Address], desiredFields, fields, opts.Federation)
				if conflict != nil {
					p.Conflicts = append(p.Conflicts, *conflict)
					continue
				}
				p.Changes = append(p.Changes, change)
				continue
			}
			if !l.Owned {
				p.Conflicts = append(p.Conflicts, Conflict{Address: d.Address,
					Reason: fmt.Sprintf("exists without the ownership mark of federation %q and differs in %s; the tool does not change what it does not own", opts.Federation, fieldNames(fields))})
				continue
			}
			c.Action = Update
			c.Fields = fields
			c.Before, c.After = redactCanonical(liveFields[d.Address], d.Sensitive), redactCanonical(desiredFields, d.Sensitive)
			var forcing []string
			for _, f := range fields {
				if f.ForcesReplacement {
					forcing = append(forcing, f.Path)
				}
			}
			if len(forcing) > 0 {
				c.Action = Replace
				c.ActionReason = fmt.Sprintf("%s cannot change in place", strings.Join(forcing, ", "))
			}
		}
		p.Changes = append(p.Changes, c)
	}
	for _, l := range live {
		if seen[l.Address] || !l.Owned {
			continue
		}
		p.Changes = append(p.Changes, Change{Address: l.Address, Kind: l.Kind, Group: l.Group, Action: Delete,
			Before: redactCanonical(liveFields[l.Address], l.Sensitive), ActionReason: "owned by the federation and no longer in it",
			DependsOn: l.DependsOn, Protected: l.Protected})
	}
	p.Changes = order(p.Changes)
	p.Recount()
	p.Live = fingerprintCanonical(live, liveFields)
	return p, nil
}

// Recount sets the summary from the changes, for a layer that turned a change's action after
// Diff (a cluster in ERROR is replaced, not left as it is).
func (p *Plan) Recount() {
	p.Summary = Summary{}
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			p.Summary.Add++
		case Update:
			p.Summary.Change++
		case Replace:
			p.Summary.Replace++
		case Delete:
			p.Summary.Destroy++
		case Adopt:
			p.Summary.Adopt++
		}
	}
}

// sameKeys reports whether live and desired fields have the same names. A change found no
// difference in has equal values under them, so its before is its after: one map stands for
// both, which halves what a plan of a large converged federation holds.
func sameKeys(live, desired map[string]any) bool {
	if len(live) != len(desired) {
		return false
	}
	for k := range desired {
		if _, ok := live[k]; !ok {
			return false
		}
	}
	return true
}

func fieldNames(fields []FieldChange) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Path
	}
	return strings.Join(names, ", ")
}

// diffFields compares the fields desired manages. A field desired leaves out is not managed and
// never differs; a field live lacks is compared against nil.
func diffFields(live, desired map[string]any, immutable, sensitive []string) []FieldChange {
	return diffCanonical(canonicalFields(live), canonicalFields(desired), immutable, sensitive)
}

// diffCanonical is diffFields of fields made canonical already (canonicalFields).
func diffCanonical(live, desired map[string]any, immutable, sensitive []string) []FieldChange {
	keys := make([]string, 0, len(desired))
	for k := range desired {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []FieldChange
	for _, k := range keys {
		before, after := live[k], desired[k]
		if equalCanonical(before, after) {
			continue
		}
		fc := FieldChange{Path: k, Before: before, After: after, ForcesReplacement: contains(immutable, k)}
		if contains(sensitive, k) {
			fc.Sensitive = true
			fc.Before, fc.After = redactValue(before), redactValue(after)
		}
		out = append(out, fc)
	}
	return out
}

// canonical turns any JSON-compatible value into the types encoding/json produces, so that an
// int32 from a proto and a float64 from a saved plan compare equal. A value that holds only those
// types already is returned as it is, not copied: a plan's changes share it with the resources
// they were made from, which nothing changes after Diff.
func canonical(v any) any {
	if isCanonical(v) {
		return v
	}
	switch x := v.(type) {
	case nil:
		return nil
	case string, bool, float64:
		return x
	case int:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonical(e)
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, s := range x {
			out[k] = s
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canonical(e)
		}
		return out
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return string(data)
	}
	return out
}

// isCanonical reports whether v holds only the types encoding/json decodes into. A nil slice or
// map is not: canonical makes it empty, which JSON writes as [] or {} rather than null.
func isCanonical(v any) bool {
	switch x := v.(type) {
	case nil, string, bool, float64:
		return true
	case []any:
		if x == nil {
			return false
		}
		for _, e := range x {
			if !isCanonical(e) {
				return false
			}
		}
		return true
	case map[string]any:
		if x == nil {
			return false
		}
		for _, e := range x {
			if !isCanonical(e) {
				return false
			}
		}
		return true
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// redactedDigits is how many hex digits of a sensitive value's SHA-256 a plan shows.
const redactedDigits = 12

// redactValue is what output shows in place of a sensitive value: never the value, only
// "(sensitive sha256:" and the first redactedDigits hex digits of its hash, so users can still
// see that it changed.
func redactValue(v any) any {
	if v == nil {
		return nil
	}
	return "(sensitive sha256:" + hexDigest(v)[:redactedDigits] + ")"
}

func redact(fields map[string]any, sensitive []string) map[string]any {
	return redactCanonical(canonicalFields(fields), sensitive)
}

// equalCanonical is reflect.DeepEqual of canonical values, which hold only the types
// encoding/json decodes to, compared without reflection.
func equalCanonical(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for i := range x {
			if !equalCanonical(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equalCanonical(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// canonicalFields is canonical of every field; nil stays nil.
func canonicalFields(fields map[string]any) map[string]any {
	if fields == nil {
		return nil
	}
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		out[k] = canonical(v)
	}
	return out
}

// redactCanonical is redact of fields made canonical already: a new map whose sensitive fields
// are redacted, sharing the other values with fields.
func redactCanonical(fields map[string]any, sensitive []string) map[string]any {
	if fields == nil {
		return nil
	}
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		if contains(sensitive, k) {
			out[k] = redactValue(v)
		} else {
			out[k] = v
		}
	}
	return out
}

// hashOf is the SHA-256 of v's canonical JSON, as "sha256:" and 64 hex digits.
func hashOf(v any) string {
	return "sha256:" + hexDigest(v)
}

// hexDigest is the SHA-256 of v's canonical JSON in hex, without a prefix.
func hexDigest(v any) string {
	data, err := json.Marshal(canonical(v))
	if err != nil {
		data = []byte(fmt.Sprintf("%v", v))
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// layerRank orders layers the way a federation is built: Google Cloud, then GKE, then
// Kubernetes objects.
var layerRank = map[string]int{"gcp": 0, "gke": 1, "k8s": 2}

// order sorts changes by group and address so output is stable and reads by project and cluster,
// groups of lower layers first. Dependencies are the executor's business: it walks DependsOn,
// not this order.
func order(changes []Change) []Change {
	rank := map[string]int{}
	for _, c := range changes {
		r, ok := layerRank[c.Address.Layer()]
		if !ok {
			r = len(layerRank)
		}
		if cur, seen := rank[c.Group]; !seen || r < cur {
			rank[c.Group] = r
		}
	}
	sort.SliceStable(changes, func(i, j int) bool {
		a, b := changes[i], changes[j]
		if rank[a.Group] != rank[b.Group] {
			return rank[a.Group] < rank[b.Group]
		}
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		return a.Address < b.Address
	})
	return changes
}

// Merge combines plans of separate layers (Google Cloud, then the clusters) into one: changes,
// conflicts and warnings in order, summed counts, and one live fingerprint over everything.
// Addresses of different layers never collide.
func Merge(federation string, plans ...*Plan) *Plan {
	out := &Plan{FormatVersion: FormatVersion, Federation: federation, Changes: []Change{}, Conflicts: []Conflict{}, Warnings: []string{},
		Live: Fingerprint{Resources: map[Address]string{}}}
	for _, p := range plans {
		if p == nil {
			continue
		}
		out.Changes = append(out.Changes, p.Changes...)
		out.Conflicts = append(out.Conflicts, p.Conflicts...)
		out.Warnings = append(out.Warnings, p.Warnings...)
		out.Notes = append(out.Notes, p.Notes...)
		out.Summary.Add += p.Summary.Add
		out.Summary.Change += p.Summary.Change
		out.Summary.Replace += p.Summary.Replace
		out.Summary.Destroy += p.Summary.Destroy
		out.Summary.Adopt += p.Summary.Adopt
		out.Adopt = out.Adopt || p.Adopt
		for a, h := range p.Live.Resources {
			out.Live.Resources[a] = h
		}
	}
	out.Live.Digest = digestOf(out.Live.Resources)
	return out
}

// Changed reports whether the change touches a field.
func (c Change) Changed(field string) bool {
	for _, f := range c.Fields {
		if f.Path == field {
			return true
		}
	}
	return false
}

// ConflictError refuses a plan with resources that exist without the federation's ownership mark.
type ConflictError struct {
	Federation string
	Conflicts  []Conflict
}

func (e *ConflictError) Error() string {
	names := make([]string, len(e.Conflicts))
	for i, c := range e.Conflicts {
		names[i] = string(c.Address)
	}
	return fmt.Sprintf("the plan has resources that exist without the ownership mark of federation %q (%s); nothing was changed: rename them in the file, or delete them if they are leftovers",
		e.Federation, strings.Join(names, ", "))
}

// DestroyRefusedError lists protected resources (networks, clusters, namespaces) a plan would
// replace or delete.
type DestroyRefusedError struct {
	Addresses []Address
}

func (e *DestroyRefusedError) Error() string {
	names := make([]string, len(e.Addresses))
	for i, a := range e.Addresses {
		names[i] = string(a)
	}
	return fmt.Sprintf("the plan replaces or deletes %s, with everything running on or in them; nothing was changed (pass --allow-destroy if that is intended)", strings.Join(names, ", "))
}

// CheckApplicable refuses, before anything changes, a plan with conflicts (a *ConflictError) or
// one that replaces or deletes protected resources when destruction is not allowed (a
// *DestroyRefusedError). Both layers use it, so the refusal and its advice are one.
func (p *Plan) CheckApplicable(allowDestroy bool) error {
	if len(p.Conflicts) > 0 {
		return &ConflictError{Federation: p.Federation, Conflicts: p.Conflicts}
	}
	if allowDestroy {
		return nil
	}
	var refused []Address
	for _, c := range p.Changes {
		if c.Protected && (c.Action == Replace || c.Action == Delete) {
			refused = append(refused, c.Address)
		}
	}
	if len(refused) == 0 {
		return nil
	}
	sort.Slice(refused, func(i, j int) bool { return refused[i] < refused[j] })
	return &DestroyRefusedError{Addresses: refused}
}

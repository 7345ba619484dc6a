// Package engine connects the layers: it compiles a federation into the resources it wants,
// reads the live state they concern through pkg/gcp in a few wide calls, diffs the two with
// pkg/plan, and carries a plan out with pkg/plan's executor, one idempotent change per step. It
// is the library the CLI drives (and a controller could): driven by a context and options, with
// no globals, no prompts and no printing.
package engine

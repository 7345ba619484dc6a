// Package gcplayer is the Google Cloud layer of the engine: the model's Google Cloud resources as
// API objects (desired.go), the live state read in a few wide parallel calls through pkg/gcp
// (live.go), the fields each kind is compared by (fields.go), and one idempotent step per change
// (apply.go). A new kind of Google Cloud resource is added in those four files.
package gcplayer

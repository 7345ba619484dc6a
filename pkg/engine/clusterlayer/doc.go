// Package clusterlayer is the cluster side of the engine: the model's Kubernetes objects,
// normalised one way (desired.go), the live objects read per cluster in parallel with the values
// only known live filled in (live.go), the fields objects are compared by (fields.go), and
// server-side apply with readiness waits and pruning by inventory (apply.go). A new kind of
// object is one entry in fields.go's kinds; a new object is added to the model, not here.
package clusterlayer

// Package engine owns the flow of a whole federation: it plans the Google Cloud layer
// (pkg/engine/gcplayer) and, once the clusters exist, the cluster side (pkg/engine/clusterlayer)
// from one compiled model (pkg/federation), renders an in-cluster control plane once and carries
// it in the plan, decides which clusters are reachable, and applies the layers in order with
// progress per phase. It is the library the CLI drives (and a controller could): driven by a
// context and options, with no globals, no prompts and no printing.
package engine

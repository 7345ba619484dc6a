// Package gcpfake is a local simulator of the Google Cloud APIs that
// kubectl-asmfed talks to: Compute Engine networking, Shared VPC and
// instances (the bastion), GKE, Service Usage, Resource Manager, IAM
// service accounts and GKE Hub.
//
// It implements the official *pb server interfaces and serves them over
// gRPC and over REST on one port; REST routes come from the protos'
// google.api.http annotations at run time, bodies are protojson and
// errors use Google's JSON envelope. Long-running operations complete
// lazily on a controllable Clock, and a latency model, fault injection,
// per-method counters and a request log make it usable for fidelity tests
// (gcloud drives it unchanged) and for benchmarks.
//
// As on Google Cloud, a call that starts a long-running operation only
// starts it: the operation's effects never depend on the request's context,
// so a client that disconnects does not cut it short. Work outside the
// simulator's state (a ClusterBackend starting or stopping a cluster's
// control plane) runs on the Server's own context, which Close cancels.
//
// Only tests and the asmfed-sandbox command may import it; the shipped
// plugin reaches it solely through ASMFED_GCP_ENDPOINT.
package gcpfake

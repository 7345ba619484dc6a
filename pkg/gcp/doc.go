// Package gcp is a set of narrow interfaces over the official Google Cloud Go clients (compute,
// container, serviceusage, resourcemanager, gkehub, IAM): batched live reads, create, update and
// delete, long-running-operation waits and retries. It knows nothing about plans.
package gcp

// Package lock keeps two writers of one federation apart: a record naming the holder (who, on
// which host, since when), written where every writer looks before it changes anything, with an
// optimistic-concurrency precondition so that two writers never both believe they won. The record
// has a TTL and is renewed while its holder works; an expired record may be taken over, a live one
// only when the caller says to force it. Where a record lives is a Store: the Google Cloud layer
// keeps one in the fleet project, the cluster layer one per cluster. The package does no printing
// and reads no environment: the caller names the holder and is told of waits through callbacks.
package lock

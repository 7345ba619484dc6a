//go:build !unix

package lock

// localHolderGone cannot tell on this platform: a lock waits for its TTL.
func localHolderGone(Holder) bool { return false }

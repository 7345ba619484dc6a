package v1alpha1

// Revisions of the managed control plane's channels. Cloud Service Mesh puts a cluster on the
// channel of its GKE release channel when it provisions the managed control plane (no channel:
// regular); the revision selects that channel's injection and names its mesh ConfigMap,
// istio-<revision> in istio-system.
const (
	ManagedRevisionRapid   = "asm-managed-rapid"
	ManagedRevisionRegular = "asm-managed"
	ManagedRevisionStable  = "asm-managed-stable"
)

// ManagedRevision is the revision of the managed channel a cluster on releaseChannel gets, and
// false for a release channel without a known managed channel (EXTENDED).
func ManagedRevision(releaseChannel string) (string, bool) {
	switch releaseChannel {
	case "RAPID":
		return ManagedRevisionRapid, true
	case "REGULAR", "UNSPECIFIED", "":
		return ManagedRevisionRegular, true
	case "STABLE":
		return ManagedRevisionStable, true
	}
	return "", false
}

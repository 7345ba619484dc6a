package federation

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// MaxNameLength is the longest name Compute Engine accepts (RFC 1035 label).
const MaxNameLength = 63

var gceNamePattern = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// ValidName reports whether s is a valid Compute Engine resource name. The compiler checks every
// name it makes, so a bad input fails at plan time rather than half way through apply.
func ValidName(s string) bool {
	return len(s) <= MaxNameLength && gceNamePattern.MatchString(s)
}

// ResourceName is asmfed-, the federation name, the separator "--" and parts joined with dashes,
// e.g. asmfed-prod--webhooks. A federation name never contains "--" (validation refuses it), so
// the first "--" ends the federation name and no two federations can generate the same name:
// asmfed-prod--eu-webhooks is prod's, asmfed-prod-eu--webhooks is prod-eu's. When the result is
// longer than 63 characters it is cut and ends with a dash and 8 hex digits of the SHA-256 of the
// full name, so that it stays unique, stable across runs and recognisable by its prefix.
func ResourceName(federation string, parts ...string) string {
	return shorten(namePrefix + federation + nameSeparator + strings.Join(parts, "-"))
}

// nameSeparator ends the federation name inside generated names; it cannot occur in a federation
// name.
const nameSeparator = "--"

// LegacyResourceName is the name ResourceName gave before the separator, when asmfed-prod-eu-webhooks
// could be prod's or prod-eu's. Resources under such names are recognised by their ownership
// mark and renamed through the plan (created under the new name, the old one deleted).
func LegacyResourceName(federation string, parts ...string) string {
	return shorten(namePrefix + strings.Join(append([]string{federation}, parts...), "-"))
}

func shorten(full string) string {
	if len(full) <= MaxNameLength {
		return full
	}
	sum := sha256.Sum256([]byte(full))
	suffix := "-" + hex.EncodeToString(sum[:])[:8]
	head := strings.TrimRight(full[:MaxNameLength-len(suffix)], "-")
	return head + suffix
}

// firewallName is the name of one of the federation's firewall rules, e.g. asmfed-prod-webhooks.
// The kinds are "webhooks", "admin" and "mesh-from-<cluster>".
func firewallName(federation, kind string) string { return ResourceName(federation, kind) }

// routerName is the Cloud Router of a region, asmfed-<fed>-router-<region>.
func routerName(federation, region string) string {
	return ResourceName(federation, "router", region)
}

// natName is the Cloud NAT inside the router of a region, asmfed-<fed>-nat-<region>.
func natName(federation, region string) string { return ResourceName(federation, "nat", region) }

// remoteSecretName is the name of the Secret a cluster holds for target, as istioctl names it.
func remoteSecretName(target string) string { return remoteSecretPrefix + target }

// placeholderFor stands for the number of project until it is read at plan time. It cannot be a valid
// number or label value, so it can never be applied by mistake.
func placeholderFor(project string) string {
	return fmt.Sprintf("<number of %s, read at plan time>", project)
}

// EndpointMarker stands for the private endpoint of cluster in a remote secret until it is read
// at plan time.
func EndpointMarker(cluster string) string {
	return fmt.Sprintf("<private endpoint of %s>", cluster)
}

// markPrefix starts every description ownership mark, before the federation name.
var markPrefix = LabelManagedBy + "=" + ManagedByValue + " federation="

// ParseDescriptionMarker reads the ownership mark at the start of a description: exactly
// DescriptionMarker(name), then the end or ": " and a reason. It returns the federation named,
// and false when the description carries no well-formed mark, so that "federation=prod-eu" is
// never mistaken for federation prod's mark.
func ParseDescriptionMarker(description string) (string, bool) {
	rest, ok := strings.CutPrefix(description, markPrefix)
	if !ok {
		return "", false
	}
	name, reason, hasReason := strings.Cut(rest, ":")
	if hasReason && !strings.HasPrefix(reason, " ") {
		return "", false
	}
	if !ValidFederationName(name) {
		return "", false
	}
	return name, true
}

// OwnsDescription reports whether a description carries federation's mark, exactly.
func OwnsDescription(description, federation string) bool {
	name, ok := ParseDescriptionMarker(description)
	return ok && name == federation
}

// ValidFederationName reports whether name can name a federation: a valid Compute Engine name
// without the separator of generated names.
func ValidFederationName(name string) bool {
	return len(name) <= maxFederationName && gceNamePattern.MatchString(name) && !strings.Contains(name, nameSeparator)
}

// maxFederationName keeps room in generated names for what follows the federation's name.
const maxFederationName = 40

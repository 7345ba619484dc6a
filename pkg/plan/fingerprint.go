package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Fingerprint identifies live state: a digest of everything, and a hash per resource so that a
// stale plan can name what changed.
type Fingerprint struct {
	Digest    string             `json:"digest"`
	Resources map[Address]string `json:"resources"`
}

// fingerprintOf hashes live resources: their managed fields and ownership. Sensitive fields are
// hashed like the rest, which reveals nothing of them.
func fingerprintOf(live []Resource) Fingerprint {
	f := Fingerprint{Resources: make(map[Address]string, len(live))}
	for _, r := range live {
		f.Resources[r.Address] = hashOf(map[string]any{"fields": r.Fields, "owned": r.Owned})
	}
	f.Digest = digestOf(f.Resources)
	return f
}

// fingerprintCanonical is fingerprintOf live with each resource's fields made canonical already
// (canonicalFields), by address: the same hashes without normalising the fields again.
func fingerprintCanonical(live []Resource, fields map[Address]map[string]any) Fingerprint {
	f := Fingerprint{Resources: make(map[Address]string, len(live))}
	for _, r := range live {
		rf := fields[r.Address]
		if rf == nil {
			rf = map[string]any{} // as canonical makes a nil map
		}
		// Canonical already, so hashOf marshals it as it is.
		f.Resources[r.Address] = hashOf(map[string]any{"fields": rf, "owned": r.Owned})
	}
	f.Digest = digestOf(f.Resources)
	return f
}

// digestOf hashes per-resource hashes in address order.
func digestOf(resources map[Address]string) string {
	addrs := make([]string, 0, len(resources))
	for a := range resources {
		addrs = append(addrs, string(a))
	}
	sort.Strings(addrs)
	h := sha256.New()
	for _, a := range addrs {
		fmt.Fprintf(h, "%s=%s\n", a, resources[Address(a)])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Differences lists, in address order, how now differs from f.
func (f Fingerprint) Differences(now Fingerprint) []string {
	var out []string
	for a, h := range f.Resources {
		switch nh, ok := now.Resources[a]; {
		case !ok:
			out = append(out, fmt.Sprintf("%s was deleted", a))
		case nh != h:
			out = append(out, fmt.Sprintf("%s changed", a))
		}
	}
	for a := range now.Resources {
		if _, ok := f.Resources[a]; !ok {
			out = append(out, fmt.Sprintf("%s was created", a))
		}
	}
	sort.Strings(out)
	return out
}

// Saved is a plan written by `plan --out`, with the federation file it was made from.
type Saved struct {
	*Plan
	// Source identifies the federation file by a digest of its bytes.
	Source Source `json:"source"`
}

// Source identifies the input of a plan.
type Source struct {
	File   string `json:"file"`
	Digest string `json:"digest"`
}

// SourceOf fingerprints the bytes of a federation file.
func SourceOf(file string, data []byte) Source {
	sum := sha256.Sum256(data)
	return Source{File: file, Digest: "sha256:" + hex.EncodeToString(sum[:])}
}

// Write saves a plan as indented JSON.
func (s *Saved) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(s)
}

// ReadSaved loads a saved plan and checks its format version.
func ReadSaved(r io.Reader) (*Saved, error) {
	var s Saved
	dec := json.NewDecoder(r)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("read saved plan: %w", err)
	}
	if s.Plan == nil || s.FormatVersion == "" {
		return nil, errors.New("read saved plan: not a plan file (no formatVersion)")
	}
	major, _, _ := strings.Cut(s.FormatVersion, ".")
	want, _, _ := strings.Cut(FormatVersion, ".")
	if major != want {
		return nil, fmt.Errorf("read saved plan: format version %s is not supported (this tool writes %s): make the plan again", s.FormatVersion, FormatVersion)
	}
	return &s, nil
}

// StaleError refuses a saved plan whose inputs moved, and says which.
type StaleError struct {
	Reasons []string
}

func (e *StaleError) Error() string {
	const shown = 10
	var b strings.Builder
	b.WriteString("the saved plan is stale, make it again with plan --out; since it was made:")
	for i, r := range e.Reasons {
		if i == shown {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Reasons)-shown)
			break
		}
		b.WriteString("\n  - " + r)
	}
	return b.String()
}

// CheckFresh compares a saved plan with what is true now: the federation file and the live state
// it was made from. It returns a *StaleError naming every difference.
func (s *Saved) CheckFresh(src Source, live Fingerprint) error {
	var reasons []string
	if s.Source.Digest != src.Digest {
		reasons = append(reasons, fmt.Sprintf("federation file %s changed", src.File))
	}
	if s.Live.Digest != live.Digest {
		reasons = append(reasons, s.Live.Differences(live)...)
	}
	if len(reasons) == 0 {
		return nil
	}
	return &StaleError{Reasons: reasons}
}

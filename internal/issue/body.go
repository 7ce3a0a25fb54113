package issue

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/review"
)

// Marker is the hidden state jitkey keeps in each review issue's body.
type Marker struct {
	Fingerprint string
	Evidence    string
	Kind        string
	Target      string // coverage target of the credential: "owner/name" or "org:NAME"
	Reminders   int
}

var markerRE = regexp.MustCompile(`<!-- jitkey:fingerprint=([0-9a-f]+) evidence=([0-9a-f]+)((?: [a-z]+=[^ ]*)*) -->`)

// ParseMarker reads the marker of an issue body; ok is false without one.
func ParseMarker(body string) (m Marker, ok bool) {
	sm := markerRE.FindStringSubmatch(body)
	if sm == nil {
		return Marker{}, false
	}
	m = Marker{Fingerprint: sm[1], Evidence: sm[2]}
	for _, kv := range strings.Fields(sm[3]) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "kind":
			m.Kind = v
		case "target":
			m.Target = v
		case "reminders":
			m.Reminders, _ = strconv.Atoi(v)
		}
	}
	return m, true
}

func (m Marker) String() string {
	return fmt.Sprintf("<!-- jitkey:fingerprint=%s evidence=%s kind=%s target=%s reminders=%d -->", m.Fingerprint, m.Evidence, m.Kind, m.Target, m.Reminders)
}

// MarkerOf is the marker of a finding's issue.
func MarkerOf(f review.Finding, reminders int) Marker {
	return Marker{Fingerprint: f.Fingerprint, Evidence: f.EvidenceHash, Kind: string(f.Kind), Target: inventory.Target(f.Credential), Reminders: reminders}
}

// code renders untrusted text (credential names, logins) as inline code, so it
// cannot inject Markdown, HTML or mentions (review.Code).
func code(s string) string { return review.Code(s) }

// Body renders a finding's issue body. It depends only on the finding (and
// the owners: the policy's, or CODEOWNERS entries, mentioned when they are
// logins or teams), so an unchanged finding renders the same body.
func Body(f review.Finding, owners []string, reminders int) string {
	var b strings.Builder
	b.WriteString(MarkerOf(f, reminders).String() + "\n")
	fmt.Fprintf(&b, "**What:** %s %s in %s: %s\n\n", review.KindName(f.Kind), code(f.Credential.Name), code(review.Where(f.Credential)), f.Summary)
	b.WriteString("### Evidence\n\n| | |\n|---|---|\n")
	for _, e := range f.Evidence {
		fmt.Fprintf(&b, "| %s | %s |\n", e.Name, review.Cell(e.Value))
	}
	adv := review.AdviceFor(f)
	fmt.Fprintf(&b, "\n### Why it matters\n\n%s\n\n### How to fix it\n\n", adv.Why)
	for i, s := range adv.Fix {
		fmt.Fprintf(&b, "%d. %s\n", i+1, s)
	}
	fmt.Fprintf(&b, "\n### How to exempt it\n\nAdd this to the review policy in a pull request (the exemption is reviewed like any change, and expires):\n\n```cue\n%s\n```\n", adv.Exemption)
	fmt.Fprintf(&b, "\n### Review policy applied\n\n```cue\n%s\n```\n", f.Policy)
	if m := mentions(owners); len(m) > 0 {
		fmt.Fprintf(&b, "\nOwners: %s\n", strings.Join(m, " "))
	}
	fmt.Fprintf(&b, "\n<sub>Kept in step by `jitkey review`: updated when the evidence changes, closed when the finding is gone. Fingerprint %s.</sub>\n", code(f.Fingerprint))
	return b.String()
}

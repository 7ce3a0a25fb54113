// Package secretscan finds credentials in text, so that tests can assert that
// no output, log, summary or error carries a token, a private key or a JWT.
//
// A Scanner looks for two things: exact values the test knows (the token it
// minted, the App's private key) and the shapes every credential of interest
// has, known or not: GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_),
// PEM private keys and JSON Web Tokens. Findings never hold the secret itself,
// only its kind, position and a redacted hint, so a failing test cannot leak
// what it caught.
package secretscan

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Kind names what a finding looks like.
type Kind string

// The kinds of secret a Scanner reports.
const (
	KindKnown      Kind = "known value"
	KindGitHub     Kind = "github token"
	KindGitHubPAT  Kind = "github fine-grained pat"
	KindPrivateKey Kind = "pem private key"
	KindJWT        Kind = "jwt"
)

// Finding is one secret found in a text. It never holds the secret.
type Finding struct {
	Kind   Kind
	Offset int    // byte offset of the match in the scanned text
	Length int    // length of the match in bytes
	Hint   string // a redacted hint: the first few characters and the length
}

// String describes the finding without the secret.
func (f Finding) String() string {
	return fmt.Sprintf("%s at byte %d (%s)", f.Kind, f.Offset, f.Hint)
}

// minFragment is the shortest line of a multi-line known value (a PEM body
// line, say) that is looked for on its own: shorter lines are too common.
const minFragment = 16

var patterns = []struct {
	kind Kind
	re   *regexp.Regexp
}{
	// GitHub tokens: a three-letter prefix and 36 base62 characters (older
	// ones are 40 hex), or, for installation tokens since 2026-04-27, the
	// stateless ghs_APPID_JWT of about 520 characters with dots and
	// base64url's "-" and "_". Not anchored on word boundaries: a token glued
	// to other text ("x_ghs_...", "ghs_..._suffix") is still a leak. Requiring
	// 30 characters keeps "ghs_" in prose from matching.
	{KindGitHub, regexp.MustCompile(`gh[pousr]_[A-Za-z0-9][A-Za-z0-9_.-]{29,1000}`)},
	{KindGitHubPAT, regexp.MustCompile(`github_pat_[A-Za-z0-9_]{22,255}`)},
	// Any PEM private key header (RSA, EC, OPENSSH, PKCS#8, encrypted).
	{KindPrivateKey, regexp.MustCompile(`-----BEGIN[A-Z ]{0,40} PRIVATE KEY-----`)},
	// header.payload.signature where header and payload are base64url JSON
	// objects ("eyJ" is `{"`); the signature may be empty (alg none).
	{KindJWT, regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`)},
}

// Scanner finds secrets in text. The zero value looks for patterns only.
type Scanner struct {
	known []string
}

// New returns a Scanner that also looks for the exact values given. Empty
// values are ignored. A multi-line value is also looked for line by line
// (lines of 16 bytes or more) and in its JSON-escaped form, so a PEM key
// printed in part or inside a JSON document is still caught.
func New(known ...string) *Scanner {
	s := &Scanner{}
	seen := map[string]bool{}
	add := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			s.known = append(s.known, v)
		}
	}
	for _, v := range known {
		add(v)
		if !strings.ContainsAny(v, "\r\n") {
			continue
		}
		if b, err := json.Marshal(v); err == nil {
			add(strings.Trim(string(b), `"`))
		}
		for _, line := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
			if line = strings.TrimSpace(line); len(line) >= minFragment {
				add(line)
			}
		}
	}
	return s
}

// Scan returns every secret in text, ordered by offset. Overlapping matches
// of different kinds are all reported.
func (s *Scanner) Scan(text string) []Finding {
	var out []Finding
	if s != nil {
		for _, v := range s.known {
			for off := 0; ; {
				i := strings.Index(text[off:], v)
				if i < 0 {
					break
				}
				out = append(out, finding(KindKnown, text, off+i, len(v)))
				off += i + len(v)
			}
		}
	}
	for _, p := range patterns {
		for _, loc := range p.re.FindAllStringIndex(text, -1) {
			out = append(out, finding(p.kind, text, loc[0], loc[1]-loc[0]))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Offset < out[j].Offset })
	return out
}

func finding(k Kind, text string, off, n int) Finding {
	return Finding{Kind: k, Offset: off, Length: n, Hint: redact(text[off : off+n])}
}

// redact keeps at most the first four characters, which for the patterns
// above is the public prefix ("ghs_", "eyJh", "----"), and the length.
func redact(v string) string {
	keep := min(4, len(v)/4)
	return fmt.Sprintf("%q... %d bytes", v[:keep], len(v))
}

// Scan looks for the known values and every pattern in text.
func Scan(text string, known ...string) []Finding {
	return New(known...).Scan(text)
}

// TB is the part of testing.TB that AssertClean needs.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// AssertClean reports a test error for every secret in text, naming where
// the text came from. It returns true when the text is clean. The error
// messages never contain the secret.
func AssertClean(t TB, source, text string, known ...string) bool {
	t.Helper()
	found := Scan(text, known...)
	for _, f := range found {
		t.Errorf("secret leaked in %s: %s", source, f)
	}
	return len(found) == 0
}

package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4/jwt"
)

// claim is one member of a token's payload: its name (unescaped) and its
// value as written.
type claim struct {
	name string
	raw  []byte
}

// claimSet is a payload's members, read in one pass, each name once.
type claimSet []claim

// errNotObject refuses a payload that is not one JSON object.
var errNotObject = errors.New("the claims are not a JSON object")

// readClaims splits a payload into its members and refuses a name written
// twice, compared as encoding/json matches names to fields (case-insensitive,
// with Unicode simple folding, after unescaping): a duplicate is read
// last-wins by encoding/json and may be read first-wins by another reader
// of the same token. It checks the structure only; the values are checked
// by what decodes them.
func readClaims(p []byte) (claimSet, error) {
	i := skipSpace(p, 0)
	if i == len(p) || p[i] != '{' {
		return nil, errNotObject
	}
	cs := make(claimSet, 0, 32)
	seen := make(map[string]string, 32) // folded name -> name
	i = skipSpace(p, i+1)
	if i < len(p) && p[i] == '}' {
		return cs, end(p, i+1)
	}
	for {
		if i == len(p) || p[i] != '"' {
			return nil, errNotObject
		}
		j, err := skipString(p, i)
		if err != nil {
			return nil, err
		}
		name, err := unquote(p[i:j])
		if err != nil {
			return nil, err
		}
		folded := string(appendFolded(nil, name))
		if first, ok := seen[folded]; ok {
			return nil, fmt.Errorf("claim %q appears twice (as %q and %q): refusing an ambiguous token", first, first, name)
		}
		seen[folded] = name
		i = skipSpace(p, j)
		if i == len(p) || p[i] != ':' {
			return nil, errNotObject
		}
		i = skipSpace(p, i+1)
		if j, err = skipValue(p, i); err != nil {
			return nil, err
		}
		cs = append(cs, claim{name: name, raw: p[i:j]})
		i = skipSpace(p, j)
		switch {
		case i < len(p) && p[i] == ',':
			i = skipSpace(p, i+1)
		case i < len(p) && p[i] == '}':
			return cs, end(p, i+1)
		default:
			return nil, errNotObject
		}
	}
}

// end refuses anything but space after the object.
func end(p []byte, i int) error {
	if skipSpace(p, i) != len(p) {
		return errNotObject
	}
	return nil
}

// get is the value of the claim named exactly name, or nil.
func (cs claimSet) get(name string) []byte {
	for _, c := range cs {
		if c.name == name {
			return c.raw
		}
	}
	return nil
}

// str decodes the claim named name as a string: "" when absent or null, an
// error when it is not a string.
func (cs claimSet) str(name string) (string, error) {
	raw := cs.get(name)
	if raw == nil || string(raw) == "null" {
		return "", nil
	}
	if raw[0] != '"' {
		return "", fmt.Errorf("claim %s is not a string", name)
	}
	return unquote(raw)
}

// standard decodes the registered claims, as go-jose's jwt.Claims reads
// them; null is absent.
func (cs claimSet) standard() (jwt.Claims, error) {
	var c jwt.Claims
	var err error
	for _, f := range []struct {
		name string
		dst  *string
	}{{"iss", &c.Issuer}, {"sub", &c.Subject}, {"jti", &c.ID}} {
		if *f.dst, err = cs.str(f.name); err != nil {
			return c, err
		}
	}
	if raw := cs.get("aud"); raw != nil && string(raw) != "null" {
		if err := c.Audience.UnmarshalJSON(raw); err != nil {
			return c, fmt.Errorf("claim aud: %w", err)
		}
	}
	for _, f := range []struct {
		name string
		dst  **jwt.NumericDate
	}{{"exp", &c.Expiry}, {"nbf", &c.NotBefore}, {"iat", &c.IssuedAt}} {
		if raw := cs.get(f.name); raw != nil && string(raw) != "null" {
			d := new(jwt.NumericDate)
			if err := d.UnmarshalJSON(raw); err != nil {
				return c, fmt.Errorf("claim %s: %w", f.name, err)
			}
			*f.dst = d
		}
	}
	return c, nil
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at p[i] ('"').
func skipString(p []byte, i int) (int, error) {
	for i++; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, errNotObject
}

// skipValue returns the index after the value starting at p[i].
func skipValue(p []byte, i int) (int, error) {
	if i == len(p) {
		return 0, errNotObject
	}
	switch p[i] {
	case '"':
		return skipString(p, i)
	case '{', '[':
		depth := 0
		for ; i < len(p); i++ {
			switch p[i] {
			case '"':
				j, err := skipString(p, i)
				if err != nil {
					return 0, err
				}
				i = j - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, errNotObject
	}
	j := i
	for j < len(p) && p[j] != ',' && p[j] != '}' && p[j] != ']' && p[j] != ' ' && p[j] != '\t' && p[j] != '\n' && p[j] != '\r' {
		j++
	}
	if j == i {
		return 0, errNotObject
	}
	return j, nil
}

// unquote decodes a JSON string literal, as encoding/json does.
func unquote(lit []byte) (string, error) {
	if len(lit) >= 2 && lit[0] == '"' && lit[len(lit)-1] == '"' && plain(lit[1:len(lit)-1]) {
		return string(lit[1 : len(lit)-1]), nil
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return "", fmt.Errorf("unreadable string %s: %w", strconv.QuoteToASCII(string(clip(lit, 64))), err)
	}
	return s, nil
}

// plain reports whether a string literal's contents decode to themselves:
// valid UTF-8 without escapes, quotes or control characters.
func plain(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c == '"' || c < 0x20 {
			return false
		}
	}
	return utf8.Valid(b)
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// appendFolded appends name folded as encoding/json folds names to match
// them to fields: ASCII upper case, and each other rune the smallest of its
// Unicode simple fold orbit (so the Kelvin sign is k, the long s is s).
func appendFolded(out []byte, name string) []byte {
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(name[i:])
		i += n
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

package policy

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"
)

// syntaxDiagnostics turns parse errors into CodeSyntax diagnostics.
func syntaxDiagnostics(name string, err error) []Diagnostic {
	var out []Diagnostic
	for _, e := range cueerrors.Errors(err) {
		p := toPos(name, e.Position())
		format, args := e.Msg()
		out = append(out, p.diag(CodeSyntax, "", "%s; fix the CUE syntax", fmt.Sprintf(format, args...)))
	}
	return dedupe(out)
}

// cueDiagnostics turns evaluation and schema errors into diagnostics
// positioned in the policy file: an error CUE reports only against the
// schema is moved to the nearest enclosing field the policy defines.
func cueDiagnostics(name string, raw, u cue.Value, err error) []Diagnostic {
	var groups []*errGroup
	byPath := map[string]*errGroup{}
	for _, e := range cueerrors.Errors(err) {
		path := e.Path()
		key := strings.Join(path, "\x00")
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		g, seen := byPath[key]
		if !seen {
			g = &errGroup{path: path}
			byPath[key] = g
			groups = append(groups, g)
		}
		if strings.Contains(msg, "errors in empty disjunction") {
			g.disj = true
			continue
		}
		p, ok := policyPos(name, e)
		if !ok {
			p = walkUp(name, raw, path)
		}
		if strings.HasPrefix(msg, "incomplete value") {
			if m, at, ok := eitherOf(name, u, path); ok {
				msg, p = m, at
			}
		}
		if len(g.msgs) == 0 {
			g.pos = p
		}
		if !slices.Contains(g.msgs, msg) {
			g.msgs = append(g.msgs, msg)
		}
	}
	var out []Diagnostic
	for _, g := range groups {
		if g.disj {
			g.msgs = relevant(g.msgs, hasDeeper(g.path, groups))
		}
		if len(g.msgs) == 0 {
			continue
		}
		msg := strings.Join(g.msgs, "; ")
		if g.disj {
			msg = "no allowed form matches: " + msg
		}
		if strings.Contains(msg, "field not allowed") {
			msg += didYouMean(u, g.path)
		}
		out = append(out, g.pos.diag(CodeSchema, ruleName(raw, g.path), "%s", explain(g.path, msg)))
	}
	return dedupe(out)
}

// eitherOf explains a value left incomplete by `|` between plain values,
// the way a newcomer writes "any of these": where a list is accepted (a
// match condition) it says to write a list, elsewhere to choose one. It
// returns the message and the position of the first alternative.
func eitherOf(name string, u cue.Value, path []string) (string, Pos, bool) {
	if !u.Exists() {
		return "", Pos{}, false
	}
	alts := alternatives(u.LookupPath(cuePath(path)), 3)
	if len(alts) < 2 {
		return "", Pos{}, false
	}
	lits := make([]string, len(alts))
	for i, a := range alts {
		lits[i] = fmt.Sprint(a)
	}
	at, ok := Pos{}, false
	if tp := alts[0].Pos(); tp.IsValid() && tp.Filename() == name {
		at, ok = toPos(name, tp), true
	}
	if !ok {
		return "", Pos{}, false
	}
	either := strings.Join(lits, " | ")
	if acceptsList(path) {
		return fmt.Sprintf("%s leaves a choice, not one value: `|` is CUE's either-of, not a list: write [%s] to accept any of them",
			either, strings.Join(lits, ", ")), at, true
	}
	return fmt.Sprintf("%s leaves a choice, not one value: `|` is CUE's either-of; choose one of %s",
		either, strings.Join(lits, ", ")), at, true
}

// alternatives returns the disjuncts of v when v is, or is the policy's
// side of a unification with, a disjunction of concrete scalars.
func alternatives(v cue.Value, depth int) []cue.Value {
	op, args := v.Expr()
	switch {
	case depth == 0:
		return nil
	case op == cue.OrOp:
		for _, a := range args {
			if !a.IsConcrete() || a.Kind()&(cue.StringKind|cue.NumberKind|cue.BoolKind) == 0 {
				return nil
			}
		}
		return args
	case op == cue.AndOp:
		for _, a := range args {
			if alts := alternatives(a, depth-1); alts != nil {
				return alts
			}
		}
	}
	return nil
}

// acceptsList reports whether the schema accepts a list of values at path:
// every match condition but ref_protected does.
func acceptsList(path []string) bool {
	return len(path) == 4 && path[0] == "rules" && path[2] == "match" && path[3] != "ref_protected"
}

// relevant drops, from the messages of a failed disjunction, those about
// alternatives of another kind than the value (a list given where a string
// was one choice): the error of the alternative of the same kind tells the
// author what to fix. When a deeper error exists, all of them go.
func relevant(msgs []string, deeper bool) []string {
	var keep []string
	for _, m := range msgs {
		if !strings.Contains(m, "mismatched types") {
			keep = append(keep, m)
		}
	}
	if len(keep) == 0 && !deeper {
		return msgs
	}
	return keep
}

// errGroup gathers the errors CUE reports at one path.
type errGroup struct {
	path []string
	pos  Pos
	msgs []string
	disj bool // part of an empty disjunction
}

// hasDeeper reports whether another group lies below path.
func hasDeeper(path []string, groups []*errGroup) bool {
	for _, g := range groups {
		if len(g.path) > len(path) && len(g.msgs) > 0 && slices.Equal(g.path[:len(path)], path) {
			return true
		}
	}
	return false
}

// policyPos returns the first position of e that lies in the policy file.
func policyPos(name string, e cueerrors.Error) (Pos, bool) {
	for _, tp := range append([]token.Pos{e.Position()}, e.InputPositions()...) {
		if tp.IsValid() && tp.Filename() == name {
			return toPos(name, tp), true
		}
	}
	return Pos{}, false
}

// walkUp finds the nearest field on path, or above it, that the policy
// file defines, and returns its position; the file's start otherwise.
func walkUp(name string, raw cue.Value, path []string) Pos {
	if raw.Exists() {
		for n := len(path); n > 0; n-- {
			v := raw.LookupPath(cuePath(path[:n]))
			if !v.Exists() {
				continue
			}
			if tp := v.Pos(); tp.IsValid() && tp.Filename() == name {
				return toPos(name, tp)
			}
		}
	}
	return Pos{File: name, Line: 1, Col: 1}
}

func cuePath(elems []string) cue.Path {
	sels := make([]cue.Selector, 0, len(elems))
	for _, e := range elems {
		switch {
		case strings.HasPrefix(e, "#"):
			sels = append(sels, cue.Def(e))
		case isIndex(e):
			i, _ := strconv.Atoi(e)
			sels = append(sels, cue.Index(i))
		default:
			if u, err := strconv.Unquote(e); err == nil {
				e = u
			}
			sels = append(sels, cue.Str(e))
		}
	}
	return cue.MakePath(sels...)
}

func isIndex(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func toPos(name string, tp token.Pos) Pos {
	if !tp.IsValid() {
		return Pos{File: name, Line: 1, Col: 1}
	}
	return Pos{File: name, Line: tp.Line(), Col: tp.Column()}
}

// ruleName names the rule an error path lies in, when it can.
func ruleName(raw cue.Value, path []string) string {
	if len(path) < 2 || path[0] != "rules" || !isIndex(path[1]) || !raw.Exists() {
		return ""
	}
	s, err := raw.LookupPath(cuePath(append(path[:2:2], "name"))).String()
	if err != nil {
		return ""
	}
	return s
}

// The expressions that read CUE's messages are compiled on first use: only a
// file with errors needs them, and compiling them at start-up cost every
// jitkey-mint process about half a millisecond before main.
var (
	refNotFound = lazyRegexp(`reference "([^"]+)" not found`)
	wantList    = lazyRegexp(`conflicting values ("(?:[^"\\]|\\.)*"|[0-9.]+|true|false) and \[.*\(mismatched types \w+ and list\)`)
	// longPattern is a schema regular expression too long to help anyone.
	longPattern = lazyRegexp(`=~"(?:[^"\\]|\\.){60,}"`)
	// badValue is CUE's refusal of a string outside a schema pattern or format.
	badValue   = lazyRegexp(`invalid value ("(?:[^"\\]|\\.)*") \((?:out of bound =~|does not satisfy )`)
	conflict   = lazyRegexp(`conflicting values ("(?:[^"\\]|\\.)*") and ("(?:[^"\\]|\\.)*")`)
	ruleNameRe = lazyRegexp(`^[a-z0-9][a-z0-9._-]{0,62}$`)
)

func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// explain prefixes the message with its path and says what to do next.
func explain(path []string, msg string) string {
	where := strings.Join(path, ".")
	var hint string
	last := ""
	if len(path) > 0 {
		last = unquote(path[len(path)-1])
	}
	inPerms := len(path) >= 2 && strings.HasSuffix(path[len(path)-2], "permissions")
	if m := refNotFound().FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("%s is read as a reference to a field, and the file defines none of that name; if you meant the text, quote it: %q", m[1], m[1])
	}
	if m := wantList().FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("a single value where a list is needed; use a list: [%s]", m[1])
	} else if strings.Contains(msg, "mismatched types list and struct") {
		msg = "a list where a map of name: value is needed"
		if strings.HasSuffix(last, "permissions") {
			hint = `write a map, e.g. {contents: "read", deployments: "write"}`
		} else {
			hint = "write a map {name: value, ...}"
		}
	}
	msg = plainValue(path, last, msg)
	msg = longPattern().ReplaceAllString(msg, `=~"…"`)
	switch {
	case hint != "":
	case strings.Contains(msg, "struct.MinFields(1)"):
		msg = "the map is empty"
		hint = "grant at least one permission, e.g. contents: \"read\""
	case strings.Contains(msg, "field not allowed") && inPerms:
		hint = fmt.Sprintf("%q is not a GitHub App permission; the names are GitHub's, with underscores (see the permissions of jitkey's docs/policy.md)", last)
	case strings.Contains(msg, "field not allowed"):
		hint = "remove the field or fix its spelling; the fields are listed in jitkey's docs/policy.md"
	case inPerms && len(permissionLevels[last]) > 0:
		if m := badValue().FindStringSubmatch(msg); m != nil {
			msg = levelMessage(last, m[1])
		}
		hint = fmt.Sprintf("%s accepts %s", last, strings.Join(permissionLevels[last], ", "))
	case slices.Contains(path, "repositories") && len(path) >= 2 && path[len(path)-2] != "request":
		hint = `write "owner/name" or "caller" in a list, or "*" for every repository`
	case strings.Contains(msg, "incompatible list lengths (0 and 1)"):
		msg = "the list is empty"
		hint = "give at least one element, or leave the field out"
	case strings.Contains(msg, "required but not present"):
		hint = "add this field"
	case strings.HasPrefix(msg, "incomplete value =~"):
		hint = `=~ is a CUE constraint, not a value: for a regular expression write {pattern: "..."}`
	case strings.Contains(msg, "incomplete value"):
		hint = "give this field a concrete value"
	}
	if where != "" {
		msg = where + ": " + msg
	}
	if hint != "" {
		msg += " (" + hint + ")"
	}
	return msg
}

// plainValue rewrites CUE's refusal of a string the schema constrains by a
// pattern or a format into what the author should write, without the
// schema's regular expression.
func plainValue(path []string, last, msg string) string {
	if last == "apiVersion" && strings.Contains(msg, "conflicting values") {
		return fmt.Sprintf("this jitkey reads apiVersion %q only; write apiVersion: %q", APIVersion, APIVersion)
	}
	if enum := oneOf(msg); enum != "" {
		return enum
	}
	m := badValue().FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	v, err := strconv.Unquote(m[1])
	if err != nil {
		v = m[1]
	}
	switch {
	case last == "name" && len(path) == 3 && path[0] == "rules":
		msg = fmt.Sprintf("%q is not a rule name: use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 characters", v)
		if slug := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(v)), " ", "-"); ruleNameRe().MatchString(slug) {
			msg += fmt.Sprintf(", e.g. %q", slug)
		}
	case last == "expires":
		msg = fmt.Sprintf("%q is not a date; write YYYY-MM-DD, e.g. \"2027-06-30\"", v)
	case len(path) >= 2 && path[len(path)-2] == "repositories":
		msg = fmt.Sprintf("%q is not a repository name", v)
	case strings.HasSuffix(last, "repository") || len(path) >= 2 && path[len(path)-2] == "repository_ids":
		msg = fmt.Sprintf("%q is not a repository name; write \"owner/name\"", v)
	}
	return msg
}

// oneOf rewrites a failed choice between fixed strings (ref_type: "branches"
// against "branch" | "tag") as the choices and the closest of them, or
// returns "" when msg is not only such conflicts.
func oneOf(msg string) string {
	ms := conflict().FindAllStringSubmatch(msg, -1)
	if len(ms) < 2 || len(conflict().ReplaceAllString(msg, "")) != len("no allowed form matches: ")+2*(len(ms)-1) {
		return ""
	}
	given := ms[0][2]
	var choices []string
	for _, m := range ms {
		if m[2] != given {
			return ""
		}
		choices = append(choices, m[1])
	}
	v, _ := strconv.Unquote(given)
	out := fmt.Sprintf("%s is not one of %s", given, strings.Join(choices, ", "))
	plain := make([]string, len(choices))
	for i, c := range choices {
		plain[i], _ = strconv.Unquote(c)
	}
	if near := Nearest(v, plain); near != "" {
		out += fmt.Sprintf("; did you mean %q?", near)
	}
	return out
}

func dedupe(ds []Diagnostic) []Diagnostic {
	sort.SliceStable(ds, func(i, j int) bool {
		if ds[i].Line != ds[j].Line {
			return ds[i].Line < ds[j].Line
		}
		return ds[i].Col < ds[j].Col
	})
	out := ds[:0]
	seen := map[string]bool{}
	for _, d := range ds {
		k := d.String()
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
}

// unquote returns a path element without the quotes CUE puts around a
// label that is not an identifier ("pull-requests").
func unquote(e string) string {
	if u, err := strconv.Unquote(e); err == nil {
		return u
	}
	return e
}

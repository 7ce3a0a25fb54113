package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/policytest"
)

const explainUsage = `
Usage: jitkey explain --claims FILE|- [--request JSON|@FILE] [--policy PATH]... [--unverified] [--format text|json]
        [--eval-timeout DURATION] [--eval-memory MIB]

Shows the decision the policies make for a job: the rule that matches and
what it grants, or, for a denial, the closest rules and the condition of
each that failed. FILE holds the job's OIDC claims as a JSON object (the
payload of its token; "-" reads standard input). The request is the scope
the job asks for, {"repositories": [...], "permissions": {...}}; without it
the job asks for what the matching rule grants. The claims count as
verified unless --unverified is given. --policy defaults to .github/jitkey
when it exists, else policies. Evaluating each policy directory may take at
most --eval-timeout (default 10s) and grow the heap by at most --eval-memory
MiB (default 512); beyond them it is an error naming the file.

Exit status: 0 allowed, 1 denied, 2 usage or I/O error.
`

// maxInput bounds a claims or request document.
const maxInput = 64 << 10

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runExplain(ctx context.Context, env Env, args []string) int {
	fset := newFlagSet(env, "explain", explainUsage)
	claimsArg := fset.String("claims", "", "file of OIDC claims as JSON, or - for standard input (required)")
	requestArg := fset.String("request", "", "requested scope as JSON, or @FILE")
	unverified := fset.Bool("unverified", false, "treat the claims as unverified (the runner environment, not an OIDC token)")
	format := fset.String("format", "text", "output format: text or json")
	var policies multiFlag
	fset.Var(&policies, "policy", "policy file or directory (repeatable; default .github/jitkey, else policies)")
	limits := limitFlags(fset)
	rest, err := parseFlags(fset, args)
	if err != nil {
		return flagExit(err)
	}
	lim, err := limits()
	if err != nil {
		return fail(env.Stderr, "explain", err)
	}
	switch {
	case len(rest) > 0:
		return fail(env.Stderr, "explain", fmt.Errorf("unexpected argument %q; name policies with --policy", rest[0]))
	case *claimsArg == "":
		return fail(env.Stderr, "explain", errors.New("--claims is required: a file of OIDC claims as JSON, or - for standard input"))
	case *format != "text" && *format != "json":
		return fail(env.Stderr, "explain", fmt.Errorf("unknown format %q; use text or json", *format))
	}
	claims, err := readClaims(env, *claimsArg)
	if err != nil {
		return fail(env.Stderr, "explain", err)
	}
	claims.Verified = !*unverified
	derived := claims.Complete()
	req, err := readRequest(env, *requestArg)
	if err != nil {
		return fail(env.Stderr, "explain", err)
	}
	set, decide, done, err := explainPolicies(ctx, env, lim, policies)
	if err != nil {
		return fail(env.Stderr, "explain", err)
	}
	defer done()
	d := decide(claims, req)
	thin := policytest.ThinRules(set.Rules, claims, d)
	if *format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(explainJSON(d, derived, thin)); err != nil {
			return fail(env.Stderr, "explain", err)
		}
	} else if _, err := io.WriteString(env.Stdout, explainText(set, d)+claimsNotes(derived, thin)); err != nil {
		return fail(env.Stderr, "explain", err)
	}
	if !d.Allowed {
		return ExitFindings
	}
	return ExitOK
}

// explainPolicies loads the policies to explain against: a policy tree
// (decided with the organisation policy and each repository's consent, as
// a mint is) or a flat set. set holds every rule, for positions.
func explainPolicies(ctx context.Context, env Env, lim policy.Limits, paths []string) (*policy.Set, func(policy.Claims, policy.Request) policy.Decision, func(), error) {
	printDiags := func(diags []policy.Diagnostic) {
		for _, d := range diags {
			fmt.Fprintf(env.Stderr, "%s:%d:%d: %s: %s\n", d.File, d.Line, d.Col, d.Severity, d.Message)
		}
	}
	notLoaded := errors.New("the policies do not load; fix them (jitkey validate) first")
	t, err := treeArg(env, paths)
	if err != nil {
		return nil, nil, nil, err
	}
	if t != nil {
		lt, done, err := loadTree(ctx, env, lim, t)
		if err != nil {
			return nil, nil, nil, err
		}
		p := lt.policies()
		if p == nil || atOrAbove(lt.diags, "error") {
			printDiags(lt.diags)
			done()
			return nil, nil, nil, notLoaded
		}
		all := &policy.Set{}
		for _, s := range lt.loadedSets() {
			all.Rules = append(all.Rules, s.Rules...)
		}
		return all, func(c policy.Claims, r policy.Request) policy.Decision { return policy.DecideScope(*p, c, r) }, done, nil
	}
	l, done, err := loadPolicies(ctx, env, lim, paths)
	if err != nil {
		return nil, nil, nil, err
	}
	if l.set == nil {
		printDiags(l.diags)
		done()
		return nil, nil, nil, notLoaded
	}
	return l.set, func(c policy.Claims, r policy.Request) policy.Decision { return policy.Decide(l.set, c, r) }, done, nil
}

func readClaims(env Env, arg string) (policy.Claims, error) {
	data, err := readInput(env, arg)
	if err != nil {
		return policy.Claims{}, fmt.Errorf("read claims: %w", err)
	}
	c, err := ParseClaims(data)
	if err != nil {
		return policy.Claims{}, fmt.Errorf("claims %s: %w", arg, err)
	}
	return c, nil
}

func readRequest(env Env, arg string) (policy.Request, error) {
	if arg == "" {
		return policy.Request{}, nil
	}
	data := []byte(arg)
	if name, ok := strings.CutPrefix(arg, "@"); ok {
		var err error
		if data, err = readInput(env, name); err != nil {
			return policy.Request{}, fmt.Errorf("read request: %w", err)
		}
	}
	r, err := ParseRequest(data)
	if err != nil {
		return policy.Request{}, fmt.Errorf("request: %w", err)
	}
	return r, nil
}

// readInput reads a file named on the command line (relative to the
// working directory), or standard input for "-", at most maxInput bytes.
func readInput(env Env, name string) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = env.Stdin
	} else {
		if !filepath.IsAbs(name) {
			name = filepath.Join(env.Dir, name)
		}
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxInput {
		return nil, fmt.Errorf("more than %d bytes; give only the claims", maxInput)
	}
	return data, nil
}

// ParseClaims reads a JSON object of GitHub OIDC claims. Claims jitkey does
// not match on are ignored; "ref_protected" may be a boolean or, as GitHub
// sends it, the string "true" or "false"; IDs may be strings or numbers;
// repo_property_NAME claims are the repository's custom properties. The
// result is never marked verified: only the caller knows whether a
// signature was checked. Error messages never repeat the input.
func ParseClaims(data []byte) (policy.Claims, error) {
	var raw map[string]json.RawMessage
	if err := strictJSON(data, &raw); err != nil {
		return policy.Claims{}, err
	}
	if raw == nil {
		return policy.Claims{}, errors.New("want a JSON object of OIDC claims")
	}
	ids := map[string]bool{"repository_id": true, "repository_owner_id": true, "enterprise_id": true}
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		v := raw[name]
		known := slices.Contains(policy.ClaimNames(), name)
		switch {
		case string(v) == "null" || name == "ref_protected" || (!known && !strings.HasPrefix(name, policy.PropertyPrefix)):
		case strings.HasPrefix(name, policy.PropertyPrefix):
			if !jsonIs(v, "string", "number", "boolean", "strings") {
				return policy.Claims{}, fmt.Errorf("claim %q must be a string, a number, a boolean or a list of strings", name)
			}
		case ids[name]:
			if !jsonIs(v, "string", "number") {
				return policy.Claims{}, fmt.Errorf("claim %q must be a numeric ID", name)
			}
		case !jsonIs(v, "string"):
			return policy.Claims{}, fmt.Errorf("claim %q must be a string", name)
		}
	}
	if v, ok := raw["ref_protected"]; ok {
		switch strings.Trim(string(v), `"`) {
		case "true", "false", "null":
		default:
			return policy.Claims{}, errors.New(`claim "ref_protected" must be true or false`)
		}
	}
	delete(raw, "verified")
	clean, err := json.Marshal(raw)
	if err != nil {
		return policy.Claims{}, errors.New("want a JSON object of OIDC claims")
	}
	var c policy.Claims
	if err := json.Unmarshal(clean, &c); err != nil {
		return policy.Claims{}, errors.New("the claims do not read as a GitHub OIDC token's payload")
	}
	c.Verified = false
	if c.Repository == "" {
		return policy.Claims{}, errors.New(`claim "repository" is missing; every GitHub OIDC token carries it`)
	}
	return c, nil
}

// jsonIs reports whether v is one of the JSON kinds named: "string",
// "number", "boolean", or "strings" (a list of strings).
func jsonIs(v json.RawMessage, kinds ...string) bool {
	var probe any
	if json.Unmarshal(v, &probe) != nil {
		return false
	}
	for _, k := range kinds {
		switch x := probe.(type) {
		case string:
			if k == "string" {
				return true
			}
		case float64:
			if k == "number" {
				return true
			}
		case bool:
			if k == "boolean" {
				return true
			}
		case []any:
			if k == "strings" && !slices.ContainsFunc(x, func(e any) bool { _, ok := e.(string); return !ok }) {
				return true
			}
		}
	}
	return false
}

// ParseRequest reads a requested scope: {"repositories": ["owner/name" or
// "name", ...], "permissions": {"contents": "read", ...}}. Unknown fields
// are errors, so a typo never widens a request to "what the rule grants".
func ParseRequest(data []byte) (policy.Request, error) {
	var r policy.Request
	if err := strictJSON(data, &r); err != nil {
		return policy.Request{}, err
	}
	for _, name := range r.Repositories {
		if name == "" || strings.Count(name, "/") > 1 || strings.ContainsAny(name, " \t\r\n") {
			return policy.Request{}, fmt.Errorf("repository %q: use owner/name or name", name)
		}
	}
	for name, level := range r.Permissions {
		if level != "read" && level != "write" && level != "admin" {
			return policy.Request{}, fmt.Errorf("permission %q: level %q is not read, write or admin", name, level)
		}
	}
	return r, nil
}

// strictJSON decodes exactly one JSON value, refusing unknown fields and
// trailing data.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return fmt.Errorf("not valid JSON (at byte %d)", syn.Offset)
		case errors.As(err, &typ):
			return fmt.Errorf("field %q has the wrong type: want %s", typ.Field, typ.Type)
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return errors.New("empty or truncated JSON")
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return errors.New(strings.TrimPrefix(err.Error(), "json: ") + "; allowed: repositories, permissions")
		}
		return errors.New("not valid JSON")
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func explainText(s *policy.Set, d policy.Decision) string {
	var b strings.Builder
	at := func(name string) string {
		for _, r := range s.Rules {
			if r.Name == name {
				return fmt.Sprintf(" (%s:%d:%d)", r.Pos.File, r.Pos.Line, r.Pos.Col)
			}
		}
		return ""
	}
	if d.Allowed {
		fmt.Fprintf(&b, "decision: allow\nrule: %s%s\n", d.Rule, at(d.Rule))
		repos := strings.Join(d.Repositories, ", ")
		if d.AllRepositories && len(d.Repositories) == 0 {
			repos = "every repository of the installation"
		}
		fmt.Fprintf(&b, "repositories: %s\n", repos)
		var perms []string
		for _, k := range slices.Sorted(maps.Keys(d.Permissions)) {
			perms = append(perms, k+": "+d.Permissions[k])
		}
		fmt.Fprintf(&b, "permissions: %s\n", strings.Join(perms, ", "))
	} else {
		b.WriteString("decision: deny\n")
	}
	for _, c := range d.Consents {
		where := "policy of " + c.Policy
		if c.Policy == policy.OrgPolicyName {
			where = "organisation policy"
		}
		fmt.Fprintf(&b, "consent: %s by rule %s%s (%s)\n", c.Repository, c.Rule, at(c.Rule), where)
	}
	if d.Refused != "" {
		fmt.Fprintf(&b, "refused by: %s\n", d.Refused)
	}
	if d.Reason != "" {
		fmt.Fprintf(&b, "reason: %s\n", oneLine(d.Reason))
	}
	if len(d.NearMisses) > 0 {
		b.WriteString("closest rules that did not match:\n")
		for _, nm := range d.NearMisses {
			fmt.Fprintf(&b, "  %s%s\n", nm.Rule, at(nm.Rule))
			for _, f := range nm.Failed {
				fmt.Fprintf(&b, "    - %s\n", oneLine(f))
			}
		}
	}
	return b.String()
}

// explainJSON is the decision with the claims that were derived and the
// rules the claims cannot rule out.
func explainJSON(d policy.Decision, derived []string, thin []policytest.Thin) any {
	type thinRule struct {
		Rule   string   `json:"rule"`
		Claims []string `json:"omitted_claims"`
	}
	out := struct {
		policy.Decision
		Derived []string   `json:"derived_claims,omitempty"`
		Thin    []thinRule `json:"thin_claims,omitempty"`
	}{Decision: d, Derived: derived}
	for _, th := range thin {
		out.Thin = append(out.Thin, thinRule{Rule: th.Rule, Claims: th.Claims})
	}
	return out
}

// claimsNotes says which claims were derived from the others, and which
// earlier rules the claims cannot rule out because they omit a claim every
// real token carries.
func claimsNotes(derived []string, thin []policytest.Thin) string {
	var b strings.Builder
	if len(derived) > 0 {
		fmt.Fprintf(&b, "derived claims (a real token carries them): %s\n", strings.Join(derived, ", "))
	}
	for _, th := range thin {
		fmt.Fprintf(&b, "warning: the claims omit %s, which every real token carries; rule %q (%s:%d:%d) comes first and would take this job for some value of it\n",
			strings.Join(th.Claims, ", "), th.Rule, th.Pos.File, th.Pos.Line, th.Pos.Col)
	}
	return b.String()
}

func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
}

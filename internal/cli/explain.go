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
)

const explainUsage = `
Usage: jitkey explain --claims FILE|- [--request JSON|@FILE] [--policy PATH]... [--unverified] [--format text|json]

Shows the decision the policies make for a job: the rule that matches and
what it grants, or, for a denial, the closest rules and the condition of
each that failed. FILE holds the job's OIDC claims as a JSON object (the
payload of its token; "-" reads standard input). The request is the scope
the job asks for, {"repositories": [...], "permissions": {...}}; without it
the job asks for what the matching rule grants. The claims count as
verified unless --unverified is given. --policy defaults to policies.

Exit status: 0 allowed, 1 denied, 2 usage or I/O error.
`

// maxInput bounds a claims or request document.
const maxInput = 64 << 10

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runExplain(_ context.Context, env Env, args []string) int {
	fset := newFlagSet(env, "explain", explainUsage)
	claimsArg := fset.String("claims", "", "file of OIDC claims as JSON, or - for standard input (required)")
	requestArg := fset.String("request", "", "requested scope as JSON, or @FILE")
	unverified := fset.Bool("unverified", false, "treat the claims as unverified (the runner environment, not an OIDC token)")
	format := fset.String("format", "text", "output format: text or json")
	var policies multiFlag
	fset.Var(&policies, "policy", "policy file or directory (repeatable; default policies)")
	rest, err := parseFlags(fset, args)
	if err != nil {
		return flagExit(err)
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
	req, err := readRequest(env, *requestArg)
	if err != nil {
		return fail(env.Stderr, "explain", err)
	}
	l, done, err := loadPolicies(env, policies)
	if err != nil {
		return fail(env.Stderr, "explain", err)
	}
	defer done()
	if l.set == nil {
		for _, d := range l.diags {
			fmt.Fprintf(env.Stderr, "%s:%d:%d: %s: %s\n", d.File, d.Line, d.Col, d.Severity, d.Message)
		}
		return fail(env.Stderr, "explain", errors.New("the policies do not load; fix them (jitkey validate) first"))
	}
	d := policy.Decide(l.set, claims, req)
	if *format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(d); err != nil {
			return fail(env.Stderr, "explain", err)
		}
	} else if _, err := io.WriteString(env.Stdout, explainText(l.set, d)); err != nil {
		return fail(env.Stderr, "explain", err)
	}
	if !d.Allowed {
		return ExitFindings
	}
	return ExitOK
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
// sends it, the string "true" or "false". The result is never marked
// verified: only the caller knows whether a signature was checked. Error
// messages never repeat the input.
func ParseClaims(data []byte) (policy.Claims, error) {
	var raw map[string]json.RawMessage
	if err := strictJSON(data, &raw); err != nil {
		return policy.Claims{}, err
	}
	if raw == nil {
		return policy.Claims{}, errors.New("want a JSON object of OIDC claims")
	}
	var c policy.Claims
	fields := map[string]*string{
		"repository": &c.Repository, "repository_owner": &c.RepositoryOwner, "workflow_ref": &c.WorkflowRef,
		"job_workflow_ref": &c.JobWorkflowRef, "ref": &c.Ref, "ref_type": &c.RefType, "environment": &c.Environment,
		"event_name": &c.EventName, "actor": &c.Actor, "runner_environment": &c.RunnerEnvironment, "sub": &c.Subject,
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		v, ok := raw[name]
		if !ok || string(v) == "null" {
			continue
		}
		if err := json.Unmarshal(v, fields[name]); err != nil {
			return policy.Claims{}, fmt.Errorf("claim %q must be a string", name)
		}
	}
	if v, ok := raw["ref_protected"]; ok {
		switch strings.Trim(string(v), `"`) {
		case "true":
			c.RefProtected = true
		case "false", "null":
		default:
			return policy.Claims{}, errors.New(`claim "ref_protected" must be true or false`)
		}
	}
	if c.Repository == "" {
		return policy.Claims{}, errors.New(`claim "repository" is missing; every GitHub OIDC token carries it`)
	}
	return c, nil
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

func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
}

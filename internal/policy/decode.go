package policy

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"

	"cuelang.org/go/cue"
)

// filePolicy is one decoded policy file, with the positions the set-wide
// checks need.
type filePolicy struct {
	rules    []Rule
	permPos  []map[string]Pos // per rule: position of each granted permission
	repoPos  []map[string]Pos // per rule: position of each granted repository
	ceiling  *Ceiling
	review   *Review
	reviewAt Pos
	namePos  []Pos
}

// decoder reads a validated value into Go types; positions come from raw,
// the file before unification, so that they lie in the policy file.
type decoder struct {
	file  string
	raw   cue.Value
	diags []Diagnostic
}

func sel(s string) cue.Selector { return cue.Str(s) }

func cpath(sels ...cue.Selector) cue.Path { return cue.MakePath(sels...) }

// pos is the position of the value at sels in the policy file, or of the
// nearest enclosing value the file defines.
func (d *decoder) pos(sels ...cue.Selector) Pos {
	for n := len(sels); n >= 0; n-- {
		if tp := d.raw.LookupPath(cpath(sels[:n]...)).Pos(); tp.IsValid() && tp.Filename() == d.file {
			return toPos(d.file, tp)
		}
	}
	return Pos{File: d.file, Line: 1, Col: 1}
}

// at is the position of v, a value of the compiled file, falling back to
// a lookup of sels from the file's root.
func (d *decoder) at(v cue.Value, sels ...cue.Selector) Pos {
	if tp := v.Pos(); tp.IsValid() && tp.Filename() == d.file {
		return toPos(d.file, tp)
	}
	return d.pos(sels...)
}

func lookup(v cue.Value, name string) (cue.Value, bool) {
	f := v.LookupPath(cpath(sel(name)))
	return f, f.Exists()
}

func str(v cue.Value, name string) string {
	f, _ := lookup(v, name)
	s, _ := f.String()
	return s
}

func boolean(v cue.Value, name string, def bool) bool {
	f, ok := lookup(v, name)
	if !ok {
		return def
	}
	b, _ := f.Bool()
	return b
}

func stringList(v cue.Value) []string {
	var out []string
	it, _ := v.List()
	for it.Next() {
		s, _ := it.Value().String()
		out = append(out, s)
	}
	return out
}

func stringMap(v cue.Value) map[string]string {
	out := map[string]string{}
	it, _ := v.Fields()
	for it.Next() {
		s, _ := it.Value().String()
		out[it.Selector().Unquoted()] = s
	}
	return out
}

func (d *decoder) policy(u cue.Value) *filePolicy {
	fp := &filePolicy{}
	if rules, ok := lookup(u, "rules"); ok {
		it, _ := rules.List()
		for i := 0; it.Next(); i++ {
			d.rule(fp, i, it.Value())
		}
	}
	if c, ok := lookup(u, "ceiling"); ok {
		fp.ceiling = d.ceiling(c)
	}
	if r, ok := lookup(u, "review"); ok {
		fp.review, fp.reviewAt = d.review(r), d.pos(sel("review"))
	}
	return fp
}

func (d *decoder) rule(fp *filePolicy, i int, v cue.Value) {
	at := []cue.Selector{sel("rules"), cue.Index(i)}
	sub := func(more ...cue.Selector) []cue.Selector { return append(at[:2:2], more...) }
	name, _ := lookup(v, "name")
	r := Rule{
		Name:            str(v, "name"),
		Pos:             d.at(v, at...),
		RequireVerified: boolean(v, "requireVerified", false),
	}
	m, _ := lookup(v, "match")
	it, _ := m.Fields()
	for it.Next() {
		claim := it.Selector().Unquoted()
		where := fmt.Sprintf("rules.%d.match.%s", i, claim)
		r.Match = append(r.Match, d.condition(r.Name, where, claim, it.Value(), sub(sel("match"), sel(claim))))
	}
	sort.SliceStable(r.Match, func(a, b int) bool { return r.Match[a].Pos.before(r.Match[b].Pos) })
	g, _ := lookup(v, "grant")
	r.Grant = Grant{Pos: d.at(g, sub(sel("grant"))...), Permissions: map[string]string{}}
	permPos, repoPos := map[string]Pos{}, map[string]Pos{}
	repos, _ := lookup(g, "repositories")
	if s, err := repos.String(); err == nil && s == "*" {
		r.Grant.AllRepositories = true
		repoPos["*"] = d.at(repos, sub(sel("grant"), sel("repositories"))...)
	}
	rit, _ := repos.List()
	for j := 0; rit.Next(); j++ {
		repo, _ := rit.Value().String()
		if repo == "caller" {
			r.Grant.Caller = true
		} else {
			r.Grant.Repositories = append(r.Grant.Repositories, repo)
		}
		repoPos[repo] = d.at(rit.Value(), sub(sel("grant"), sel("repositories"), cue.Index(j))...)
	}
	perms, _ := lookup(g, "permissions")
	pit, _ := perms.Fields()
	for pit.Next() {
		perm := pit.Selector().Unquoted()
		r.Grant.Permissions[perm], _ = pit.Value().String()
		permPos[perm] = d.at(pit.Value(), sub(sel("grant"), sel("permissions"), sel(perm))...)
	}
	fp.rules = append(fp.rules, r)
	fp.permPos = append(fp.permPos, permPos)
	fp.repoPos = append(fp.repoPos, repoPos)
	fp.namePos = append(fp.namePos, d.at(name, sub(sel("name"))...))
}

func (d *decoder) condition(rule, where, claim string, v cue.Value, at []cue.Selector) Condition {
	c := Condition{Claim: claim, Pos: d.at(v, at...)}
	switch v.Kind() {
	case cue.BoolKind:
		b, _ := v.Bool()
		c.Values = []string{strconv.FormatBool(b)}
	case cue.StringKind:
		s, _ := v.String()
		c.Values = []string{s}
	case cue.ListKind:
		c.Values = stringList(v)
	case cue.StructKind:
		p := str(v, "pattern")
		re, err := compiled(p)
		c.compiled = []*regexp.Regexp{re}
		if err != nil {
			d.diags = append(d.diags, d.pos(append(at, sel("pattern"))...).diag(CodePattern, rule,
				"%s.pattern: %v; write an RE2 regular expression (https://github.com/google/re2/wiki/Syntax)", where, err))
		}
		c.Patterns = []string{p}
	}
	return c
}

var patterns sync.Map // pattern -> *regexp.Regexp

// compiled returns the compiled pattern, from a process-wide cache so that
// decisions never compile.
func compiled(p string) (*regexp.Regexp, error) {
	if re, ok := patterns.Load(p); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	patterns.Store(p, re)
	return re, nil
}

func (d *decoder) ceiling(v cue.Value) *Ceiling {
	c := &Ceiling{Pos: d.pos(sel("ceiling"))}
	p, _ := lookup(v, "permissions")
	c.Permissions = stringMap(p)
	if r, ok := lookup(v, "repositories"); ok {
		c.Repositories = stringList(r)
	}
	return c
}

// Review defaults, applied when the policy leaves a field out.
const (
	DefaultMaxIssuesPerRun = 20
	DefaultRenotifyDays    = 14
	DefaultMaxReminds      = 3
)

// DefaultKindRules are the review thresholds of each credential kind when
// the policy does not set them; a field the policy sets replaces the
// default of that field only.
func DefaultKindRules() map[CredentialKind]KindRule {
	secret := KindRule{Enabled: true, StaleDays: 365}
	return map[CredentialKind]KindRule{
		KindDeployKey:        {Enabled: true, DormantDays: 90, NeverUsedDays: 30},
		KindActionsSecret:    secret,
		KindDependabotSecret: secret,
		KindCodespacesSecret: secret,
		KindFineGrainedPAT:   {Enabled: true, DormantDays: 90, NeverUsedDays: 30, RequireExpiry: true},
		KindSSOAuthorization: {Enabled: true, DormantDays: 90, NeverUsedDays: 30},
		KindAppInstallation:  {Enabled: true},
		KindWebhook:          {Enabled: true, RequireSecret: true, RequireSSL: true},
	}
}

func (d *decoder) review(v cue.Value) *Review {
	rv := &Review{
		MaxIssuesPerRun: DefaultMaxIssuesPerRun,
		Renotify:        Renotify{Enabled: true, AfterDays: DefaultRenotifyDays, MaxReminds: DefaultMaxReminds},
	}
	if f, ok := lookup(v, "owners"); ok {
		rv.Owners = stringList(f)
	}
	rv.CentralRepository = str(v, "central_repository")
	if f, ok := lookup(v, "labels"); ok {
		rv.Labels = stringList(f)
	}
	if f, ok := lookup(v, "max_issues_per_run"); ok {
		n, _ := f.Int64()
		rv.MaxIssuesPerRun = int(n)
	}
	if f, ok := lookup(v, "renotify"); ok {
		rv.Renotify.Enabled = boolean(f, "enabled", rv.Renotify.Enabled)
		rv.Renotify.AfterDays = intField(f, "after_days", rv.Renotify.AfterDays)
		rv.Renotify.MaxReminds = intField(f, "max_reminds", rv.Renotify.MaxReminds)
	}
	rv.AutoRemediate = boolean(v, "auto_remediate", false)
	if f, ok := lookup(v, "kinds"); ok {
		rv.Kinds = kinds(f)
	}
	if f, ok := lookup(v, "exemptions"); ok {
		it, _ := f.List()
		for i := 0; it.Next(); i++ {
			rv.Exemptions = append(rv.Exemptions, d.exemption(i, it.Value()))
		}
	}
	return rv
}

func intField(v cue.Value, name string, def int) int {
	f, ok := lookup(v, name)
	if !ok {
		return def
	}
	n, _ := f.Int64()
	return int(n)
}

func kinds(v cue.Value) map[CredentialKind]KindRule {
	defs := DefaultKindRules()
	out := map[CredentialKind]KindRule{}
	it, _ := v.Fields()
	for it.Next() {
		k := CredentialKind(it.Selector().Unquoted())
		f, r := it.Value(), defs[k]
		r.Enabled = boolean(f, "enabled", r.Enabled)
		r.DormantDays = intField(f, "dormant_days", r.DormantDays)
		r.NeverUsedDays = intField(f, "never_used_days", r.NeverUsedDays)
		r.StaleDays = intField(f, "stale_days", r.StaleDays)
		r.AllowWrite = boolean(f, "allow_write", r.AllowWrite)
		r.AllowVisibilityAll = boolean(f, "allow_visibility_all", r.AllowVisibilityAll)
		r.AllowAllRepositories = boolean(f, "allow_all_repositories", r.AllowAllRepositories)
		r.AllowAdmin = boolean(f, "allow_admin", r.AllowAdmin)
		r.RequireExpiry = boolean(f, "require_expiry", r.RequireExpiry)
		r.RequireSecret = boolean(f, "require_secret", r.RequireSecret)
		r.RequireSSL = boolean(f, "require_ssl", r.RequireSSL)
		if m, ok := lookup(f, "max_permissions"); ok {
			r.MaxPermissions = stringMap(m)
		}
		out[k] = r
	}
	return out
}

func (d *decoder) exemption(i int, v cue.Value) Exemption {
	p := d.pos(sel("review"), sel("exemptions"), cue.Index(i))
	expires, _ := time.Parse(time.DateOnly, str(v, "expires"))
	return Exemption{
		Kind:       CredentialKind(str(v, "kind")),
		Credential: str(v, "credential"),
		Finding:    str(v, "finding"),
		Reason:     str(v, "reason"),
		Approver:   str(v, "approver"),
		Expires:    expires,
		File:       d.file,
		Line:       p.Line,
	}
}

func (d *decoder) tests(u cue.Value) []TestCase {
	var out []TestCase
	tests, _ := lookup(u, "tests")
	it, _ := tests.List()
	for i := 0; it.Next(); i++ {
		v := it.Value()
		tc := TestCase{Name: str(v, "name"), Pos: d.pos(sel("tests"), cue.Index(i))}
		c, _ := lookup(v, "claims")
		tc.Claims = claimsOf(c)
		if r, ok := lookup(v, "request"); ok {
			if f, ok := lookup(r, "repositories"); ok {
				tc.Request.Repositories = stringList(f)
			}
			if f, ok := lookup(r, "permissions"); ok {
				tc.Request.Permissions = stringMap(f)
			}
		}
		e, _ := lookup(v, "expect")
		tc.Expect.Allow = boolean(e, "allow", false)
		tc.Expect.Rule = str(e, "rule")
		if f, ok := lookup(e, "permissions"); ok {
			tc.Expect.Permissions = stringMap(f)
		}
		if f, ok := lookup(e, "repositories"); ok {
			tc.Expect.Repositories = stringList(f)
		}
		out = append(out, tc)
	}
	return out
}

func claimsOf(v cue.Value) Claims {
	return Claims{
		Repository:        str(v, "repository"),
		RepositoryOwner:   str(v, "repository_owner"),
		WorkflowRef:       str(v, "workflow_ref"),
		JobWorkflowRef:    str(v, "job_workflow_ref"),
		Ref:               str(v, "ref"),
		RefType:           str(v, "ref_type"),
		RefProtected:      boolean(v, "ref_protected", false),
		Environment:       str(v, "environment"),
		EventName:         str(v, "event_name"),
		Actor:             str(v, "actor"),
		RunnerEnvironment: str(v, "runner_environment"),
		Subject:           str(v, "sub"),
		Verified:          boolean(v, "verified", true),
	}
}

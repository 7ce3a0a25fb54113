package policy

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/token"
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
	waivers  []Waiver
	org      *Organization
}

// decoder reads the value CUE evaluates (the file unified with the schema,
// validated concrete) into Go types. Every read that fails is a
// diagnostic: a value is never replaced by a zero value. Positions come
// from raw, the file before unification, so that they lie in the policy
// file.
type decoder struct {
	file  string
	raw   cue.Value
	cols  *columns // of the file, to count columns in characters
	diags []Diagnostic
}

// posOf converts a position CUE gives (columns in bytes) into the file's
// Pos (columns in characters).
func (d *decoder) posOf(tp token.Pos) Pos {
	p := toPos(d.file, tp)
	p.Col = d.cols.of(p.Line, p.Col)
	return p
}

// vpath is where a value lies in the file, from its root.
type vpath []cue.Selector

// to returns p extended by sels, without sharing p's backing array.
func (p vpath) to(sels ...cue.Selector) vpath {
	out := make(vpath, 0, len(p)+len(sels))
	return append(append(out, p...), sels...)
}

// field extends p by a field name.
func (p vpath) field(name string) vpath { return p.to(cue.Str(name)) }

// String formats p as the messages do: rules.0.match.ref.
func (p vpath) String() string {
	parts := make([]string, len(p))
	for i, s := range p {
		if s.Type() == cue.IndexLabel {
			parts[i] = strconv.Itoa(s.Index())
		} else {
			parts[i] = s.Unquoted()
		}
	}
	return strings.Join(parts, ".")
}

// pos is the position of the value at p in the policy file, or of the
// nearest enclosing value the file defines.
func (d *decoder) pos(p vpath) Pos {
	for n := len(p); n >= 0; n-- {
		if tp := d.raw.LookupPath(cue.MakePath(p[:n]...)).Pos(); tp.IsValid() && tp.Filename() == d.file {
			return d.posOf(tp)
		}
	}
	return Pos{File: d.file, Line: 1, Col: 1}
}

// at is the position of the field at p in the policy file; when the file
// does not define it there (it comes from a comprehension or a
// definition), the position of v, the unified value, if that lies in the
// file; else the nearest enclosing field's.
func (d *decoder) at(v cue.Value, p vpath) Pos {
	if tp := d.raw.LookupPath(cue.MakePath(p...)).Pos(); tp.IsValid() && tp.Filename() == d.file {
		return d.posOf(tp)
	}
	if tp := v.Pos(); tp.IsValid() && tp.Filename() == d.file {
		return d.posOf(tp)
	}
	return d.pos(p)
}

// fail records that the value at p could not be read as want. The schema
// has accepted the value, so this is a disagreement between the schema
// and the decoder: the file is refused rather than read as something else.
func (d *decoder) fail(p vpath, want string, err error) {
	d.diags = append(d.diags, d.pos(p).diag(CodeSchema, "",
		"%s: jitkey cannot read this value as %s (%v); write it as a plain %s, and report this to jitkey if the schema accepts it", p, want, err, want))
}

// lookup returns the field name of v, resolved to its default, and
// whether the file sets it.
func lookup(v cue.Value, name string) (cue.Value, bool) {
	f := v.LookupPath(cue.MakePath(cue.Str(name)))
	if !f.Exists() {
		return f, false
	}
	f, _ = f.Default()
	return f, true
}

func (d *decoder) str(v cue.Value, p vpath) string {
	v, _ = v.Default()
	s, err := v.String()
	if err != nil {
		d.fail(p, "string", err)
	}
	return s
}

func (d *decoder) boolean(v cue.Value, p vpath) bool {
	v, _ = v.Default()
	b, err := v.Bool()
	if err != nil {
		d.fail(p, "boolean", err)
	}
	return b
}

func (d *decoder) integer(v cue.Value, p vpath) int {
	v, _ = v.Default()
	n, err := v.Int64()
	if err != nil {
		d.fail(p, "integer", err)
	}
	return int(n)
}

// strField, boolField and intField read an optional field of v at p,
// returning def when the file leaves it out.
func (d *decoder) strField(v cue.Value, p vpath, name, def string) string {
	if f, ok := lookup(v, name); ok {
		return d.str(f, p.field(name))
	}
	return def
}

func (d *decoder) boolField(v cue.Value, p vpath, name string, def bool) bool {
	if f, ok := lookup(v, name); ok {
		return d.boolean(f, p.field(name))
	}
	return def
}

func (d *decoder) intField(v cue.Value, p vpath, name string, def int) int {
	if f, ok := lookup(v, name); ok {
		return d.integer(f, p.field(name))
	}
	return def
}

// each calls fn for every element of the list v.
func (d *decoder) each(v cue.Value, p vpath, fn func(i int, e cue.Value, p vpath)) {
	v, _ = v.Default()
	it, err := v.List()
	if err != nil {
		d.fail(p, "list", err)
		return
	}
	for i := 0; it.Next(); i++ {
		e, _ := it.Value().Default()
		fn(i, e, p.to(cue.Index(i)))
	}
}

// fields calls fn for every regular field of the struct v, in order.
func (d *decoder) fields(v cue.Value, p vpath, fn func(name string, f cue.Value, p vpath)) {
	v, _ = v.Default()
	it, err := v.Fields()
	if err != nil {
		d.fail(p, "struct", err)
		return
	}
	for it.Next() {
		name := it.Selector().Unquoted()
		f, _ := it.Value().Default()
		fn(name, f, p.field(name))
	}
}

func (d *decoder) strings(v cue.Value, p vpath) []string {
	out := []string{}
	d.each(v, p, func(_ int, e cue.Value, p vpath) { out = append(out, d.str(e, p)) })
	return out
}

func (d *decoder) stringMap(v cue.Value, p vpath) map[string]string {
	out := map[string]string{}
	d.fields(v, p, func(name string, f cue.Value, p vpath) { out[name] = d.str(f, p) })
	return out
}

func (d *decoder) policy(u cue.Value) *filePolicy {
	fp := &filePolicy{}
	if rules, ok := lookup(u, "rules"); ok {
		d.each(rules, vpath{cue.Str("rules")}, func(i int, v cue.Value, p vpath) { d.rule(fp, v, p) })
	}
	if c, ok := lookup(u, "ceiling"); ok {
		fp.ceiling = d.ceiling(c, vpath{cue.Str("ceiling")})
	}
	if r, ok := lookup(u, "review"); ok {
		p := vpath{cue.Str("review")}
		fp.review, fp.reviewAt = d.review(r, p), d.pos(p)
	}
	if w, ok := lookup(u, "waivers"); ok {
		fp.waivers = d.waivers(w, vpath{cue.Str("waivers")})
	}
	if o, ok := lookup(u, "organization"); ok {
		fp.org = d.organization(o, vpath{cue.Str("organization")})
	}
	return fp
}

func (d *decoder) rule(fp *filePolicy, v cue.Value, at vpath) {
	name, _ := lookup(v, "name")
	r := Rule{
		Name:            d.str(name, at.field("name")),
		Pos:             d.at(v, at),
		RequireVerified: d.boolField(v, at, "requireVerified", false),
	}
	if m, ok := lookup(v, "match"); ok {
		d.fields(m, at.field("match"), func(claim string, c cue.Value, p vpath) {
			r.Match = append(r.Match, d.condition(r.Name, claim, c, p))
		})
	}
	sort.SliceStable(r.Match, func(a, b int) bool { return r.Match[a].Pos.before(r.Match[b].Pos) })
	g, _ := lookup(v, "grant")
	gp := at.field("grant")
	r.Grant = Grant{Pos: d.at(g, gp), Permissions: map[string]string{}}
	permPos, repoPos := map[string]Pos{}, map[string]Pos{}
	repos, _ := lookup(g, "repositories")
	rp := gp.field("repositories")
	if repos.Kind() == cue.StringKind {
		if d.str(repos, rp) == "*" {
			r.Grant.AllRepositories = true
			repoPos["*"] = d.at(repos, rp)
		}
	} else {
		d.each(repos, rp, func(_ int, e cue.Value, p vpath) {
			if id, ok := d.repositoryID(e, p); ok {
				r.Grant.RepositoryIDs = append(r.Grant.RepositoryIDs, id)
				repoPos[IDName(id)] = d.at(e, p)
				return
			}
			repo := d.str(e, p)
			if repo == "caller" {
				r.Grant.Caller = true
			} else {
				r.Grant.Repositories = append(r.Grant.Repositories, repo)
			}
			repoPos[repo] = d.at(e, p)
		})
	}
	perms, _ := lookup(g, "permissions")
	d.fields(perms, gp.field("permissions"), func(perm string, f cue.Value, p vpath) {
		r.Grant.Permissions[perm] = d.str(f, p)
		permPos[perm] = d.at(f, p)
	})
	fp.rules = append(fp.rules, r)
	fp.permPos = append(fp.permPos, permPos)
	fp.repoPos = append(fp.repoPos, repoPos)
	fp.namePos = append(fp.namePos, d.at(name, at.field("name")))
}

// condition decodes one claim condition: a value, a list of values, or
// {pattern: ...}; ref_protected is a boolean.
func (d *decoder) condition(rule, claim string, v cue.Value, at vpath) Condition {
	c := Condition{Claim: claim, Pos: d.at(v, at)}
	switch v.Kind() {
	case cue.BoolKind:
		c.Values = []string{strconv.FormatBool(d.boolean(v, at))}
	case cue.StringKind:
		c.Values = []string{d.str(v, at)}
	case cue.ListKind:
		c.Values = d.strings(v, at)
	case cue.StructKind:
		pv, _ := lookup(v, "pattern")
		pp := at.field("pattern")
		p := d.str(pv, pp)
		re, err := compiled(p)
		c.compiled = []*regexp.Regexp{re}
		if err != nil {
			d.diags = append(d.diags, d.pos(pp).diag(CodePattern, rule,
				"%s: %v; write an RE2 regular expression (https://github.com/google/re2/wiki/Syntax)", pp, err))
		}
		c.Patterns = []string{p}
	default:
		d.fail(at, "value, list of values or {pattern: ...}", fmt.Errorf("it is %v", v.Kind()))
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

func (d *decoder) ceiling(v cue.Value, at vpath) *Ceiling {
	c := &Ceiling{Pos: d.pos(at)}
	p, _ := lookup(v, "permissions")
	c.Permissions = d.stringMap(p, at.field("permissions"))
	if r, ok := lookup(v, "repositories"); ok {
		c.Repositories, c.RepositoryIDs = d.repositories(r, at.field("repositories"))
		if c.Repositories == nil {
			c.Repositories = []string{} // IDs only: the list still limits repositories
		}
	}
	if r, ok := lookup(v, "per_repository"); ok {
		c.PerRepository = d.perRepository(r, at.field("per_repository"))
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

func (d *decoder) review(v cue.Value, at vpath) *Review {
	rv := &Review{
		CentralRepository: d.strField(v, at, "central_repository", ""),
		MaxIssuesPerRun:   d.intField(v, at, "max_issues_per_run", DefaultMaxIssuesPerRun),
		AutoRemediate:     d.boolField(v, at, "auto_remediate", false),
		Renotify:          Renotify{Enabled: true, AfterDays: DefaultRenotifyDays, MaxReminds: DefaultMaxReminds},
	}
	if f, ok := lookup(v, "owners"); ok {
		rv.Owners = d.strings(f, at.field("owners"))
	}
	if f, ok := lookup(v, "labels"); ok {
		rv.Labels = d.strings(f, at.field("labels"))
	}
	if f, ok := lookup(v, "renotify"); ok {
		p := at.field("renotify")
		rv.Renotify.Enabled = d.boolField(f, p, "enabled", rv.Renotify.Enabled)
		rv.Renotify.AfterDays = d.intField(f, p, "after_days", rv.Renotify.AfterDays)
		rv.Renotify.MaxReminds = d.intField(f, p, "max_reminds", rv.Renotify.MaxReminds)
	}
	if f, ok := lookup(v, "kinds"); ok {
		rv.Kinds = d.kinds(f, at.field("kinds"))
	}
	if f, ok := lookup(v, "exemptions"); ok {
		d.each(f, at.field("exemptions"), func(_ int, e cue.Value, p vpath) {
			rv.Exemptions = append(rv.Exemptions, d.exemption(e, p))
		})
	}
	return rv
}

func (d *decoder) kinds(v cue.Value, at vpath) map[CredentialKind]KindRule {
	defs := DefaultKindRules()
	out := map[CredentialKind]KindRule{}
	d.fields(v, at, func(name string, f cue.Value, p vpath) {
		k := CredentialKind(name)
		r := defs[k]
		r.Enabled = d.boolField(f, p, "enabled", r.Enabled)
		r.DormantDays = d.intField(f, p, "dormant_days", r.DormantDays)
		r.NeverUsedDays = d.intField(f, p, "never_used_days", r.NeverUsedDays)
		r.StaleDays = d.intField(f, p, "stale_days", r.StaleDays)
		r.AllowWrite = d.boolField(f, p, "allow_write", r.AllowWrite)
		r.AllowVisibilityAll = d.boolField(f, p, "allow_visibility_all", r.AllowVisibilityAll)
		r.AllowAllRepositories = d.boolField(f, p, "allow_all_repositories", r.AllowAllRepositories)
		r.AllowAdmin = d.boolField(f, p, "allow_admin", r.AllowAdmin)
		r.RequireExpiry = d.boolField(f, p, "require_expiry", r.RequireExpiry)
		r.RequireSecret = d.boolField(f, p, "require_secret", r.RequireSecret)
		r.RequireSSL = d.boolField(f, p, "require_ssl", r.RequireSSL)
		if m, ok := lookup(f, "max_permissions"); ok {
			r.MaxPermissions = d.stringMap(m, p.field("max_permissions"))
		}
		out[k] = r
	})
	return out
}

func (d *decoder) exemption(v cue.Value, at vpath) Exemption {
	e := Exemption{
		Kind:       CredentialKind(d.strField(v, at, "kind", "")),
		Credential: d.strField(v, at, "credential", ""),
		Finding:    d.strField(v, at, "finding", ""),
		Reason:     d.strField(v, at, "reason", ""),
		Approver:   d.strField(v, at, "approver", ""),
		File:       d.file,
		Line:       d.pos(at).Line,
	}
	ep := at.field("expires")
	expires, err := time.Parse(time.DateOnly, d.strField(v, at, "expires", ""))
	if err != nil {
		d.fail(ep, "date (YYYY-MM-DD)", err)
	}
	e.Expires = expires
	return e
}

func (d *decoder) tests(u cue.Value) []TestCase {
	var out []TestCase
	tests, _ := lookup(u, "tests")
	d.each(tests, vpath{cue.Str("tests")}, func(_ int, v cue.Value, at vpath) {
		tc := TestCase{Name: d.strField(v, at, "name", ""), Pos: d.pos(at)}
		c, _ := lookup(v, "claims")
		tc.Claims = d.claims(c, at.field("claims"))
		if r, ok := lookup(v, "request"); ok {
			p := at.field("request")
			if f, ok := lookup(r, "repositories"); ok {
				tc.Request.Repositories = d.strings(f, p.field("repositories"))
			}
			if f, ok := lookup(r, "permissions"); ok {
				tc.Request.Permissions = d.stringMap(f, p.field("permissions"))
			}
		}
		e, _ := lookup(v, "expect")
		p := at.field("expect")
		allow, _ := lookup(e, "allow")
		tc.Expect.Allow = d.boolean(allow, p.field("allow"))
		tc.Expect.Rule = d.strField(e, p, "rule", "")
		if f, ok := lookup(e, "permissions"); ok {
			tc.Expect.Permissions = d.stringMap(f, p.field("permissions"))
		}
		if f, ok := lookup(e, "repositories"); ok {
			tc.Expect.Repositories = d.strings(f, p.field("repositories"))
		}
		out = append(out, tc)
	})
	return out
}

// claims decodes a test's claims through their JSON form, the form an OIDC
// token has, so that every claim the schema knows reaches Claims by its
// JSON name; verified defaults to true.
func (d *decoder) claims(v cue.Value, at vpath) Claims {
	c := Claims{Verified: true}
	v, _ = v.Default()
	data, err := v.MarshalJSON()
	if err == nil {
		err = json.Unmarshal(data, &c)
	}
	if err != nil {
		d.fail(at, "claims object", err)
		return c
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(data, &keys)
	for k := range keys {
		if !claimFields()[k] && !strings.HasPrefix(k, PropertyPrefix) {
			d.fail(at.field(k), "claim jitkey knows", fmt.Errorf("Claims has no field %q", k))
		}
	}
	return c
}

// claimFields are the JSON names of Claims' fields: a claim the schema
// accepts but Claims lacks would otherwise be dropped without a word
// (custom properties, repo_property_NAME, fill Claims.Properties).
var claimFields = sync.OnceValue(func() map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeFor[Claims]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out[name] = true
	}
	return out
})

// repositoryID reads a {id: N} entry of a repository list; false for any
// other entry (a name).
func (d *decoder) repositoryID(e cue.Value, p vpath) (int64, bool) {
	if e.Kind() != cue.StructKind {
		return 0, false
	}
	f, _ := lookup(e, "id")
	return int64(d.integer(f, p.field("id"))), true
}

// repositories reads a list of repository names and {id: N} entries.
func (d *decoder) repositories(v cue.Value, p vpath) (names []string, ids []int64) {
	d.each(v, p, func(_ int, e cue.Value, p vpath) {
		if id, ok := d.repositoryID(e, p); ok {
			ids = append(ids, id)
			return
		}
		names = append(names, d.str(e, p))
	})
	return names, ids
}

// IDName is how a repository named by ID is shown: "{id: 123}", as the
// policy writes it.
func IDName(id int64) string { return "{id: " + strconv.FormatInt(id, 10) + "}" }

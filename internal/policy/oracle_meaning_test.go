package policy_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/policy"
)

// meaning is what a policy file says, in a form both sides of the oracle
// can be put in: jitkey's decoded Set, and the JSON `cue export` prints
// of the same unification, with the defaults the schema documents.
type meaning struct {
	Rules        []mRule
	Ceiling      *mCeiling
	Review       *policy.Review
	Waivers      []mWaiver
	Organization *mOrganization
	Tests        []mTest
}

// mWaiver is a lint waiver without its position.
type mWaiver struct {
	Code, Rule, Reason, Approver string
	Expires                      time.Time
}

// mOrganization is the organisation settings; repository_ids' names are
// lower case (names are case-insensitive, as policy.Organization says).
type mOrganization struct {
	PolicyRepository string
	PolicyPath       string
	Issuers          []string
	PolicyRefs       *mCond
	RepositoryIDs    map[string]int64
}

// mRepositoryCeiling is one ceiling.per_repository entry: names ("owner/name"
// or "owner/*") and IDs, from repositories ({id: N}) and repository_ids.
type mRepositoryCeiling struct {
	Repositories  []string
	RepositoryIDs []int64
	Permissions   map[string]string
}

type mRule struct {
	Name            string
	RequireVerified bool
	Match           map[string]mCond
	AllRepositories bool
	Caller          bool
	Repositories    []string
	RepositoryIDs   []int64
	Permissions     map[string]string
}

type mCond struct {
	Values   []string
	Patterns []string
}

type mCeiling struct {
	Permissions   map[string]string
	Repositories  []string `json:"-"`
	RepositoryIDs []int64  `json:"-"`
	// RawRepositories is ceiling.repositories as cue exports it: names and
	// {id: N} entries.
	RawRepositories  json.RawMessage      `json:"repositories"`
	PerRepository    []mRepositoryCeiling `json:"-"`
	RawPerRepository json.RawMessage      `json:"per_repository"`
}

type mTest struct {
	Name    string
	Claims  policy.Claims
	Request policy.Request
	Expect  policy.Expectation
}

// meaningOfSet is jitkey's side.
func meaningOfSet(s *policy.Set) meaning {
	var m meaning
	for _, r := range s.Rules {
		mr := mRule{Name: r.Name, RequireVerified: r.RequireVerified, Match: map[string]mCond{},
			AllRepositories: r.Grant.AllRepositories, Caller: r.Grant.Caller, Repositories: r.Grant.Repositories,
			RepositoryIDs: r.Grant.RepositoryIDs, Permissions: r.Grant.Permissions}
		for _, c := range r.Match {
			mr.Match[c.Claim] = mCond{Values: c.Values, Patterns: c.Patterns}
		}
		m.Rules = append(m.Rules, mr)
	}
	if c := s.Ceiling; c != nil {
		m.Ceiling = &mCeiling{Permissions: c.Permissions, Repositories: c.Repositories, RepositoryIDs: c.RepositoryIDs}
		if len(c.Repositories) == 0 {
			m.Ceiling.Repositories = nil
		}
		for _, rc := range c.PerRepository {
			m.Ceiling.PerRepository = append(m.Ceiling.PerRepository, mRepositoryCeiling{
				Repositories: nilIfEmpty(rc.Repositories), RepositoryIDs: nilIfEmpty(rc.RepositoryIDs), Permissions: rc.Permissions})
		}
	}
	for _, w := range s.Waivers {
		m.Waivers = append(m.Waivers, mWaiver{Code: w.Code, Rule: w.Rule, Reason: w.Reason, Approver: w.Approver, Expires: w.Expires})
	}
	if o := s.Organization; o != nil {
		m.Organization = &mOrganization{PolicyRepository: o.PolicyRepository, PolicyPath: o.PolicyPath,
			Issuers: o.Issuers, RepositoryIDs: o.RepositoryIDs}
		if o.PolicyRefs != nil {
			m.Organization.PolicyRefs = &mCond{Values: o.PolicyRefs.Values, Patterns: o.PolicyRefs.Patterns}
		}
	}
	if s.Review != nil {
		rv := *s.Review
		rv.Exemptions = nil
		for _, e := range s.Review.Exemptions {
			e.File, e.Line = "", 0
			rv.Exemptions = append(rv.Exemptions, e)
		}
		m.Review = &rv
	}
	for _, tc := range s.Tests {
		m.Tests = append(m.Tests, mTest{Name: tc.Name, Claims: tc.Claims, Request: tc.Request, Expect: tc.Expect})
	}
	return m
}

// meaningOfExport is the cue command's side, read with encoding/json
// alone (no CUE), defaults applied as schemas/policy.cue documents them.
func meaningOfExport(data []byte) (meaning, error) {
	var doc struct {
		Rules []struct {
			Name            string
			RequireVerified bool `json:"requireVerified"`
			Match           map[string]json.RawMessage
			Grant           struct {
				Repositories json.RawMessage
				Permissions  map[string]string
			}
		}
		Ceiling *mCeiling
		Review  json.RawMessage
		Waivers []struct {
			Code, Rule, Reason, Approver, Expires string
		}
		Organization json.RawMessage
		Tests        []struct {
			Name    string
			Claims  json.RawMessage
			Request policy.Request
			Expect  policy.Expectation
		}
	}
	if err := strictJSON(data, &doc); err != nil {
		return meaning{}, err
	}
	var m meaning
	for _, r := range doc.Rules {
		mr := mRule{Name: r.Name, RequireVerified: r.RequireVerified, Match: map[string]mCond{}, Permissions: r.Grant.Permissions}
		for claim, raw := range r.Match {
			c, err := condOfJSON(raw)
			if err != nil {
				return meaning{}, fmt.Errorf("match.%s: %w", claim, err)
			}
			mr.Match[claim] = c
		}
		var all string
		if json.Unmarshal(r.Grant.Repositories, &all) == nil {
			mr.AllRepositories = all == "*"
		} else {
			repos, ids, err := repositoriesOfJSON(r.Grant.Repositories)
			if err != nil {
				return meaning{}, fmt.Errorf("grant.repositories: %w", err)
			}
			mr.RepositoryIDs = ids
			for _, repo := range repos {
				if repo == "caller" {
					mr.Caller = true
				} else {
					mr.Repositories = append(mr.Repositories, repo)
				}
			}
		}
		m.Rules = append(m.Rules, mr)
	}
	m.Ceiling = doc.Ceiling
	if m.Ceiling != nil {
		if m.Ceiling.RawPerRepository != nil {
			per, err := perRepositoryOfJSON(m.Ceiling.RawPerRepository)
			if err != nil {
				return meaning{}, fmt.Errorf("ceiling.per_repository: %w", err)
			}
			m.Ceiling.PerRepository, m.Ceiling.RawPerRepository = per, nil
		}
		if m.Ceiling.RawRepositories != nil {
			repos, ids, err := repositoriesOfJSON(m.Ceiling.RawRepositories)
			if err != nil {
				return meaning{}, fmt.Errorf("ceiling.repositories: %w", err)
			}
			m.Ceiling.Repositories, m.Ceiling.RepositoryIDs, m.Ceiling.RawRepositories = repos, ids, nil
		}
	}
	if doc.Review != nil {
		rv, err := reviewOfJSON(doc.Review)
		if err != nil {
			return meaning{}, fmt.Errorf("review: %w", err)
		}
		m.Review = rv
	}
	for _, w := range doc.Waivers {
		t, err := time.Parse(time.DateOnly, w.Expires)
		if err != nil {
			return meaning{}, fmt.Errorf("waivers: %w", err)
		}
		m.Waivers = append(m.Waivers, mWaiver{Code: w.Code, Rule: w.Rule, Reason: w.Reason, Approver: w.Approver, Expires: t})
	}
	if doc.Organization != nil {
		o, err := organizationOfJSON(doc.Organization)
		if err != nil {
			return meaning{}, fmt.Errorf("organization: %w", err)
		}
		m.Organization = o
	}
	for _, tc := range doc.Tests {
		c := policy.Claims{Verified: true}
		if err := json.Unmarshal(tc.Claims, &c); err != nil {
			return meaning{}, fmt.Errorf("claims: %w", err)
		}
		m.Tests = append(m.Tests, mTest{Name: tc.Name, Claims: c, Request: tc.Request, Expect: tc.Expect})
	}
	return m, nil
}

// strictJSON decodes data into v, refusing fields v does not have, so that
// a field the schema gains and this oracle does not know fails the test
// instead of going unchecked. apiVersion is the one field left out.
func strictJSON(data []byte, v any) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err == nil {
		delete(top, "apiVersion")
		data, _ = json.Marshal(top)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w (a field the schema gained? teach meaningOfSet and meaningOfExport in oracle_meaning_test.go what it means)", err)
	}
	return nil
}

func condOfJSON(raw json.RawMessage) (mCond, error) {
	var s string
	var b bool
	var list []string
	var pat struct{ Pattern string }
	switch {
	case json.Unmarshal(raw, &s) == nil:
		return mCond{Values: []string{s}}, nil
	case json.Unmarshal(raw, &b) == nil:
		return mCond{Values: []string{fmt.Sprint(b)}}, nil
	case json.Unmarshal(raw, &list) == nil:
		return mCond{Values: list}, nil
	case strictJSON(raw, &pat) == nil:
		return mCond{Patterns: []string{pat.Pattern}}, nil
	}
	return mCond{}, fmt.Errorf("not a value, a list or {pattern}: %s", raw)
}

func reviewOfJSON(raw json.RawMessage) (*policy.Review, error) {
	doc := struct {
		policy.Review
		Kinds      map[policy.CredentialKind]json.RawMessage `json:"kinds"`
		Exemptions []struct {
			policy.Exemption
			Expires string `json:"expires"`
		} `json:"exemptions"`
	}{Review: policy.Review{
		MaxIssuesPerRun: policy.DefaultMaxIssuesPerRun,
		Renotify:        policy.Renotify{Enabled: true, AfterDays: policy.DefaultRenotifyDays, MaxReminds: policy.DefaultMaxReminds},
	}}
	if err := strictJSON(raw, &doc); err != nil {
		return nil, err
	}
	rv := doc.Review
	if doc.Kinds != nil {
		rv.Kinds = map[policy.CredentialKind]policy.KindRule{}
		defs := policy.DefaultKindRules()
		for k, raw := range doc.Kinds {
			r := defs[k]
			if err := strictJSON(raw, &r); err != nil {
				return nil, fmt.Errorf("kinds.%s: %w", k, err)
			}
			rv.Kinds[k] = r
		}
	}
	for _, e := range doc.Exemptions {
		ex := e.Exemption
		t, err := time.Parse(time.DateOnly, e.Expires)
		if err != nil {
			return nil, err
		}
		ex.Expires = t
		rv.Exemptions = append(rv.Exemptions, ex)
	}
	return &rv, nil
}

// repositoriesOfJSON reads a list of repository names and {id: N} entries.
func repositoriesOfJSON(raw json.RawMessage) (names []string, ids []int64, _ error) {
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		var name string
		if json.Unmarshal(e, &name) == nil {
			names = append(names, name)
			continue
		}
		var byID struct{ ID int64 }
		if err := strictJSON(e, &byID); err != nil {
			return nil, nil, err
		}
		ids = append(ids, byID.ID)
	}
	return names, ids, nil
}

// perRepositoryOfJSON reads ceiling.per_repository: an entry's IDs are its
// {id: N} repositories, then its repository_ids.
func perRepositoryOfJSON(raw json.RawMessage) ([]mRepositoryCeiling, error) {
	var entries []struct {
		Repositories  json.RawMessage
		RepositoryIDs []int64 `json:"repository_ids"`
		Permissions   map[string]string
	}
	if err := strictJSON(raw, &entries); err != nil {
		return nil, err
	}
	var out []mRepositoryCeiling
	for _, e := range entries {
		rc := mRepositoryCeiling{Permissions: e.Permissions}
		if e.Repositories != nil {
			names, ids, err := repositoriesOfJSON(e.Repositories)
			if err != nil {
				return nil, fmt.Errorf("repositories: %w", err)
			}
			rc.Repositories, rc.RepositoryIDs = names, ids
		}
		rc.RepositoryIDs = nilIfEmpty(append(rc.RepositoryIDs, e.RepositoryIDs...))
		rc.Repositories = nilIfEmpty(rc.Repositories)
		out = append(out, rc)
	}
	return out, nil
}

// organizationOfJSON reads the organisation settings; repository_ids'
// names are compared in lower case.
func organizationOfJSON(raw json.RawMessage) (*mOrganization, error) {
	var doc struct {
		Policy *struct {
			Repository, Path string
		}
		Issuers       []string
		PolicyRefs    json.RawMessage  `json:"policy_refs"`
		RepositoryIDs map[string]int64 `json:"repository_ids"`
	}
	if err := strictJSON(raw, &doc); err != nil {
		return nil, err
	}
	o := &mOrganization{Issuers: doc.Issuers}
	if doc.Policy != nil {
		o.PolicyRepository, o.PolicyPath = doc.Policy.Repository, doc.Policy.Path
	}
	if doc.PolicyRefs != nil {
		c, err := condOfJSON(doc.PolicyRefs)
		if err != nil {
			return nil, fmt.Errorf("policy_refs: %w", err)
		}
		o.PolicyRefs = &c
	}
	if doc.RepositoryIDs != nil {
		o.RepositoryIDs = map[string]int64{}
		for name, id := range doc.RepositoryIDs {
			o.RepositoryIDs[strings.ToLower(name)] = id
		}
	}
	return o, nil
}

// nilIfEmpty makes an empty list nil, as a list left out.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

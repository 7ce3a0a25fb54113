package policy

import "regexp"

// APIVersion is the only policy language version this build reads.
const APIVersion = "jitkey.dev/v1"

// Set is a validated policy set: the rules of every policy file in file
// order, at most one ceiling and one review section, and the test cases
// of the *_test.cue files.
type Set struct {
	APIVersion string     `json:"apiVersion"`
	Files      []string   `json:"files"`
	Rules      []Rule     `json:"rules"`
	Ceiling    *Ceiling   `json:"ceiling,omitempty"`
	Review     *Review    `json:"review,omitempty"`
	Tests      []TestCase `json:"tests,omitempty"`
	Waivers    []Waiver   `json:"waivers,omitempty"`
	// Organization holds the organisation-only settings (organisation
	// policy only).
	Organization *Organization `json:"organization,omitempty"`
}

// Rule grants a scope to the jobs whose claims satisfy every condition.
type Rule struct {
	Name            string      `json:"name"`
	Pos             Pos         `json:"pos"`
	RequireVerified bool        `json:"requireVerified"`
	Match           []Condition `json:"match"`
	Grant           Grant       `json:"grant"`
}

// Condition is one claim test: the claim equals one of Values or matches
// one of Patterns (RE2, unanchored: write ^ and $ to anchor). For
// ref_protected, Values is ["true"] or ["false"].
type Condition struct {
	Claim    string   `json:"claim"`
	Values   []string `json:"values,omitempty"`
	Patterns []string `json:"patterns,omitempty"`
	Pos      Pos      `json:"pos"`

	// compiled holds Patterns compiled by Load; a Condition built by hand
	// (or whose Patterns changed) compiles through a process-wide cache.
	compiled []*regexp.Regexp
}

// Grant is the most a rule gives: repositories ("owner/name", or by
// immutable ID), the calling repository, or every repository of the
// installation, and permissions.
type Grant struct {
	Repositories []string `json:"repositories,omitempty"`
	// RepositoryIDs name repositories by ID ({id: N}): the repository with
	// that ID, as the job's repository_id claim or GitHub says, whatever
	// its name is now.
	RepositoryIDs   []int64           `json:"repository_ids,omitempty"`
	Caller          bool              `json:"caller,omitempty"`
	AllRepositories bool              `json:"allRepositories,omitempty"`
	Permissions     map[string]string `json:"permissions"`
	Pos             Pos               `json:"pos"`
}

// Ceiling caps every grant of the set. Repositories, when set, holds
// "owner/name" or "owner/*" entries, and RepositoryIDs the {id: N} ones;
// either set limits repositories.
type Ceiling struct {
	Permissions   map[string]string `json:"permissions"`
	Repositories  []string          `json:"repositories,omitempty"`
	RepositoryIDs []int64           `json:"repository_ids,omitempty"`
	// PerRepository caps the repositories each entry names further.
	PerRepository []RepositoryCeiling `json:"per_repository,omitempty"`
	Pos           Pos                 `json:"pos"`
}

// TestCase is one policy unit test: claims and request in, expectation out.
type TestCase struct {
	Name    string      `json:"name"`
	Pos     Pos         `json:"pos"`
	Claims  Claims      `json:"claims"`
	Request Request     `json:"request"`
	Expect  Expectation `json:"expect"`
}

// Expectation is what a test case expects of Decide. Rule, Permissions and
// Repositories are checked only when set.
type Expectation struct {
	Allow        bool              `json:"allow"`
	Rule         string            `json:"rule,omitempty"`
	Permissions  map[string]string `json:"permissions,omitempty"`
	Repositories []string          `json:"repositories,omitempty"`
}

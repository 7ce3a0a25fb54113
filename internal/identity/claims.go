package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/policy"
)

// Identity is a verified job token: the claims policies match on, and the
// facts an audit record needs.
type Identity struct {
	Claims            policy.Claims
	Issuer            string
	Audience          string
	TokenID           string // jti
	RepositoryID      string
	RepositoryOwnerID string
	IssuedAt          time.Time
	Expiry            time.Time
}

// extra holds the claims policy.Claims does not carry.
type extra struct {
	RepositoryID      json.RawMessage `json:"repository_id"`
	RepositoryOwnerID json.RawMessage `json:"repository_owner_id"`
	JTI               string          `json:"jti"`
}

// parseClaims reads GitHub's job claims from a token payload and checks that
// they hang together: a repository "owner/name" under repository_owner, and a
// subject that agrees with them. It does not check signature or time.
func parseClaims(payload []byte) (Identity, error) {
	var id Identity
	if err := json.Unmarshal(payload, &id.Claims); err != nil {
		return Identity{}, err
	}
	var x extra
	if err := json.Unmarshal(payload, &x); err != nil {
		return Identity{}, fmt.Errorf("parse claims: %w", err)
	}
	id.TokenID = x.JTI
	var err error
	if id.RepositoryID, err = idString(x.RepositoryID); err != nil {
		return Identity{}, fmt.Errorf("parse claims: repository_id: %w", err)
	}
	if id.RepositoryOwnerID, err = idString(x.RepositoryOwnerID); err != nil {
		return Identity{}, fmt.Errorf("parse claims: repository_owner_id: %w", err)
	}
	c := id.Claims
	owner, name, ok := strings.Cut(c.Repository, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return Identity{}, fmt.Errorf("claims: repository %q is not owner/name", c.Repository)
	}
	if !strings.EqualFold(owner, c.RepositoryOwner) {
		return Identity{}, fmt.Errorf("claims: repository %q is not owned by repository_owner %q", c.Repository, c.RepositoryOwner)
	}
	if err := checkSubject(id); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// idString accepts a numeric ID as GitHub sends it (a string) or as a number.
func idString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", errors.New("not a string or a number")
	}
	return n.String(), nil
}

// Subject is a parsed sub claim of the form repo:OWNER/REPO:CONTEXT or
// repo:OWNER@OWNER_ID/REPO@REPO_ID:CONTEXT.
type Subject struct {
	Owner, Repo     string
	OwnerID, RepoID string // set in the immutable form only
	Context         string // "ref:refs/heads/main", "environment:prod", "pull_request", ...
}

// ParseSubject parses a repo: subject. ok is false for a subject that does
// not start with "repo:" (an organisation's custom subject template).
func ParseSubject(sub string) (s Subject, ok bool, err error) {
	rest, ok := strings.CutPrefix(sub, "repo:")
	if !ok {
		return Subject{}, false, nil
	}
	repo, ctx, found := strings.Cut(rest, ":")
	if !found || ctx == "" {
		return Subject{}, true, fmt.Errorf("subject %q has no context after the repository", sub)
	}
	owner, name, found := strings.Cut(repo, "/")
	if !found || owner == "" || name == "" {
		return Subject{}, true, fmt.Errorf("subject %q does not name owner/repository", sub)
	}
	s = Subject{Owner: owner, Repo: name, Context: ctx}
	if strings.Contains(owner, "@") || strings.Contains(name, "@") {
		var ok1, ok2 bool
		s.Owner, s.OwnerID, ok1 = strings.Cut(owner, "@")
		s.Repo, s.RepoID, ok2 = strings.Cut(name, "@")
		if !ok1 || !ok2 || !digits(s.OwnerID) || !digits(s.RepoID) || s.Owner == "" || s.Repo == "" {
			return Subject{}, true, fmt.Errorf("subject %q: want the form repo:OWNER@OWNER_ID/REPO@REPO_ID:CONTEXT", sub)
		}
	}
	return s, true, nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// checkSubject refuses a repo: subject that names another repository than
// the repository claim, other IDs, or a context that contradicts the ref,
// environment or event claims. Custom subject templates are accepted as they
// are: policies match on the individual claims, never on sub.
func checkSubject(id Identity) error {
	c := id.Claims
	s, isRepo, err := ParseSubject(c.Subject)
	if err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	if c.Subject == "" {
		return errors.New("claims: the token has no subject")
	}
	if !isRepo {
		return nil
	}
	if !strings.EqualFold(s.Owner+"/"+s.Repo, c.Repository) {
		return fmt.Errorf("claims: subject names %s/%s but repository is %s", s.Owner, s.Repo, c.Repository)
	}
	if s.OwnerID != "" && (s.OwnerID != id.RepositoryOwnerID || s.RepoID != id.RepositoryID) {
		return fmt.Errorf("claims: subject IDs %s/%s differ from repository_owner_id %q and repository_id %q",
			s.OwnerID, s.RepoID, id.RepositoryOwnerID, id.RepositoryID)
	}
	// Custom templates may append more "key:value" pairs; compare the first.
	kind, val, _ := strings.Cut(s.Context, ":")
	val, _, _ = strings.Cut(val, ":")
	switch kind {
	case "environment":
		if val != c.Environment {
			return fmt.Errorf("claims: subject environment %q differs from environment %q", val, c.Environment)
		}
	case "ref":
		if val != c.Ref {
			return fmt.Errorf("claims: subject ref %q differs from ref %q", val, c.Ref)
		}
	case "pull_request":
		if !strings.HasPrefix(c.EventName, "pull_request") {
			return fmt.Errorf("claims: subject says pull_request but event_name is %q", c.EventName)
		}
	}
	return nil
}

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

	// The job: run_id, run_attempt and check_run_id (the job's check run,
	// absent from tokens of older GitHub Enterprise Server versions).
	RunID, RunAttempt, CheckRunID string
}

// parseClaims reads GitHub's job claims from a token payload, whose members
// readClaims split (each named once), and checks that they hang together: a
// repository "owner/name" under repository_owner, and a subject that agrees
// with them. It does not check signature or time.
func parseClaims(payload []byte, cs claimSet) (Identity, error) {
	var id Identity
	if err := json.Unmarshal(payload, &id.Claims); err != nil {
		return Identity{}, err
	}
	var err error
	if id.TokenID, err = cs.str("jti"); err != nil {
		return Identity{}, fmt.Errorf("parse claims: %w", err)
	}
	id.RepositoryID, id.RepositoryOwnerID = id.Claims.RepositoryID, id.Claims.RepositoryOwnerID
	for _, f := range []struct {
		name string
		dst  *string
	}{{"run_id", &id.RunID}, {"run_attempt", &id.RunAttempt}, {"check_run_id", &id.CheckRunID}} {
		v := strings.Trim(string(cs.get(f.name)), `"`)
		if v != "" && v != "null" && !isID(v) {
			return Identity{}, fmt.Errorf("claims: %s is not a number", f.name)
		}
		if v != "null" {
			*f.dst = v
		}
	}
	c := id.Claims
	for name, v := range map[string]string{"repository_id": c.RepositoryID, "repository_owner_id": c.RepositoryOwnerID, "enterprise_id": c.EnterpriseID} {
		if v != "" && !isID(v) {
			return Identity{}, fmt.Errorf("claims: %s is not a numeric ID", name)
		}
	}
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

// Subject is a parsed sub claim; see policy.Subject.
type Subject = policy.Subject

// ParseSubject parses a repo: subject; see policy.ParseSubject.
func ParseSubject(sub string) (Subject, bool, error) { return policy.ParseSubject(sub) }

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

// isID reports whether s is a GitHub numeric ID: decimal digits, no sign.
func isID(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

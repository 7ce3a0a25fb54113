package ghsim

import (
	"sort"
	"time"
)

// TokenKind tells installation tokens from job (GITHUB_TOKEN-like) tokens.
type TokenKind string

const (
	TokenInstallation TokenKind = "installation"
	TokenJob          TokenKind = "job"
)

// TokenState is where a token is in its life.
type TokenState string

const (
	StateValid   TokenState = "valid"
	StateRevoked TokenState = "revoked"
	StateExpired TokenState = "expired"
)

type token struct {
	id        int64
	hash      string
	kind      TokenKind
	inst      *installation // nil for job tokens
	appID     int64
	selection string         // "all" or "selected"
	repos     map[int64]bool // selected repository IDs
	repoNames []string
	perms     map[string]string
	created   time.Time
	expires   time.Time
	revoked   *time.Time
}

func (t *token) validAt(now time.Time) bool {
	return t.revoked == nil && now.Before(t.expires)
}

func (t *token) covers(r *repo) bool {
	if t.selection == "all" {
		return t.inst != nil && t.inst.covers(r)
	}
	return t.repos[r.ID]
}

// TokenRecord is the ledger's view of one token. It never holds the token itself.
type TokenRecord struct {
	ID                  int64
	Kind                TokenKind
	SHA256              string // HashToken of the token
	AppID               int64  // the App that minted it; 0 for job tokens
	InstallationID      int64  // 0 for job tokens
	RepositorySelection string // "all" or "selected"
	Repositories        []string
	Permissions         map[string]string
	CreatedAt           time.Time
	ExpiresAt           time.Time
	RevokedAt           *time.Time
	state               TokenState
}

// State is the token's state when the record was taken.
func (r TokenRecord) State() TokenState { return r.state }

// Ledger lists every installation token minted, oldest first, with its state now.
// Job tokens are not in it.
func (s *Sim) Ledger() []TokenRecord { return s.records(false) }

// ValidTokens lists the installation tokens still valid now.
func (s *Sim) ValidTokens() []TokenRecord { return s.records(true) }

// TokenByValue returns the ledger record of tok, if the simulator issued it.
func (s *Sim) TokenByValue(tok string) (TokenRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[HashToken(tok)]
	if t == nil {
		return TokenRecord{}, false
	}
	return t.record(s.Now()), true
}

func (s *Sim) records(validOnly bool) []TokenRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	var out []TokenRecord
	for _, t := range s.tokenList {
		if t.kind != TokenInstallation || (validOnly && !t.validAt(now)) {
			continue
		}
		out = append(out, t.record(now))
	}
	return out
}

func (t *token) record(now time.Time) TokenRecord {
	rec := TokenRecord{
		ID: t.id, Kind: t.kind, SHA256: t.hash, AppID: t.appID,
		RepositorySelection: t.selection, Repositories: append([]string(nil), t.repoNames...),
		Permissions: map[string]string{}, CreatedAt: t.created, ExpiresAt: t.expires,
	}
	if t.inst != nil {
		rec.InstallationID = t.inst.ID
	}
	for k, v := range t.perms {
		rec.Permissions[k] = v
	}
	sort.Strings(rec.Repositories)
	switch {
	case t.revoked != nil:
		r := *t.revoked
		rec.RevokedAt, rec.state = &r, StateRevoked
	case !now.Before(t.expires):
		rec.state = StateExpired
	default:
		rec.state = StateValid
	}
	return rec
}

// addToken stores a new token in format f. Callers hold s.mu.
func (s *Sim) addToken(t *token, f TokenFormat) string {
	value := s.newTokenValue(f, t)
	t.id = s.newID()
	t.hash = HashToken(value)
	s.tokens[t.hash] = t
	s.tokenList = append(s.tokenList, t)
	return value
}

// JobToken returns a GITHUB_TOKEN-like token for "owner/repo": contents read,
// issues write and metadata read on that repository alone, valid for 24 hours.
func (s *Sim) JobToken(fullName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, name, _ := cut(fullName, "/")
	r := s.repoByName(owner, name)
	if r == nil {
		panic("ghsim: JobToken: no repository " + fullName)
	}
	now := s.Now()
	return s.addToken(&token{
		kind: TokenJob, selection: "selected", repos: map[int64]bool{r.ID: true}, repoNames: []string{r.Name},
		perms:   map[string]string{"contents": "read", "issues": "write", "metadata": "read"},
		created: now, expires: now.Add(24 * time.Hour),
	}, s.tokenFormat(nil))
}

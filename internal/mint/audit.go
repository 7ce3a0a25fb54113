package mint

import (
	"encoding/json"
	"time"

	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/policy"
)

// Record is one audit line: who asked, whether their identity was verified,
// what the policy decided and what was minted or revoked. It never holds a
// token, only a prefix of its SHA-256.
type Record struct {
	Time           time.Time         `json:"time"`
	Event          string            `json:"event"`   // "mint" or "revoke"
	Outcome        string            `json:"outcome"` // minted, denied, error, revoked, already_revoked, revoke_failed
	Actor          string            `json:"actor,omitempty"`
	Repository     string            `json:"repository,omitempty"`
	Ref            string            `json:"ref,omitempty"`
	WorkflowRef    string            `json:"workflow_ref,omitempty"`
	Environment    string            `json:"environment,omitempty"`
	EventName      string            `json:"event_name,omitempty"`
	Verified       bool              `json:"verified"`
	Rule           string            `json:"rule,omitempty"`
	Reason         string            `json:"reason,omitempty"`
	Repositories   []string          `json:"repositories,omitempty"`
	Permissions    map[string]string `json:"permissions,omitempty"`
	InstallationID int64             `json:"installation_id,omitempty"`
	ExpiresAt      *time.Time        `json:"expires_at,omitempty"`
	TokenSHA256    string            `json:"token_sha256,omitempty"` // the first 16 hex digits
	PolicySHA      string            `json:"policy_sha,omitempty"`
	ErrorClass     string            `json:"error_class,omitempty"`
	Error          string            `json:"error,omitempty"`
}

// NewRecord starts a record for an event with the asker's claims.
func NewRecord(now time.Time, event string, c policy.Claims) Record {
	return Record{Time: now.UTC(), Event: event, Actor: c.Actor, Repository: c.Repository, Ref: c.Ref,
		WorkflowRef: c.WorkflowRef, Environment: c.Environment, EventName: c.EventName, Verified: c.Verified}
}

// WithGrant fills the record from a minted grant.
func (r Record) WithGrant(g *Grant) Record {
	r.Outcome = "minted"
	r.Rule, r.Reason = g.Decision.Rule, g.Decision.Reason
	r.Repositories, r.Permissions = g.Repositories, g.Permissions
	r.InstallationID = g.InstallationID
	exp := g.ExpiresAt.UTC()
	r.ExpiresAt = &exp
	r.TokenSHA256 = ShortSHA(g.SHA256)
	r.PolicySHA = g.PolicySHA
	return r
}

// WithError fills the record from a failure; a denial keeps its decision.
func (r Record) WithError(err error) Record {
	if d, ok := err.(*DeniedError); ok {
		r.Outcome, r.Rule, r.Reason = "denied", d.Decision.Rule, d.Decision.Reason
		return r
	}
	r.Outcome = "error"
	if r.Event == "revoke" {
		r.Outcome = string(RevokeFailed)
	}
	r.ErrorClass = string(github.ClassOf(err))
	r.Error = github.Redact(err.Error())
	return r
}

// JSON encodes the record as one line, without a trailing newline.
func (r Record) JSON() []byte {
	b, _ := json.Marshal(r) // a Record always encodes
	return b
}

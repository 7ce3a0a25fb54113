// Package audit holds jitkey's audit record: one JSON line per mint and per
// revoke, saying who asked, what was decided and what became of the token.
// It never holds a token, only a prefix of its SHA-256. The package links no
// policy engine, so the post step's binary can write records too.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/jitkey/jitkey/internal/github"
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
	PolicySHA      string            `json:"policy_sha,omitempty"`   // the organisation policy's commit
	// PolicyRef is the ref the caller's policy was read at (the default
	// branch's name unless policy-ref named another); Policies every policy
	// directory read, with its commit; Consents which policy allowed each
	// repository.
	PolicyRef  string       `json:"policy_ref,omitempty"`
	Policies   []PolicyRead `json:"policies,omitempty"`
	Consents   []Consent    `json:"consents,omitempty"`
	ErrorClass string       `json:"error_class,omitempty"`
	Error      string       `json:"error,omitempty"`
}

// PolicyRead is one policy directory a decision read.
type PolicyRead struct {
	Repository string `json:"repository"` // "owner/name"
	Path       string `json:"path"`
	Ref        string `json:"ref"`    // the branch or ref read
	Commit     string `json:"commit"` // its commit SHA
	Files      int    `json:"files"`
}

// Consent names the policy and rule that allowed a repository.
type Consent struct {
	Repository string `json:"repository"`
	Policy     string `json:"policy"` // "organization" or the "owner/name" whose policy it is
	Rule       string `json:"rule"`
}

// Who is the identity a record speaks of: the job that asked.
type Who struct {
	Actor, Repository, Ref, WorkflowRef, Environment, EventName string
	Verified                                                    bool
}

// NewRecord starts a record for an event ("mint" or "revoke").
func NewRecord(now time.Time, event string, w Who) Record {
	return Record{Time: now.UTC(), Event: event, Actor: w.Actor, Repository: w.Repository, Ref: w.Ref,
		WorkflowRef: w.WorkflowRef, Environment: w.Environment, EventName: w.EventName, Verified: w.Verified}
}

// WithError fills the record from a failure: outcome "error", or
// "revoke_failed" for a revoke, with the error's class and redacted text.
func (r Record) WithError(err error) Record {
	r.Outcome = "error"
	if r.Event == "revoke" {
		r.Outcome = "revoke_failed"
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

// SHA256Hex is the hex SHA-256 of a token, for correlating audit records.
func SHA256Hex(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ShortSHA is the prefix of a token's SHA-256 used in records, summaries
// and warnings.
func ShortSHA(sha string) string {
	if len(sha) > 16 {
		return sha[:16]
	}
	return sha
}

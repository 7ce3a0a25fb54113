package mint

import (
	"time"

	"github.com/jitkey/jitkey/internal/audit"
	"github.com/jitkey/jitkey/internal/policy"
)

// Record is one audit line (see package audit).
type Record = audit.Record

// NewRecord starts a record for an event with the asker's claims.
func NewRecord(now time.Time, event string, c policy.Claims) Record {
	return audit.NewRecord(now, event, audit.Who{Actor: c.Actor, Repository: c.Repository, Ref: c.Ref,
		WorkflowRef: c.WorkflowRef, Environment: c.Environment, EventName: c.EventName, Verified: c.Verified})
}

// WithGrant fills the record from a minted grant.
func WithGrant(r Record, g *Grant) Record {
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
func WithError(r Record, err error) Record {
	if d, ok := err.(*DeniedError); ok {
		r.Outcome, r.Rule, r.Reason = "denied", d.Decision.Rule, d.Decision.Reason
		return r
	}
	return r.WithError(err)
}

// SHA256Hex is the hex SHA-256 of a token, for correlating audit records.
func SHA256Hex(token string) string { return audit.SHA256Hex(token) }

// ShortSHA is the prefix of a token's SHA-256 used in summaries and warnings.
func ShortSHA(sha string) string { return audit.ShortSHA(sha) }

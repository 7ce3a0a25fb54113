package mint

import (
	"strings"
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
	return withPolicies(r, g.Decision, g.Policies, g.PolicyRef)
}

// withPolicies records the policies read, the ref and the consents.
func withPolicies(r Record, d policy.Decision, pols []PolicyRead, ref string) Record {
	r.Policies = pols
	if len(pols) > 0 {
		r.PolicySHA = pols[0].Commit
	}
	r.PolicyRef = ref
	for _, p := range pols[min(1, len(pols)):] {
		if ref == "" && strings.EqualFold(p.Repository, r.Repository) {
			r.PolicyRef = p.Ref
		}
	}
	for _, c := range d.Consents {
		r.Consents = append(r.Consents, audit.Consent{Repository: c.Repository, Policy: c.Policy, Rule: c.Rule})
	}
	return r
}

// WithError fills the record from a failure; a denial keeps its decision.
func WithError(r Record, err error) Record {
	if d, ok := err.(*DeniedError); ok {
		r = withPolicies(r, d.Decision, d.Policies, "")
		r.Outcome, r.Rule, r.Reason = "denied", d.Decision.Rule, d.Decision.Reason
		return r
	}
	return r.WithError(err)
}

// SHA256Hex is the hex SHA-256 of a token, for correlating audit records.
func SHA256Hex(token string) string { return audit.SHA256Hex(token) }

// ShortSHA is the prefix of a token's SHA-256 used in summaries and warnings.
func ShortSHA(sha string) string { return audit.ShortSHA(sha) }

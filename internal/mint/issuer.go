package mint

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jitkey/jitkey/internal/identity"
	"github.com/jitkey/jitkey/internal/policy"
)

// WithDefaultIssuers sets the OIDC issuers accepted when the organisation
// policy lists none in organization.issuers (default: github.com's,
// identity.GitHubIssuer). The action passes the issuer of the GitHub it
// runs on; the broker its configured issuers.
func WithDefaultIssuers(issuers ...string) Option {
	return func(m *Minter) { m.issuers = issuers }
}

// issuerRefusal is the reason a verified identity's issuer is refused by
// the organisation policy read from orgRepo, or "": a token of an issuer
// the organisation did not accept gets nothing, whoever verified it.
// Claims that are not verified carry no issuer to check.
func (m *Minter) issuerRefusal(org *policy.Organization, orgRepo string, c policy.Claims, iss string) string {
	if !c.Verified {
		return ""
	}
	accepted, listed := m.issuers, org != nil && len(org.Issuers) > 0
	if listed {
		accepted = org.Issuers
	}
	if len(accepted) == 0 {
		accepted = []string{identity.GitHubIssuer}
	}
	norm := func(s string) string { return strings.TrimRight(s, "/") }
	if iss != "" && slices.ContainsFunc(accepted, func(a string) bool { return norm(a) == norm(iss) }) {
		return ""
	}
	quoted := make([]string, len(accepted))
	for i, a := range accepted {
		quoted[i] = strconv.Quote(a)
	}
	which := "lists " + strings.Join(quoted, ", ")
	if !listed {
		which = "lists none, so only the default " + strings.Join(quoted, ", ") + " is accepted"
	}
	got := "no issuer"
	if iss != "" {
		got = "issuer " + strconv.Quote(clip(iss, 200))
	}
	return fmt.Sprintf("the job's OIDC token has %s, which the organisation policy (%s) does not accept: organization.issuers %s; "+
		"run the job on a GitHub the organisation accepts, or have the organisation policy's owners add the issuer to organization.issuers",
		got, orgRepo, which)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

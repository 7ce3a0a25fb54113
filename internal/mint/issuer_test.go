package mint_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/identity"
	"github.com/jitkey/jitkey/internal/mint"
)

// TestIssuerAccepted: the organisation policy's organization.issuers
// decides which OIDC issuers' tokens get anything; without the list, the
// default the edge configured (the GitHub it runs on), else github.com's.
func TestIssuerAccepted(t *testing.T) {
	t.Parallel()
	const ghes = "https://ghes.acme.example/_services/token"
	custom := identity.GitHubIssuer + "/acme-enterprise"
	tests := []struct {
		name     string
		listed   string // organization.issuers, CUE; "" for none
		defaults []string
		issuer   string
		verified bool
		allowed  bool
	}{
		{name: "github.com by default", issuer: identity.GitHubIssuer, verified: true, allowed: true},
		{name: "an enterprise's custom issuer, not listed", issuer: custom, verified: true},
		{name: "an enterprise's custom issuer, listed", listed: `["` + custom + `"]`, issuer: custom, verified: true, allowed: true},
		{name: "listed with a trailing slash", listed: `["` + custom + `/"]`, issuer: custom, verified: true, allowed: true},
		{name: "a GHES host, listed", listed: `["` + ghes + `"]`, issuer: ghes, verified: true, allowed: true},
		{name: "github.com when only a GHES host is listed", listed: `["` + ghes + `"]`, issuer: identity.GitHubIssuer, verified: true},
		{name: "the edge's default (the GHES it runs on)", defaults: []string{ghes}, issuer: ghes, verified: true, allowed: true},
		{name: "github.com when the edge's default is a GHES host", defaults: []string{ghes}, issuer: identity.GitHubIssuer, verified: true},
		{name: "the list overrides the edge's default", listed: `["` + custom + `"]`, defaults: []string{ghes}, issuer: ghes, verified: true},
		{name: "unverified claims carry no issuer to check", issuer: "", verified: false, allowed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if tt.listed != "" {
				f.sim.PutFile("acme", ".github", "main", ".github/jitkey/issuers.cue", []byte("apiVersion: \"jitkey.dev/v1\"\norganization: issuers: "+tt.listed+"\n"))
			}
			m := f.m
			if tt.defaults != nil {
				m = f.minterWith(t, mint.WithDefaultIssuers(tt.defaults...))
			}
			in := deployInput()
			in.Issuer, in.Claims.Verified = tt.issuer, tt.verified
			in.Request.Repositories = []string{"api"}
			if !tt.verified {
				in.Claims.EventName, in.Claims.Environment, in.Request.Permissions = "pull_request", "", map[string]string{"contents": "read"}
			}
			d, err := m.Decide(context.Background(), in)
			require.NoError(t, err)
			assert.Equal(t, tt.allowed, d.Decision.Allowed, "%s", d.Decision.Reason)
			if !tt.allowed {
				assert.Equal(t, "acme/.github", d.Decision.Refused)
				assert.Contains(t, d.Decision.Reason, "organization.issuers")
				_, err := m.Mint(context.Background(), in)
				var denied *mint.DeniedError
				require.True(t, errors.As(err, &denied), "%v", err)
				assert.Empty(t, jobTokensOf(f), "nothing minted for the job")
			}
		})
	}
}

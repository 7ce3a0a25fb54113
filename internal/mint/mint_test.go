package mint_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/mint"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/source"
)

func TestMintAllowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        func(mint.Input) mint.Input
		rule      string
		repos     []string
		perms     map[string]string
		calls     int
		givenInst bool
		// reads are the repositories of each policy-read token, in order:
		// those whose policies were read, nothing more.
		reads [][]string
	}{
		{name: "whole grant: the rule names a repository the request did not", in: func(i mint.Input) mint.Input { return i }, rule: "deploy",
			repos: []string{"acme/api", "acme/infra"}, perms: map[string]string{"contents": "read", "deployments": "write"}, calls: 6,
			reads: [][]string{{".github", "api"}, {"infra"}}},
		{name: "narrower request", in: func(i mint.Input) mint.Input {
			i.Request = policy.Request{Repositories: []string{"infra"}, Permissions: map[string]string{"deployments": "read"}}
			return i
		}, rule: "api-deploys", repos: []string{"acme/infra"}, perms: map[string]string{"deployments": "read"}, calls: 4,
			reads: [][]string{{".github", "api", "infra"}}},
		{name: "installation id given", in: func(i mint.Input) mint.Input {
			i.Request = policy.Request{Repositories: []string{"api", "infra"}}
			return i
		}, givenInst: true, rule: "deploy",
			repos: []string{"acme/api", "acme/infra"}, perms: map[string]string{"contents": "read", "deployments": "write"}, calls: 4,
			reads: [][]string{{".github", "api", "infra"}}},
		{name: "unverified job on an open rule", in: func(i mint.Input) mint.Input {
			i.Claims = policy.Claims{Repository: "acme/api", RepositoryOwner: "acme", EventName: "pull_request"}
			return i
		}, rule: "ci-read", repos: []string{"acme/api"}, perms: map[string]string{"contents": "read"}, calls: 4,
			reads: [][]string{{".github", "api"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			in := tt.in(deployInput())
			if tt.givenInst {
				in.InstallationID = f.inst.ID
			}
			g, err := f.m.Mint(context.Background(), in)
			require.NoError(t, err)
			assert.Equal(t, tt.rule, g.Decision.Rule)
			assert.Equal(t, tt.repos, g.Repositories)
			assert.Equal(t, tt.perms, g.Permissions)
			assert.Equal(t, f.inst.ID, g.InstallationID)
			assert.Equal(t, tt.calls, totalCalls(f.sim), "API calls: %v", f.sim.Calls())
			assert.Zero(t, f.sim.Calls()["DELETE /installation/token"], "the read token is revoked off the mint's path")
			ledger := f.sim.Ledger()
			require.Len(t, ledger, len(tt.reads)+1)
			for i, want := range tt.reads {
				assert.Equal(t, map[string]string{"contents": "read", "metadata": "read"}, ledger[i].Permissions, "read token %d", i)
				assert.Equal(t, "selected", ledger[i].RepositorySelection)
				assert.ElementsMatch(t, want, ledger[i].Repositories, "read token %d covers the policies read, no more", i)
			}
			assert.Equal(t, "jitkey", g.AppSlug)
			require.NotEmpty(t, g.Policies)
			assert.Equal(t, "acme/.github", g.Policies[0].Repository, "the organisation policy is read first")
			assert.Len(t, g.Policies[0].Commit, 40)
			rec, ok := f.sim.TokenByValue(g.Token.Reveal())
			require.True(t, ok)
			assert.Equal(t, g.SHA256, rec.SHA256)
			assert.Equal(t, ghsim.StateValid, rec.State())
			wantPerms := map[string]string{"metadata": "read"}
			for k, v := range tt.perms {
				wantPerms[k] = v
			}
			assert.Equal(t, wantPerms, rec.Permissions, "the token has exactly the decided permissions")
			assert.Equal(t, "selected", rec.RepositorySelection)
			assert.WithinDuration(t, f.clk.Now().Add(time.Hour), g.ExpiresAt, 2*time.Second)
		})
	}
}

func TestMintDenied(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		claims    policy.Claims
		req       policy.Request
		nearMiss  string
		reasonHas string
	}{
		{name: "unverified cannot use a verified rule", claims: func() policy.Claims { c := deployClaims(); c.Verified = false; return c }(),
			nearMiss: "deploy", reasonHas: "no rule in the policy of acme/api or the organisation policy matches"},
		{name: "wrong ref", claims: func() policy.Claims { c := deployClaims(); c.Ref = "refs/heads/dev"; return c }(),
			nearMiss: "deploy", reasonHas: "no rule in the policy of acme/api or the organisation policy matches"},
		{name: "more than granted", claims: deployClaims(), req: policy.Request{Permissions: map[string]string{"contents": "write"}},
			reasonHas: "refuses: rule \"api-deploys\" (policy of acme/infra) matches, but it grants contents: read, not write"},
		{name: "repository not consenting", claims: deployClaims(), req: policy.Request{Repositories: []string{"acme/web"}},
			reasonHas: "acme/web refuses"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			in := deployInput()
			in.Claims, in.Request = tt.claims, tt.req
			g, err := f.m.Mint(context.Background(), in)
			require.Error(t, err)
			assert.Nil(t, g)
			var denied *mint.DeniedError
			require.True(t, errors.As(err, &denied), "%v", err)
			assert.Contains(t, denied.Decision.Reason, tt.reasonHas)
			if tt.nearMiss != "" {
				require.NotEmpty(t, denied.Decision.NearMisses)
				assert.Contains(t, mint.Explain(denied.Decision), tt.nearMiss)
			}
			assert.LessOrEqual(t, appCalls(f.sim), 3, "a denial costs the installation lookup and one or two read tokens")
			assert.LessOrEqual(t, totalCalls(f.sim), 5, "and one or two reads")
			for _, rec := range f.sim.Ledger() {
				assert.Equal(t, map[string]string{"contents": "read", "metadata": "read"}, rec.Permissions, "a denial mints nothing but the read token")
			}
		})
	}
}

func TestMintErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(f *fixture) mint.Input
		class github.Class
		check func(t *testing.T, err error)
	}{
		{name: "organisation policy missing", setup: func(f *fixture) mint.Input {
			in := deployInput()
			in.OrgPolicy = source.Location{Repository: "acme/api", Path: "nope"}
			return in
		}, class: github.ClassPolicyUnavailable},
		{name: "policy invalid", setup: func(f *fixture) mint.Input {
			f.sim.PutFile("acme", "api", "main", policyPath, []byte("apiVersion: \"jitkey.dev/v1\"\nrules: [{name: 1}]\n"))
			return deployInput()
		}, check: func(t *testing.T, err error) {
			var pe *mint.PolicyInvalidError
			require.True(t, errors.As(err, &pe), "%v", err)
			var diags policy.Errors
			require.True(t, errors.As(err, &diags))
			assert.Contains(t, err.Error(), "acme/api:.github/jitkey")
			assert.Contains(t, err.Error(), policyPath+":")
		}},
		{name: "permission not granted to the installation", setup: func(f *fixture) mint.Input {
			in := deployInput()
			in.Claims = policy.Claims{Repository: "acme/api", RepositoryOwner: "acme", EventName: "schedule"}
			return in
		}, class: github.ClassPermissionNotGranted},
		{name: "repository outside the installation", setup: func(f *fixture) mint.Input {
			in := deployInput()
			in.Claims = policy.Claims{Repository: "acme/api", RepositoryOwner: "acme", EventName: "release"}
			return in
		}, class: github.ClassNotInstalled},
		{name: "installation id of nothing", setup: func(f *fixture) mint.Input {
			in := deployInput()
			in.InstallationID = 777
			return in
		}, class: github.ClassNotInstalled},
		{name: "no repository claim", setup: func(f *fixture) mint.Input {
			in := deployInput()
			in.Claims.Repository = ""
			return in
		}, check: func(t *testing.T, err error) { assert.Contains(t, err.Error(), "not owner/name") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			_, err := f.m.Mint(context.Background(), tt.setup(f))
			require.Error(t, err)
			if tt.class != "" {
				assert.Equal(t, tt.class, github.ClassOf(err), "%v", err)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
			assert.Empty(t, f.validMinted(t))
		})
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.mint(t)
	before := totalCalls(f.sim)
	out, err := f.m.Revoke(context.Background(), g.Token)
	require.NoError(t, err)
	assert.Equal(t, mint.Revoked, out)
	assert.Equal(t, 1, totalCalls(f.sim)-before, "a revoke is one API call")
	rec, _ := f.sim.TokenByValue(g.Token.Reveal())
	assert.Equal(t, ghsim.StateRevoked, rec.State())

	out, err = f.m.Revoke(context.Background(), g.Token)
	require.NoError(t, err)
	assert.Equal(t, mint.AlreadyRevoked, out)

	expired := f.mint(t)
	f.clk.Advance(61 * time.Minute)
	out, err = f.m.Revoke(context.Background(), expired.Token)
	require.NoError(t, err)
	assert.Equal(t, mint.AlreadyRevoked, out, "an expired token is gone")
}

func TestRevokeThroughFaults(t *testing.T) {
	t.Parallel()
	for _, kind := range []ghsim.FaultKind{ghsim.FaultStatus500, ghsim.FaultReset, ghsim.FaultTruncated} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			g := f.mint(t)
			f.sim.Fault(ghsim.FaultSpec{Method: "DELETE", Kind: kind, Count: 2})
			out, err := f.m.Revoke(context.Background(), g.Token)
			require.NoError(t, err)
			assert.Contains(t, []mint.RevokeOutcome{mint.Revoked, mint.AlreadyRevoked}, out)
			assert.Empty(t, f.validMinted(t))
		})
	}
}

func TestRevokeGivesUpWithinDeadline(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.mint(t)
	f.sim.Fault(ghsim.FaultSpec{Method: "DELETE", Kind: ghsim.FaultStatus500})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	out, err := f.m.Revoke(ctx, g.Token)
	require.Error(t, err)
	assert.Equal(t, mint.RevokeFailed, out)
	assert.Equal(t, github.ClassServer, github.ClassOf(err))
	assert.NotContains(t, err.Error(), g.Token.Reveal())
}

func TestLostMintAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind ghsim.FaultKind
		// recovered: the half of the answer that arrived holds the token
		// (GitHub and the simulator write it first), so mint revokes it.
		recovered bool
	}{
		{ghsim.FaultTruncated, true},
		{ghsim.FaultHostile, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.warm(t)
			f.sim.Fault(ghsim.FaultSpec{Method: "POST", Path: "/app/installations/{installation_id}/access_tokens", Kind: tt.kind, Count: 1})
			_, err := f.m.Mint(context.Background(), deployInput())
			require.Error(t, err)
			var lost *mint.LostTokenError
			require.True(t, errors.As(err, &lost), "%v", err)
			assert.Equal(t, f.inst.ID, lost.InstallationID)
			assert.Equal(t, tt.recovered, lost.Recovered, "%v", err)
			if tt.recovered {
				assert.NoError(t, lost.RevokeErr)
				assert.Empty(t, f.validMinted(t), "the recovered token is revoked")
				assert.Contains(t, err.Error(), "was revoked")
			} else {
				assert.Contains(t, err.Error(), "expires by")
			}
			for _, rec := range f.sim.Ledger() {
				assert.NotContains(t, err.Error(), rec.SHA256)
			}
		})
	}
}

func TestRecoverTokenFromBrokenAnswer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// GitHub puts the token first; a break after it leaves the token readable.
	// Driven directly here, with the break right after the token.
	g := f.mint(t)
	body := []byte(`{"token":"` + g.Token.Reveal() + `","expires_at":"20`)
	err := mint.RecoverLost(context.Background(), f.m, 1, &github.LostAnswerError{Status: 201, Partial: body})
	var lost *mint.LostTokenError
	require.True(t, errors.As(err, &lost))
	assert.True(t, lost.Recovered)
	assert.NoError(t, lost.RevokeErr)
	assert.Equal(t, g.SHA256, lost.SHA256)
	assert.Empty(t, f.validMinted(t))
	assert.NotContains(t, err.Error(), g.Token.Reveal())
}

func TestAuditRecord(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := f.mint(t)
	line := mint.WithGrant(mint.NewRecord(f.clk.Now(), "mint", deployClaims()), g).JSON()
	assert.NotContains(t, string(line), g.Token.Reveal())
	assert.NotContains(t, string(line), "\n")
	var m map[string]any
	require.NoError(t, json.Unmarshal(line, &m))
	assert.Equal(t, "minted", m["outcome"])
	assert.Equal(t, "deploy", m["rule"])
	assert.Equal(t, true, m["verified"])
	assert.Equal(t, "octocat", m["actor"])
	assert.Equal(t, g.SHA256[:16], m["token_sha256"])
	assert.Equal(t, "main", m["policy_ref"], "the ref the caller's policy was read at")
	assert.Len(t, m["policy_sha"], 40, "the organisation policy's commit")
	assert.Len(t, m["policies"], 3, "organisation, acme/api and acme/infra")
	assert.NotEmpty(t, m["expires_at"])

	_, err := f.m.Mint(context.Background(), mint.Input{Claims: policy.Claims{Repository: "acme/api"}})
	denied := mint.WithError(mint.NewRecord(f.clk.Now(), "mint", policy.Claims{Repository: "acme/api"}), err)
	assert.Equal(t, "denied", denied.Outcome)
	assert.True(t, strings.HasPrefix(denied.Reason, "no rule in the policy of acme/api"), denied.Reason)
	assert.Len(t, denied.Policies, 2, "a denial records the policies read too")
}

package mint_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/mint"
	"github.com/jitkey/jitkey/internal/source"
)

// TestReadTokenReadsOnlyThePoliciesRepositories takes the policy-read token
// as an attacker who got hold of it while it is live (it is handed to the
// post step, not revoked on the mint's path) and tries to read a
// repository of the installation whose policy was not read: GitHub must
// refuse. The token is recorded before it is used, and its request before
// it is sent.
func TestReadTokenReadsOnlyThePoliciesRepositories(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sim.PutFile("acme", "web", "main", "secret.txt", []byte("web's own"))
	var asked []github.TokenInFlight
	var got []source.ReadToken
	app, err := github.NewAppClient(f.opts(), appCreds(f))
	require.NoError(t, err)
	src := source.NewGitHub(app, func(tok string) (source.TokenClient, error) { return github.NewTokenClient(f.opts(), tok) },
		source.WithClock(f.clk.Now), source.WithHooks(source.Hooks{
			Asking: func(a github.TokenInFlight) error { asked = append(asked, a); return nil },
			Minted: func(rt source.ReadToken) error {
				require.Len(t, asked, len(got)+1, "the request was recorded before it was sent")
				_, live := f.sim.TokenByValue(rt.Token.Reveal())
				assert.True(t, live)
				got = append(got, rt)
				return nil
			}}))
	m := mint.New(app, src, nil, mint.WithClock(f.clk.Now))
	in := deployInput()
	in.Request.Repositories = []string{"api"}
	_, err = m.Mint(context.Background(), in)
	require.NoError(t, err)

	require.Len(t, got, 1, "one read token for the organisation's and acme/api's policies")
	assert.Equal(t, []string{".github", "api"}, got[0].Repositories)
	assert.Equal(t, source.ReadTokenWhat, asked[0].What)
	assert.Equal(t, map[string]string{"contents": "read"}, asked[0].Permissions)
	thief, err := github.NewTokenClient(f.opts(), got[0].Token.Reveal())
	require.NoError(t, err)
	_, _, err = thief.FileContents(context.Background(), "acme", "web", "secret.txt", "")
	require.Error(t, err, "the read token must not read acme/web")
	assert.Equal(t, github.ClassNotFound, github.ClassOf(err))
	_, _, err = thief.FileContents(context.Background(), "acme", "api", policyPath, "")
	require.NoError(t, err, "control: it reads the policy it was minted for")

	require.NoError(t, src.Close(context.Background()))
	rec, _ := f.sim.TokenByValue(got[0].Token.Reveal())
	assert.Equal(t, ghsim.StateRevoked, rec.State(), "Close revokes what it holds")
}

// TestReadTokenSkipsRepositoriesOutsideTheInstallation: GitHub refuses a
// token naming a repository the installation does not cover, without
// saying which; the source finds it, reads the rest, and the mint names
// the repository.
func TestReadTokenSkipsRepositoriesOutsideTheInstallation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	in := deployInput()
	in.Request.Repositories = []string{"api", "lib"} // acme/lib is not in the installation
	_, err := f.m.Mint(context.Background(), in)
	require.Error(t, err)
	assert.Equal(t, github.ClassNotInstalled, github.ClassOf(err), "%v", err)
	assert.Contains(t, err.Error(), "the App cannot read acme/lib")
	for _, rec := range f.sim.Ledger() {
		assert.NotContains(t, rec.Repositories, "lib")
	}
	assert.Empty(t, f.validMinted(t))
}

func appCreds(f *fixture) github.AppCredentials {
	return github.AppCredentials{ID: strconv.FormatInt(f.app.ID, 10), PrivateKey: f.app.PrivateKeyPEM}
}

// TestReadTokenOrganisationPolicyOutsideTheInstallation: an installation
// that does not cover the organisation policy's repository fails closed,
// saying so, though GitHub refuses the read token without naming it.
func TestReadTokenOrganisationPolicyOutsideTheInstallation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sim.AddOrg("initech")
	for _, r := range []string{".github", "api"} {
		f.sim.AddRepo(ghsim.RepoSpec{Owner: "initech", Name: r, Private: true})
	}
	f.sim.Install(f.app.ID, "initech", ghsim.InstallSpec{Permissions: map[string]string{"contents": "write"}, Repositories: []string{"api"}})
	f.sim.PutFile("initech", ".github", "main", ".github/jitkey/org.cue", []byte(orgPolicy))
	in := deployInput()
	in.Claims.Repository, in.Claims.RepositoryOwner = "initech/api", "initech"
	_, err := f.m.Mint(context.Background(), in)
	require.Error(t, err)
	assert.Equal(t, github.ClassPolicyUnavailable, github.ClassOf(err), "%v", err)
	assert.Contains(t, err.Error(), "the organisation policy at initech/.github:.github/jitkey does not exist or the App cannot read it")
	for _, rec := range f.sim.Ledger() {
		assert.Equal(t, []string{"api"}, rec.Repositories, "read tokens only on what the installation covers")
	}
	assert.Empty(t, f.validMinted(t))
}

// TestReadTokenWiderThanAskedIsRevoked: a GitHub (or a path to it) that
// answers the policy-read token's request with a token on more than was
// asked gets it revoked and the mint refused, as the job's token would be.
func TestReadTokenWiderThanAskedIsRevoked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  github.TokenRequest // what the answer's token really covers
		want string
	}{
		{"every repository of the installation (selection all)", github.TokenRequest{}, `repository selection "all"`},
		{"a repository not asked for", github.TokenRequest{Repositories: []string{".github", "api", "web"}, Permissions: map[string]string{"contents": "read"}}, "repository acme/web, which was not asked for"},
		{"write", github.TokenRequest{Repositories: []string{".github", "api"}, Permissions: map[string]string{"contents": "write"}}, "contents:write, which was not asked for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			app, err := github.NewAppClient(f.opts(), appCreds(f))
			require.NoError(t, err)
			var wide *github.InstallationToken
			if tt.req.Repositories == nil {
				wide, err = app.CreateReadToken(context.Background(), f.inst.ID, map[string]string{"contents": "read"})
			} else {
				wide, err = app.CreateInstallationToken(context.Background(), f.inst.ID, tt.req)
			}
			require.NoError(t, err)
			var answer map[string]any // the token as GitHub writes it (a Secret marshals redacted)
			raw, err := json.Marshal(wide)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(raw, &answer))
			answer["token"] = wide.Token.Reveal()
			if tt.req.Repositories == nil { // as GitHub answers for an installation on all repositories
				answer["repository_selection"] = "all"
				delete(answer, "repositories")
			}
			body, err := json.Marshal(answer)
			require.NoError(t, err)
			f.sim.Fault(ghsim.FaultSpec{Method: "POST", Path: "/app/installations/{installation_id}/access_tokens", Kind: ghsim.FaultHostile, Count: 1, Body: body})
			in := deployInput()
			in.Request.Repositories = []string{"api"}
			_, err = f.m.Mint(context.Background(), in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "refusing the policy-read token")
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "it was revoked")
			assert.NotContains(t, err.Error(), wide.Token.Reveal())
			rec, ok := f.sim.TokenByValue(wide.Token.Reveal())
			require.True(t, ok)
			assert.Equal(t, ghsim.StateRevoked, rec.State(), "the wide token is revoked")
			for _, r := range jobTokensOf(f) {
				assert.Equal(t, rec.SHA256, r.SHA256, "nothing minted for the job")
			}
		})
	}
}

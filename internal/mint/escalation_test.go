package mint_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/identity"
	"github.com/jitkey/jitkey/internal/mint"
	"github.com/jitkey/jitkey/internal/policy"
)

// TestEscalationSuite tries, as an attacker would, each way the issue
// names to get more than the owners of the repositories allowed. Every one
// must be refused, saying which repository refused or why, and leave no
// job token behind.
func TestEscalationSuite(t *testing.T) {
	t.Parallel()
	selfGrant := strings.Replace(testPolicy, `grant: {repositories: ["caller", "acme/infra"], permissions: {contents: "read", deployments: "write"}}`,
		`grant: {repositories: ["caller", "acme/web"], permissions: {contents: "write"}}`, 1)
	tests := []struct {
		name   string
		setup  func(f *fixture, in *mint.Input)
		refuse string       // the denial's refusing repository
		reason string       // in the denial's reason or the error
		class  github.Class // of the error, when not a denial
	}{
		{name: "a repository grants itself write on another repository without its consent", setup: func(f *fixture, in *mint.Input) {
			f.sim.PutFile("acme", "api", "main", policyPath, []byte(selfGrant))
		}, refuse: "acme/web", reason: "acme/web refuses"},
		{name: "a repository raises its own ceiling", setup: func(f *fixture, in *mint.Input) {
			f.sim.PutFile("acme", "api", "main", ".github/jitkey/ceiling.cue", []byte("apiVersion: \"jitkey.dev/v1\"\nceiling: permissions: {contents: \"write\", deployments: \"write\", packages: \"write\", administration: \"write\"}\n"))
		}, reason: "declares a ceiling"},
		{name: "installation-id of another owner", setup: func(f *fixture, in *mint.Input) {
			f.sim.AddRepo(ghsim.RepoSpec{Owner: "globex", Name: "api", Private: true})
			other := f.sim.Install(f.app.ID, "globex", ghsim.InstallSpec{Permissions: map[string]string{"contents": "write"}})
			in.InstallationID = other.ID
		}, class: github.ClassOwnerMismatch, reason: "belongs to globex, not to acme"},
		{name: `"*" across owners`, setup: func(f *fixture, in *mint.Input) {
			f.sim.PutFile("acme", "api", "main", policyPath, []byte(strings.Replace(testPolicy, `repositories: ["caller", "acme/infra"]`, `repositories: "*"`, 1)))
			in.Request = policy.Request{Repositories: []string{"globex/api"}}
		}, refuse: "globex/api", reason: "a token covers repositories of the job's owner only"},
		{name: "a pull-request job points policy-ref at its own branch", setup: func(f *fixture, in *mint.Input) {
			f.sim.PutFile("acme", "api", "feature", policyPath, []byte(strings.Replace(testPolicy, `match: {repository: "acme/api", event_name: "pull_request"}`, `match: {repository: "acme/api"}`, 1)))
			in.Claims = policy.Claims{Repository: "acme/api", RepositoryOwner: "acme", EventName: "pull_request", Ref: "refs/pull/1/merge", Verified: true}
			in.Request = policy.Request{Permissions: map[string]string{"contents": "write"}, Repositories: []string{"api"}}
			in.PolicyRef = "feature"
		}, refuse: "acme/api", reason: `policy-ref "feature" is refused`},
		{name: "a renamed repository re-created under the old name", setup: func(f *fixture, in *mint.Input) {
			f.sim.PutFile("acme", ".github", "main", ".github/jitkey/ids.cue", []byte("apiVersion: \"jitkey.dev/v1\"\norganization: repository_ids: {\"acme/api\": 4242}\n"))
			in.Claims.RepositoryID = "9999" // the new acme/api
		}, refuse: "acme/api", reason: "renamed or re-created"},
		{name: "a rule grants write on the organisation policy's repository", setup: func(f *fixture, in *mint.Input) {
			f.sim.PutFile("acme", ".github", "main", ".github/jitkey/rules.cue", []byte(`apiVersion: "jitkey.dev/v1"
rules: [{name: "everyone-writes", match: {repository_owner: "acme"}, grant: {repositories: "*", permissions: {contents: "write"}}}]
`))
			in.Request = policy.Request{Repositories: []string{".github"}, Permissions: map[string]string{"contents": "write"}}
		}, refuse: "acme/.github", reason: "holds the organisation policy"},
		{name: "an OIDC token of an issuer the organisation did not list", setup: func(f *fixture, in *mint.Input) {
			f.sim.PutFile("acme", ".github", "main", ".github/jitkey/issuers.cue", []byte("apiVersion: \"jitkey.dev/v1\"\norganization: issuers: [\"https://ghes.acme.example/_services/token\"]\n"))
			in.Issuer = identity.GitHubIssuer // verified by a verifier that trusts github.com
		}, refuse: "acme/.github", reason: `has issuer "https://token.actions.githubusercontent.com", which the organisation policy (acme/.github) does not accept: organization.issuers lists "https://ghes.acme.example/_services/token"`},
		{name: "an enterprise's custom issuer the organisation did not list", setup: func(f *fixture, in *mint.Input) {
			in.Issuer = identity.GitHubIssuer + "/globex-enterprise" // jitkey's github.com verifier admits custom issuers
		}, refuse: "acme/.github", reason: `organization.issuers lists none, so only the default "https://token.actions.githubusercontent.com" is accepted`},
		{name: "verified claims without their issuer", setup: func(f *fixture, in *mint.Input) {
			in.Issuer = ""
		}, refuse: "acme/.github", reason: "has no issuer"},
		{name: "the organisation policy deleted", setup: func(f *fixture, in *mint.Input) {
			f.sim.RemoveFile("acme", ".github", "main", ".github/jitkey/org.cue")
		}, class: github.ClassPolicyUnavailable, reason: "fails closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			in := deployInput()
			tt.setup(f, &in)
			g, err := f.m.Mint(context.Background(), in)
			require.Error(t, err)
			assert.Nil(t, g)
			assert.Contains(t, err.Error(), tt.reason)
			var denied *mint.DeniedError
			if tt.refuse != "" {
				require.True(t, errors.As(err, &denied), "%v", err)
				assert.Equal(t, tt.refuse, denied.Decision.Refused, "the refusing repository is named")
			}
			if tt.class != "" {
				assert.Equal(t, tt.class, github.ClassOf(err), "%v", err)
			}
			assert.Empty(t, f.validMinted(t), "nothing is left valid")
			for _, rec := range f.sim.Ledger() {
				assert.Equal(t, map[string]string{"contents": "read", "metadata": "read"}, rec.Permissions, "only the policy-read token was ever minted")
			}
		})
	}
}

package github_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/github"
)

// TestDirsAt reads several policy directories in one GraphQL call, on
// github.com's layout and GitHub Enterprise Server's (/api/graphql).
func TestDirsAt(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"", "/api/v3"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, prefix)
			f.sim.PutFile("acme", "api", "main", ".github/jitkey/b.cue", []byte("b\n"))
			f.sim.PutFile("acme", "api", "main", ".github/jitkey/sub/c.cue", []byte("not read\n"))
			f.sim.PutFile("acme", "api", "dev", ".github/jitkey/policy.cue", []byte("dev\n"))
			tok, err := f.appClient(t).CreateReadToken(context.Background(), f.inst.ID, map[string]string{"contents": "read"})
			require.NoError(t, err)
			c := f.tokenClient(t, tok.Token.Reveal())
			before := f.sim.Calls()["POST /graphql"]
			dirs, err := c.DirsAt(context.Background(), []github.DirQuery{
				{Owner: "acme", Repo: "api", Path: ".github/jitkey"},
				{Owner: "acme", Repo: "web", Path: ".github/jitkey"},
				{Owner: "other", Repo: "lib", Path: ".github/jitkey"},
				{Owner: "acme", Repo: "api", Path: ".github/jitkey", Ref: "dev"},
			})
			require.NoError(t, err)
			assert.Equal(t, 1, f.sim.Calls()["POST /graphql"]-before, "one call for every directory")
			require.Len(t, dirs, 4)
			api := dirs[0]
			assert.True(t, api.Found)
			assert.Equal(t, "acme/api", api.FullName)
			assert.NotZero(t, api.RepositoryID)
			assert.NotZero(t, api.OwnerID)
			assert.Equal(t, "main", api.Ref)
			assert.Len(t, api.Commit, 40)
			assert.Equal(t, []github.DirFile{{Name: "b.cue", Data: []byte("b\n")}, {Name: "policy.cue", Data: []byte("apiVersion: \"jitkey.dev/v1\"\n")}}, api.Files)
			assert.True(t, dirs[1].Found, "web exists")
			assert.Empty(t, dirs[1].Files, "web has no policy")
			assert.False(t, dirs[2].Found, "another owner's repository is invisible to the token")
			assert.Equal(t, "dev", dirs[3].Ref)
			assert.NotEqual(t, api.Commit, dirs[3].Commit)
			assert.Equal(t, []github.DirFile{{Name: "policy.cue", Data: []byte("dev\n")}}, dirs[3].Files)

			f.sim.PutFile("acme", "api", "main", ".github/jitkey/b.cue", []byte("changed\n"))
			again, err := c.DirsAt(context.Background(), []github.DirQuery{{Owner: "acme", Repo: "api", Path: ".github/jitkey"}})
			require.NoError(t, err)
			assert.NotEqual(t, api.Commit, again[0].Commit, "a change is a new commit")
			assert.Equal(t, ghsim.CommitSHA(map[string][]byte{}), ghsim.CommitSHA(nil))
		})
	}
}

// TestAppInstallation reads an installation by ID: its account.
func TestAppInstallation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	in, err := f.appClient(t).AppInstallation(context.Background(), f.inst.ID)
	require.NoError(t, err)
	assert.Equal(t, "acme", in.Account.Login)
	assert.Equal(t, f.inst.AccountID, in.Account.ID)
	_, err = f.appClient(t).AppInstallation(context.Background(), 424242)
	assert.Equal(t, github.ClassNotInstalled, github.ClassOf(err))
}

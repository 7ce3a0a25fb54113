package rest_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/github/rest"
)

// TestClient reads a repository through go-github over a token client of a
// GitHub Enterprise Server layout (the API under /api/v3/), with jitkey's
// user agent.
func TestClient(t *testing.T) {
	t.Parallel()
	sim := ghsim.New(ghsim.Options{Prefix: "/api/v3", Clock: ghsim.NewClock(time.Now())})
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "api", Private: true})
	c, err := github.NewTokenClient(github.Options{BaseURL: sim.URL(), UserAgent: "jitkey-test"}, sim.JobToken("acme/api"))
	require.NoError(t, err)
	rc := rest.Client(c)
	repo, resp, err := rc.Repositories.Get(context.Background(), "acme", "api")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "acme/api", repo.GetFullName())
	assert.Equal(t, "jitkey-test", rc.UserAgent)
	assert.Equal(t, c.BaseURL().String(), rc.BaseURL.String())
}

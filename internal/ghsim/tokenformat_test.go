package ghsim

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	classicRE   = regexp.MustCompile(`^ghs_[A-Za-z0-9]{36}$`)
	statelessRE = regexp.MustCompile(`^ghs_[0-9]+_eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)
)

// TestTokenFormats: the simulator mints installation and job tokens in the
// stateless format by default (ghs_APPID_JWT, about 520 characters), the
// classic one when told, and a mint's X-GitHub-Stateless-S2S-Token header
// overrides either, as on GitHub. Tokens of both formats authenticate; a
// stateless token is not mistaken for an App JWT, and an App JWT still is one.
func TestTokenFormats(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opt    TokenFormat
		header string
		want   *regexp.Regexp
	}{
		{"", "", statelessRE},
		{TokenStateless, "", statelessRE},
		{TokenClassic, "", classicRE},
		{TokenClassic, "enabled", statelessRE},
		{TokenStateless, "disabled", classicRE},
	} {
		t.Run(string(tc.opt)+"/"+tc.header, func(t *testing.T) {
			t.Parallel()
			f := newFixtureWith(t, "", Options{TokenFormat: tc.opt})
			tok := f.mintWith(t, tc.header)
			assert.Regexp(t, tc.want, tok)
			if tc.want == statelessRE {
				assert.True(t, strings.HasPrefix(tok, "ghs_"+strconv.FormatInt(f.app.ID, 10)+"_"))
				assert.Greater(t, len(tok), 480, "about 520 characters")
				assert.Less(t, len(tok), 1200)
			}
			c := f.client(t, tok)
			_, resp, err := c.Apps.ListRepos(context.Background(), nil)
			require.NoError(t, err, "a %s token authenticates", tc.want)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			_, resp, err = c.Apps.Get(context.Background(), "")
			require.Error(t, err, "an installation token is not an App JWT")
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			_, resp, err = f.appClient(t).Apps.Get(context.Background(), "")
			require.NoError(t, err, "the App JWT still works")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			revoked, err := c.Apps.RevokeInstallationToken(context.Background())
			require.NoError(t, err)
			assert.Equal(t, http.StatusNoContent, revoked.StatusCode)
			_, resp, _ = c.Apps.ListRepos(context.Background(), nil)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "revoked")

			job := f.sim.JobToken("acme/api")
			if tc.opt == TokenClassic {
				assert.Regexp(t, classicRE, job)
			} else {
				assert.True(t, strings.HasPrefix(job, "ghs_15368_"), "GitHub Actions' App ID")
			}
			_, _, err = f.client(t, job).Repositories.Get(context.Background(), "acme", "api")
			require.NoError(t, err)
		})
	}
}

// mintWith mints a token, with the stateless-format header when given.
func (f *fixture) mintWith(t *testing.T, header string) string {
	t.Helper()
	c := f.appClient(t)
	req, err := c.NewRequest("POST", "app/installations/"+strconv.FormatInt(f.inst.ID, 10)+"/access_tokens", map[string]any{})
	require.NoError(t, err)
	if header != "" {
		req.Header.Set(statelessHeader, header)
	}
	var tok github.InstallationToken
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.Do(ctx, req, &tok)
	require.NoError(t, err)
	return tok.GetToken()
}

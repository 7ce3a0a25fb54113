//go:build unix

package e2e_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/secretscan"
)

const (
	lifecycleWorkflow = "lifecycle.yml"
	accessTokensRoute = "/app/installations/{installation_id}/access_tokens"
	revokeRoute       = "DELETE /installation/token"
)

// TestLifecycle runs each job of testdata/e2e/lifecycle.yml and checks, in
// every case, that the token GitHub minted ends revoked in the simulator's
// ledger and that act's output carries no token, key or JWT. Where the post
// step revokes, the revocation must come from jitkey-post (its User-Agent),
// the binary the launcher runs for the post step.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	act := requireAct(t)
	root := repoRoot(t)
	requireAction(t, root)
	bins := releaseBinaries(t, root)

	tests := []struct {
		name     string
		job      string
		skip     string // a known gap elsewhere, with what would close it
		setup    func(w *world)
		cancelOn string
		byPost   bool // every revocation comes from the post step's jitkey-post
		check    func(t *testing.T, w *world, res actResult)
	}{{
		name:   "job succeeds",
		job:    "succeed",
		byPost: true,
		check: func(t *testing.T, w *world, res actResult) {
			assert.Zero(t, res.ExitCode, "the job should succeed")
			assert.Contains(t, res.Output, "e2e-token-works: 1 repositories: acme/api")
			assert.GreaterOrEqual(t, w.sim.Calls()[revokeRoute], 1, "post should revoke")
		},
	}, {
		name: "main fails after minting",
		job:  "main-fails",
		check: func(t *testing.T, w *world, res actResult) {
			assert.NotZero(t, res.ExitCode, "the job should fail")
			assert.NotContains(t, res.Output, "e2e-unreachable")
			assert.GreaterOrEqual(t, w.sim.Calls()[revokeRoute], 1, "the minted token should be revoked")
		},
	}, {
		name: "answer lost after minting",
		job:  "answer-lost",
		setup: func(w *world) {
			// GitHub mints the token, then its answer breaks off half way:
			// the token exists but main never gets a whole answer.
			w.sim.Fault(ghsim.FaultSpec{Method: "POST", Path: accessTokensRoute, Kind: ghsim.FaultTruncated})
		},
		check: func(t *testing.T, w *world, res actResult) {
			assert.NotZero(t, res.ExitCode, "the job should fail")
			assert.NotContains(t, res.Output, "e2e-unreachable")
		},
	}, {
		name:   "a later step fails",
		job:    "later-fails",
		byPost: true,
		check: func(t *testing.T, w *world, res actResult) {
			assert.NotZero(t, res.ExitCode, "the job should fail")
			assert.Contains(t, res.Output, "e2e-failing-now")
			assert.GreaterOrEqual(t, w.sim.Calls()[revokeRoute], 1, "post should revoke")
		},
	}, {
		name:     "job cancelled",
		job:      "cancelled",
		cancelOn: "e2e-waiting-for-cancel",
		byPost:   true,
		check: func(t *testing.T, w *world, res actResult) {
			assert.True(t, res.Signaled, "the test should have sent SIGINT")
			assert.NotZero(t, res.ExitCode, "a cancelled job fails")
			assert.GreaterOrEqual(t, w.sim.Calls()[revokeRoute], 1, "post should revoke")
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			w := newWorld(t)
			if tt.setup != nil {
				tt.setup(w)
			}
			ws := workspace(t, root, lifecycleWorkflow, bins)
			res := run(t, act, ws, lifecycleWorkflow, actRun{
				Job:      tt.job,
				Env:      jobEnv(w),
				Secrets:  map[string]string{"JITKEY_APP_ID": strconv.FormatInt(w.app.ID, 10), "JITKEY_PRIVATE_KEY": string(w.app.PrivateKeyPEM)},
				CancelOn: tt.cancelOn,
			})

			tt.check(t, w, res)
			if tt.byPost {
				agents := w.api.userAgents(revokeRoute)
				require.NotEmpty(t, agents, "no revocation reached the API")
				for _, ua := range agents {
					assert.Equal(t, userAgent("jitkey-post"), ua, "the post step should revoke with jitkey-post")
				}
			}
			ledger := w.sim.Ledger()
			require.NotEmpty(t, ledger, "no installation token was minted")
			for _, rec := range ledger {
				assert.Equal(t, ghsim.StateRevoked, rec.State(), "token %d (sha256 %.12s) should be revoked", rec.ID, rec.SHA256)
			}
			assert.Empty(t, w.sim.ValidTokens(), "no installation token may outlive the job")
			secretscan.AssertClean(t, "act output of job "+tt.job, res.Output, w.secrets()...)
		})
	}
}

// jobEnv is what the workflow sees besides act's own variables: the
// simulator as GitHub (API, server, OIDC issuer) and the job's identity.
func jobEnv(w *world) map[string]string {
	return map[string]string{
		"GITHUB_API_URL":                 w.apiURL,
		"GITHUB_SERVER_URL":              w.sim.ServerURL(),
		"GITHUB_REPOSITORY":              "acme/api",
		"GITHUB_REPOSITORY_OWNER":        "acme",
		"GITHUB_REF":                     "refs/heads/main",
		"GITHUB_TOKEN":                   w.jobToken,
		"ACTIONS_ID_TOKEN_REQUEST_URL":   w.oidcURL,
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": w.oidcToken,
	}
}

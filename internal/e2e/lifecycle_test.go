//go:build unix

package e2e_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

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
		// stopWhen, polled over act's output, cancels the run (kill: SIGKILLs
		// act's process group) once it holds.
		stopWhen func(w *world, output string) bool
		kill     bool
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
		name: "the organisation policy past the evaluation bound",
		job:  "succeed",
		setup: func(w *world) {
			w.sim.PutFile("acme", ".github", "main", ".github/jitkey/bomb.cue", []byte(bombPolicy))
		},
		check: boundExceeded("acme/.github:.github/jitkey"),
	}, {
		name:  "the target repository's policy past the evaluation bound",
		job:   "succeed",
		setup: func(w *world) { w.sim.PutFile("acme", "api", "main", ".github/jitkey/bomb.cue", []byte(bombPolicy)) },
		check: boundExceeded("acme/api:.github/jitkey"),
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
			// GitHub mints the job's token (the first mint is the
			// policy-read token), then its answer breaks off half way:
			// the token exists but main never gets a whole answer.
			w.sim.Fault(ghsim.FaultSpec{Method: "POST", Path: accessTokensRoute, After: 1, Kind: ghsim.FaultTruncated})
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
	}, {
		name:     "cancelled while GitHub's answer to the mint is on its way",
		job:      "mint-in-flight",
		setup:    holdMintAnswer,
		stopWhen: mintHeld,
		check: func(t *testing.T, w *world, res actResult) {
			require.True(t, res.Signaled, "the test should have cancelled the run while the answer was held")
			assert.NotZero(t, res.ExitCode, "a cancelled job fails")
			exp := assertInFlightLogged(t, w, res.Output)
			// The post step ran before any token was recorded: it must say
			// one may be live, never that none was minted.
			assert.Contains(t, res.Output, "jitkey token may be live::a mint was in flight (installation "+strconv.FormatInt(w.sim.Ledger()[0].InstallationID, 10)+", contents:read on acme/api")
			assert.Contains(t, res.Output, "a token may be live until "+exp)
			assert.NotContains(t, res.Output, "no token was minted")
			assert.NotContains(t, res.Output, "e2e-unreachable")
		},
	}, {
		name:     "the runner killed while GitHub's answer to the mint is on its way",
		job:      "mint-in-flight",
		setup:    holdMintAnswer,
		stopWhen: mintHeld,
		kill:     true,
		check: func(t *testing.T, w *world, res actResult) {
			require.True(t, res.Killed, "the test should have killed act while the answer was held")
			assertInFlightLogged(t, w, res.Output)
			assert.NotContains(t, res.Output, "e2e-unreachable")
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
			r := actRun{
				Job:      tt.job,
				Env:      jobEnv(w),
				Secrets:  map[string]string{"JITKEY_APP_ID": strconv.FormatInt(w.app.ID, 10), "JITKEY_PRIVATE_KEY": string(w.app.PrivateKeyPEM)},
				CancelOn: tt.cancelOn,
			}
			if tt.stopWhen != nil {
				when := func(out string) bool { return tt.stopWhen(w, out) }
				if tt.kill {
					r.KillWhen = when
				} else {
					r.CancelWhen = when
				}
			}
			res := run(t, act, ws, lifecycleWorkflow, r)

			tt.check(t, w, res)
			if tt.byPost {
				// The job's token and the policy-read token are the post
				// step's, revoked by jitkey-post (a main step that fails
				// or is stopped revokes its read token itself).
				agents := w.api.userAgents(revokeRoute)
				require.NotEmpty(t, agents, "no revocation reached the API")
				byMain := 0
				for _, ua := range agents {
					if ua == userAgent("jitkey-mint") {
						byMain++
						continue
					}
					assert.Equal(t, userAgent("jitkey-post"), ua, "the post step should revoke with jitkey-post")
				}
				assert.LessOrEqual(t, byMain, 1, "the main step revokes its policy-read token only")
				assert.Contains(t, agents, userAgent("jitkey-post"), "the post step should revoke with jitkey-post")
			}
			ledger := w.sim.Ledger()
			require.NotEmpty(t, ledger, "no installation token was minted")
			// A step stopped mid-mint revokes when the answer arrives, which
			// may be after act has ended.
			assert.Eventually(t, func() bool { return len(w.sim.ValidTokens()) == 0 }, 20*time.Second, 20*time.Millisecond,
				"no installation token may outlive the job")
			for _, rec := range w.sim.Ledger() {
				assert.Equal(t, ghsim.StateRevoked, rec.State(), "token %d (sha256 %.12s) should be revoked", rec.ID, rec.SHA256)
			}
			secretscan.AssertClean(t, "act output of job "+tt.job, res.Output, w.secrets()...)
		})
	}
}

// holdMintAnswer has the simulator mint the job's token (after the
// policy-read token), then hold its answer for 3 s: less than the grace
// jitkey gives a mint after a stop, so the token arrives and can be revoked.
func holdMintAnswer(w *world) {
	w.sim.Fault(ghsim.FaultSpec{Method: "POST", Path: accessTokensRoute, After: 1, Kind: ghsim.FaultHold, Latency: 3 * time.Second})
}

// mintHeld holds once GitHub has minted (its answer held) and the main
// step's line naming the mint is in the log.
func mintHeld(w *world, output string) bool {
	return len(w.sim.Ledger()) > 0 && strings.Contains(output, "jitkey: asking GitHub for a token")
}

var inFlightLog = regexp.MustCompile(`jitkey: asking GitHub for a token: installation (\d+), contents:read on acme/api, asked at (\S+); if this step is stopped before the answer, a token may be live until (\S+)`)

// assertInFlightLogged checks the log names the mint that was in flight
// (installation, time asked, expiry bound) so an operator can find the
// token, and returns the expiry bound.
func assertInFlightLogged(t *testing.T, w *world, output string) string {
	t.Helper()
	m := inFlightLog.FindStringSubmatch(output)
	require.NotNil(t, m, "the log must name the mint in flight")
	minted := w.sim.Ledger()[0]
	assert.Equal(t, strconv.FormatInt(minted.InstallationID, 10), m[1])
	asked, err := time.Parse(time.RFC3339, m[2])
	require.NoError(t, err)
	exp, err := time.Parse(time.RFC3339, m[3])
	require.NoError(t, err)
	assert.False(t, minted.ExpiresAt.After(exp), "the token expires at %s, after the bound the log gave (%s)", minted.ExpiresAt, exp)
	assert.WithinDuration(t, time.Now(), asked, 5*time.Minute)
	return m[3]
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

// bombPolicy is a few bytes of CUE that evaluate for minutes and hundreds
// of megabytes: jitkey must stop it at its bound (policy.Limits, 10 s).
const bombPolicy = `import "list"

apiVersion: "jitkey.dev/v1"
x: [for a in list.Range(0, 3000, 1) for b in list.Range(0, 3000, 1) {a * b}]
`

// boundExceeded checks a mint stopped by the evaluation bound in the
// policy directory dir: the step fails with the error naming the file,
// nothing is minted for the job (the only token is the policy-read token,
// contents: read on the policies' repositories) and it ends revoked.
func boundExceeded(dir string) func(t *testing.T, w *world, res actResult) {
	return func(t *testing.T, w *world, res actResult) {
		assert.NotZero(t, res.ExitCode, "the job should fail")
		assert.Contains(t, res.Output, "the policy "+dir+" at main is invalid")
		assert.Contains(t, res.Output, "policy .github/jitkey/bomb.cue: the policy took longer than 10s to evaluate; simplify it")
		assert.NotContains(t, res.Output, "e2e-token-works")
		ledger := w.sim.Ledger()
		require.Len(t, ledger, 1, "only the policy-read token was minted")
		assert.Equal(t, map[string]string{"contents": "read", "metadata": "read"}, ledger[0].Permissions)
		assert.ElementsMatch(t, []string{".github", "api"}, ledger[0].Repositories)
		assert.Equal(t, ghsim.StateRevoked, ledger[0].State(), "the read token is revoked")
	}
}

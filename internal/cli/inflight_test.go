package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/cli"
	"github.com/jitkey/jitkey/internal/ghsim"
)

// inFlightLine is what the main step prints before it asks for the token.
var inFlightLine = regexp.MustCompile(`jitkey: asking GitHub for a token: installation (\d+), contents:read, deployments:write on acme/api, acme/infra, asked at (\S+); if this step is stopped before the answer, a token may be live until (\S+)`)

// TestMintInFlightIsRecordedForPost: a step killed while GitHub's answer to
// the mint is on its way leaves a token jitkey never saw. The main step
// records the mint in the step state before asking, so the post step says a
// token may be live, and until when, rather than "no token was minted"; the
// record is cleared when the answer says no token exists.
func TestMintInFlightIsRecordedForPost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		fault    ghsim.FaultSpec
		snapshot bool   // take the state file as it is while the answer is held (the step killed then)
		code     int    // of the main step
		wantPost string // what the post step says
		warns    bool
	}{
		{name: "killed while the answer is held", fault: ghsim.FaultSpec{Method: "POST", Path: accessTokensPath, After: 1, Kind: ghsim.FaultHold, Latency: 2 * time.Second},
			snapshot: true, code: cli.ExitOK, wantPost: "::warning title=jitkey token may be live::a mint was in flight (installation ", warns: true},
		{name: "connection reset: GitHub may have acted", fault: ghsim.FaultSpec{Method: "POST", Path: accessTokensPath, After: 1, Kind: ghsim.FaultReset},
			code: cli.ExitFindings, wantPost: "::warning title=jitkey token may be live::a mint was in flight (installation ", warns: true},
		{name: "refused: no token exists", fault: ghsim.FaultSpec{Method: "POST", Path: accessTokensPath, After: 1, Kind: ghsim.FaultStatus500, Status: 403},
			code: cli.ExitFindings, wantPost: "nothing to revoke (no token was minted)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newMintWorld(t)
			w.sim.Fault(tt.fault)
			j := w.newJob(t, w.deployClaims())
			j.vars["INPUT_REPOSITORIES"] = "api,infra" // one read token: the second request is the job's
			var held []byte
			done := make(chan struct{})
			if tt.snapshot {
				go func() {
					defer close(done)
					for end := time.Now().Add(20 * time.Second); len(w.sim.Ledger()) < 2 && time.Now().Before(end); {
						time.Sleep(2 * time.Millisecond)
					}
					held, _ = os.ReadFile(filepath.Join(j.dir, "state"))
				}()
			} else {
				close(done)
			}
			start := time.Now()
			assert.Equal(t, tt.code, j.run(context.Background(), "mint"))
			<-done
			m := inFlightLine.FindStringSubmatch(j.stdout.String())
			require.NotNil(t, m, "the main step names the mint before asking:\n%s", &j.stdout)
			assert.Equal(t, strconv.FormatInt(w.inst.ID, 10), m[1])
			exp, err := time.Parse(time.RFC3339, m[3])
			require.NoError(t, err)
			assert.WithinRange(t, exp, start.Add(time.Hour).Truncate(time.Second), start.Add(time.Hour+5*time.Minute))

			post := j.post()
			if tt.snapshot {
				post = postWithState(j, string(held))
			}
			assert.Equal(t, cli.ExitOK, post.run(context.Background(), "revoke"))
			assert.Contains(t, post.stdout.String(), tt.wantPost)
			if tt.snapshot {
				// The main step died with its read token live: the post
				// step revokes it from the state it was handed in.
				reads := stateValues(t, string(held), "policy-read-tokens")
				require.NotEmpty(t, reads)
				rec, ok := w.sim.TokenByValue(reads[len(reads)-1])
				require.True(t, ok)
				assert.Equal(t, ghsim.StateRevoked, rec.State())
				assert.Contains(t, post.stdout.String(), "jitkey: policy-read token sha256 "+rec.SHA256[:16])
			}
			if tt.warns {
				assert.Contains(t, post.stdout.String(), "a token may be live until "+m[3])
				assert.NotContains(t, post.stdout.String(), "no token was minted")
				assert.Contains(t, post.file("summary"), "a token may be live until "+m[3])
			}
			assertNoLeak(t, post, j.outputs()["token"], w)
		})
	}
}

const accessTokensPath = "/app/installations/{installation_id}/access_tokens"

// postWithState is the post step of j as the runner would start it from
// the state file content state.
func postWithState(j *job, state string) *job {
	p := &job{t: j.t, dir: j.dir, now: j.now, vars: map[string]string{}}
	for k, v := range j.vars {
		if !strings.HasPrefix(k, "ACTIONS_ID_TOKEN") {
			p.vars[k] = v
		}
	}
	for k, v := range parseEnvFile(j.t, state) {
		p.vars["STATE_"+k] = v
	}
	return p
}

// TestReadTokenInFlightIsRecordedForPost: the policy-read token is asked
// for like the job's token: recorded in the step state before the request
// is sent, so a step killed while GitHub's answer is on its way leaves the
// post step saying a policy-read token may be live, and until when; once
// the answer arrives the token itself is in the state, and the post step
// revokes it.
func TestReadTokenInFlightIsRecordedForPost(t *testing.T) {
	t.Parallel()
	w := newMintWorld(t)
	w.sim.Fault(ghsim.FaultSpec{Method: "POST", Path: accessTokensPath, Count: 1, Kind: ghsim.FaultHold, Latency: time.Second})
	j := w.newJob(t, w.deployClaims())
	j.vars["INPUT_REPOSITORIES"] = "api,infra"
	held := make(chan []byte, 1)
	go func() {
		for end := time.Now().Add(20 * time.Second); len(w.sim.Ledger()) == 0 && time.Now().Before(end); {
			time.Sleep(2 * time.Millisecond)
		}
		b, _ := os.ReadFile(filepath.Join(j.dir, "state")) // the step killed now
		held <- b
	}()
	require.Equal(t, cli.ExitOK, j.run(context.Background(), "mint"), "%s", &j.stdout)
	snapshot := string(<-held)
	line := regexp.MustCompile(`jitkey: asking GitHub for a policy-read token: installation \d+, contents:read on acme/.github, acme/api, acme/infra, asked at \S+; if this step is stopped before the answer, a token may be live until (\S+)`).
		FindStringSubmatch(j.stdout.String())
	require.NotNil(t, line, "the main step names the read token's request before asking:\n%s", &j.stdout)
	assert.Empty(t, stateValues(t, snapshot, "policy-read-tokens"), "the answer was still held")

	post := postWithState(j, snapshot)
	assert.Equal(t, cli.ExitOK, post.run(context.Background(), "revoke"))
	assert.Contains(t, post.stdout.String(), "::warning title=jitkey token may be live::a mint was in flight (policy-read token: installation ")
	assert.Contains(t, post.stdout.String(), "a token may be live until "+line[1])

	// The whole step's state: the read token is there, and the post step
	// revokes it with the job's token.
	reads := j.readTokens()
	require.Len(t, reads, 1)
	post = j.post()
	assert.Equal(t, cli.ExitOK, post.run(context.Background(), "revoke"))
	assert.Empty(t, w.sim.ValidTokens())
	assertNoLeak(t, post, j.outputs()["token"], w)
}

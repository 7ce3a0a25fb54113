package cli_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/cli"
	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/post"
	"github.com/jitkey/jitkey/internal/secretscan"
)

// brokerJob is the action's step environment in broker mode: no App ID, no
// key, no github-token, only the broker input and the runner's OIDC.
func (w *brokerWorld) brokerJob(t *testing.T, claims map[string]any) *job {
	j := (&mintWorld{sim: w.sim, clk: ghsim.NewClock(w.sim.Now()), app: w.app}).newJob(t, claims)
	for _, k := range []string{"INPUT_APP-ID", "INPUT_PRIVATE-KEY", "INPUT_GITHUB-TOKEN", "INPUT_POLICY"} {
		delete(j.vars, k)
	}
	j.vars["INPUT_BROKER"] = w.url
	// The broker's public URL (its audience) is not the test's loopback
	// address; without this input the job asks for the broker input's URL.
	j.vars["INPUT_AUDIENCE"] = "http://broker.test"
	j.now = w.sim.Now
	return j
}

// runStep runs the small binary's entry point for a step of this job.
func (j *job) runStep(ctx context.Context, exchange bool) int {
	j.stdout.Reset()
	j.stderr.Reset()
	vars := map[string]string{}
	for k, v := range j.vars {
		vars[k] = v
	}
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: &syncBuf{b: &j.stdout}, Stderr: &syncBuf{b: &j.stderr},
		Getenv: func(k string) string { return vars[k] }, Now: j.now, Dir: j.dir}
	if exchange {
		return post.Exchange(ctx, env)
	}
	return post.Run(ctx, env, nil)
}

func TestActionBrokerMode(t *testing.T) {
	t.Parallel()
	w := newBrokerWorld(t, brokerOpt{})
	ctx := context.Background()
	run := w.sim.StartRun(ghsim.RunSpec{Repo: "acme/api"})
	claims := w.sim.RunClaims(run, run.Jobs[0])
	// The broker's audience: the job asks for it by the broker's URL.
	w.t = t
	j := w.brokerJob(t, claims)
	j.vars["INPUT_PERMISSIONS"] = "contents: read"
	code := j.runStep(ctx, true)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", j.stdout.String(), j.stderr.String())
	out := j.outputs()
	tok := out["token"]
	require.NotEmpty(t, tok)
	assert.Equal(t, "ci", out["rule"])
	assert.Equal(t, "acme/api", out["repositories"])
	assert.Equal(t, "contents: read", out["permissions"])
	assert.Equal(t, "jitkey", out["app-slug"])
	assert.NotEmpty(t, out["installation-id"])
	assert.Len(t, out["token-sha256"], 64)
	assert.Contains(t, j.stdout.String(), "::add-mask::"+tok)
	assert.Less(t, strings.Index(j.stdout.String(), "::add-mask::"+tok), max(strings.Index(j.stdout.String(), "jitkey audit"), 0)+1, "masked before anything else")
	for name, text := range j.everything() {
		if name == "output" || name == "state" {
			continue
		}
		if name == "stdout" {
			text = stripMaskCommands(t, text, tok)
		}
		secretscan.AssertClean(t, name, text, tok)
	}

	p := j.post()
	require.Equal(t, 0, p.runStep(ctx, false), p.stderr.String()+p.stdout.String())
	assert.Equal(t, ghsim.StateRevoked, w.tokenState(tok))
	e, err := w.srv.Ledger.Get(ctx, out["token-sha256"])
	require.NoError(t, err)
	assert.Equal(t, "revoked", string(e.State), "the post step revoked through the broker: the ledger knows")
	assert.NotContains(t, p.stdout.String(), "ledger missed")
}

// TestActionBrokerUnreachable: the broker is gone when the post step runs;
// the token is revoked at GitHub with itself, and the step says the ledger
// missed it.
func TestActionBrokerUnreachable(t *testing.T) {
	t.Parallel()
	w := newBrokerWorld(t, brokerOpt{})
	ctx := context.Background()
	claims, _ := w.pushClaims()
	j := w.brokerJob(t, claims)
	require.Equal(t, 0, j.runStep(ctx, true), j.stdout.String())
	tok := j.outputs()["token"]
	w.shutdown()
	p := j.post()
	require.Equal(t, 0, p.runStep(ctx, false))
	assert.Equal(t, ghsim.StateRevoked, w.tokenState(tok))
	assert.Contains(t, p.stdout.String(), "jitkey broker missed the revocation")
	assert.Contains(t, p.stdout.String(), "ledger missed it")
}

func TestActionBrokerDenied(t *testing.T) {
	t.Parallel()
	w := newBrokerWorld(t, brokerOpt{})
	claims, _ := w.pushClaims()
	claims["event_name"] = "workflow_dispatch"
	j := w.brokerJob(t, claims)
	assert.Equal(t, 1, j.runStep(context.Background(), true))
	out := stripMaskCommands(t, j.stdout.String(), "")
	assert.Contains(t, out, "jitkey mint denied")
	assert.Contains(t, out, `rule "ci" did not match`)
	assert.Contains(t, out, `event_name: "workflow_dispatch"`)
	assert.Empty(t, j.outputs()["token"])

	// A repository without a policy of its own (and no organisation rule
	// for it): a clear denial at once, not retried.
	j = w.brokerJob(t, w.sim.JobClaims("acme/web"))
	start := time.Now()
	assert.Equal(t, 1, j.runStep(context.Background(), true))
	assert.Less(t, time.Since(start), time.Second, "a refusal is not retried")
	assert.Contains(t, j.stdout.String(), "no rule in the policy of acme/web or the organisation policy matches")
	assert.Empty(t, w.jobTokens())
	j.vars["ACTIONS_ID_TOKEN_REQUEST_URL"] = ""
	assert.Equal(t, 1, j.runStep(context.Background(), true))
	assert.Contains(t, j.stdout.String(), "id-token: write")
}

package cli_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/brokerclient"
	"github.com/jitkey/jitkey/internal/ghsim"
)

// TestServeShutdownFinishesMints stops the broker (SIGTERM's path) while an
// exchange waits on GitHub's mint: the exchange is finished and answered,
// the ledger holds the token, and no intent is left dangling.
func TestServeShutdownFinishesMints(t *testing.T) {
	t.Parallel()
	w := newBrokerWorld(t, brokerOpt{simOpts: ghsim.Options{Latency: 400 * time.Millisecond}})
	ctx := context.Background()
	claims, _ := w.pushClaims()
	_, err := w.exchange(ctx, w.oidc(claims), brokerclient.TokenRequest{})
	require.NoError(t, err, "warm: policy, installation and read token cached")

	type result struct {
		ans *brokerclient.TokenAnswer
		err error
	}
	got := make(chan result, 1)
	claims, _ = w.pushClaims()
	oidc := w.oidc(claims)
	go func() {
		ans, err := w.exchange(ctx, oidc, brokerclient.TokenRequest{})
		got <- result{ans, err}
	}()
	waitFor(t, func() bool { return total(w.sim.Calls()) > 0 && inFlightMint(w) }, "the mint to reach GitHub")
	stopped := make(chan struct{})
	go func() { w.shutdown(); close(stopped) }()
	r := <-got
	require.NoError(t, r.err, "the exchange in flight is finished and answered")
	<-stopped
	assert.Equal(t, ghsim.StateValid, w.tokenState(r.ans.Token), "handed to the job, which revokes it in its post step")
	assert.Contains(t, w.logText(), `"token_sha256":"`+r.ans.TokenSHA256[:16]+`"`, "recorded and audited before the answer")
	assert.Contains(t, w.logText(), "shutting down: finishing requests in flight")
}

// TestServeRevokesUndelivered: the job gives up while its mint is at
// GitHub; the broker cannot hand the token over, so it revokes it.
func TestServeRevokesUndelivered(t *testing.T) {
	t.Parallel()
	w := newBrokerWorld(t, brokerOpt{simOpts: ghsim.Options{Latency: 400 * time.Millisecond}})
	ctx := context.Background()
	claims, _ := w.pushClaims()
	_, err := w.exchange(ctx, w.oidc(claims), brokerclient.TokenRequest{})
	require.NoError(t, err)
	minted := len(w.jobTokens())
	claims, _ = w.pushClaims()
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		waitFor(t, func() bool { return inFlightMint(w) }, "the mint to reach GitHub")
		cancel()
	}()
	_, err = w.exchange(cctx, w.oidc(claims), brokerclient.TokenRequest{})
	require.Error(t, err, "the job gave up")
	waitFor(t, func() bool {
		return len(w.jobTokens()) == minted+1 && w.jobTokens()[minted].State() == ghsim.StateRevoked
	},
		"the undelivered token to be revoked")
	rec := w.jobTokens()[minted]
	// GitHub's answer to the revoke comes before the ledger's record of it:
	// wait for the record, then check who it names.
	var by string
	waitFor(t, func() bool {
		e, err := w.srv.Ledger.Get(ctx, rec.SHA256)
		require.NoError(t, err)
		by = e.Revoked.By
		return by != ""
	}, "the ledger to record the revocation")
	assert.Equal(t, "broker:undelivered", by)
}

// inFlightMint reports whether a mint request is at the simulator now.
func inFlightMint(w *brokerWorld) bool { return w.sim.InFlight() > 0 }

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

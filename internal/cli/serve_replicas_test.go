package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/audit"
	"github.com/jitkey/jitkey/internal/brokerclient"
	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/ledger"
)

// replica is one `jitkey serve` process: this test binary acting as jitkey
// (see TestMain), so that it can be killed like a real one.
type replica struct {
	cmd *exec.Cmd
	url string
}

func (w *brokerWorld) startReplica(t testing.TB, env map[string]string) *replica {
	t.Helper()
	cmd := exec.Command("jitkey", "serve", "-config", w.cfg)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	r := &replica{cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	exited := make(chan struct{})
	var mu sync.Mutex
	var logs strings.Builder
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			mu.Lock()
			logs.WriteString(sc.Text() + "\n")
			mu.Unlock()
			var l struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "jitkey serve: listening" {
				addr <- l.Addr
			}
		}
	}()
	select {
	case a := <-addr:
		r.url = "http://" + a
	case <-exited:
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("replica exited:\n%s", logs.String())
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("replica did not start:\n%s", logs.String())
	}
	return r
}

// TestServeReplicasSurviveAKill runs two replicas on one PostgreSQL ledger
// under load and kills one (SIGKILL) mid-load. Jobs retry on the other
// replica, as behind a load balancer. No exchange is lost (every job gets
// one token) or recorded twice; once the jobs end, every token the ledger
// recorded is revoked at GitHub, and a token GitHub minted for the killed
// replica that never reached the ledger has a dangling intent reported.
func TestServeReplicasSurviveAKill(t *testing.T) {
	if testing.Short() {
		t.Skip("two jitkey serve processes under load: skipped with -short")
	}
	t.Parallel()
	dsn := pg.Database(t)
	w := newBrokerWorld(t, brokerOpt{noStart: true,
		ledger: `ledger: postgres: dsn: env: "PG_DSN"` + "\n" + `sweep: dangling_after: "1s"`,
		limits: "limits: {repository_rate: 100000, global_rate: 100000}"})
	key := randomB64(t, 32)
	env := map[string]string{"PG_DSN": dsn, "LEDGER_KEY": key, "HOOK_SECRET": string(w.secret)}
	a, b := w.startReplica(t, env), w.startReplica(t, env)
	w.sim.SetAppWebhook(w.app.ID, b.url+"/v1/webhook", w.secret)

	const jobs, workers, killAt = 240, 12, 80
	type result struct {
		run      ghsim.Run
		answer   *brokerclient.TokenAnswer
		attempts int
	}
	results := make([]result, jobs)
	var next, done atomic.Int64
	var killed atomic.Bool
	var wg sync.WaitGroup
	ctx := context.Background()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= jobs {
					return
				}
				run := w.sim.StartRun(ghsim.RunSpec{Repo: "acme/api"})
				results[i].run = run
				claims := w.sim.RunClaims(run, run.Jobs[0])
				for attempt := 0; attempt < 6 && results[i].answer == nil; attempt++ {
					target := []*replica{a, b}[(i+attempt)%2]
					if killed.Load() {
						target = b
					}
					results[i].attempts++
					c, err := brokerclient.New(target.url, w.hc)
					require.NoError(t, err)
					ans, err := c.Exchange(ctx, w.oidc(claims), brokerclient.TokenRequest{}) // a fresh OIDC token each try
					var un *brokerclient.UnreachableError
					var p *brokerclient.Problem
					switch {
					case err == nil:
						results[i].answer = ans
					case errors.As(err, &un), errors.As(err, &p) && p.Retryable():
						time.Sleep(20 * time.Millisecond)
					default:
						t.Errorf("job %d: %v", i, err)
						return
					}
				}
				if done.Add(1) == killAt {
					killed.Store(true)
					require.NoError(t, a.cmd.Process.Kill())
				}
			}
		})
	}
	wg.Wait()
	require.True(t, killed.Load())
	retried := 0
	for i, r := range results {
		require.NotNil(t, r.answer, "job %d got no token: an exchange was lost", i)
		if r.attempts > 1 {
			retried++
		}
	}

	for _, r := range results {
		_, err := w.sim.CompleteJob(r.run.Jobs[0].ID, "cancelled") // the runner died before the post step
		require.NoError(t, err)
	}
	keys, err := ledger.ParseKey(key)
	require.NoError(t, err)
	ring, err := ledger.NewKeyring(keys)
	require.NoError(t, err)
	led, err := ledger.Open(ctx, ledger.Config{Driver: "postgres", DSN: dsn, Keys: ring})
	require.NoError(t, err)
	defer led.Close()

	seen := map[string]bool{}
	for _, r := range results {
		assert.False(t, seen[r.answer.TokenSHA256], "a token handed out twice")
		seen[r.answer.TokenSHA256] = true
		e, err := led.Get(ctx, r.answer.TokenSHA256)
		require.NoError(t, err, "a token handed to a job is in the ledger")
		assert.Equal(t, ledger.StateRevoked, e.State)
		assert.Equal(t, ghsim.StateRevoked, w.tokenState(r.answer.Token), "every token handed out ends revoked")
	}
	var recorded, orphans int
	for _, rec := range w.jobTokens() {
		if _, err := led.Get(ctx, rec.SHA256); err == nil {
			recorded++
			assert.Equal(t, ghsim.StateRevoked, rec.State(), "a recorded token left valid: %s", audit.ShortSHA(rec.SHA256))
			continue
		}
		orphans++
	}
	time.Sleep(1100 * time.Millisecond)
	dangling, err := led.DanglingIntents(ctx, time.Now().Add(-time.Second))
	require.NoError(t, err)
	st, err := led.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Live, "no token left live in the ledger")
	assert.LessOrEqual(t, orphans, len(dangling), "every token GitHub minted that the ledger missed has a dangling intent reported")
	assert.LessOrEqual(t, len(dangling), workers, "only exchanges in flight when the replica died can dangle")
	t.Logf("%d jobs, %d retried after the kill; GitHub minted %d job tokens: %d recorded and revoked, %d minted for the killed replica but never recorded; %d dangling intents reported",
		jobs, retried, recorded+orphans, recorded, orphans, len(dangling))
	_ = io.Discard
	_ = fmt.Sprint
}

package ledger_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jitkey/jitkey/internal/audit"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/ledger"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pg is this test binary's private PostgreSQL cluster; pgDurable, with
// PostgreSQL's default durability, is the benchmark's (started only by it).
var (
	pg        = ledger.PG
	pgDurable = ledger.PGDurable
)

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	pgDurable.Stop()
	os.Exit(code)
}

// backend is one database the suite runs against: a fresh database per
// test, opened by as many replicas as the test wants.
type backend struct {
	name string
	// fresh returns the data source of an empty database.
	fresh func(t testing.TB) string
	// raw returns every byte the database holds for the entries, as an
	// attacker with the file or a dump would see it.
	raw func(t *testing.T, dsn string) []byte
}

var backends = []backend{
	{
		name:  "sqlite",
		fresh: func(t testing.TB) string { return filepath.Join(t.TempDir(), "ledger.db") },
		raw: func(t *testing.T, dsn string) []byte {
			var all []byte
			for _, suffix := range []string{"", "-wal", "-shm"} {
				b, err := os.ReadFile(dsn + suffix)
				if err == nil {
					all = append(all, b...)
				}
			}
			require.NotEmpty(t, all)
			return all
		},
	},
	{
		name:  "postgres",
		fresh: func(t testing.TB) string { return pg.Database(t) },
		raw: func(t *testing.T, dsn string) []byte {
			db, err := sql.Open("pgx", dsn)
			require.NoError(t, err)
			defer db.Close()
			var dump []byte
			for _, q := range []string{"SELECT e::text FROM entries e", "SELECT x::text FROM exchanges x"} {
				rows, err := db.Query(q)
				require.NoError(t, err)
				for rows.Next() {
					var s string
					require.NoError(t, rows.Scan(&s))
					dump = append(dump, s...)
				}
				require.NoError(t, rows.Close())
			}
			require.NotEmpty(t, dump)
			return dump
		},
	},
}

func (b backend) driver() string { return b.name }

// forEach runs the test against every backend, in parallel.
func forEach(t *testing.T, test func(t *testing.T, b backend)) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b)
		})
	}
}

var testKey = func() *ledger.Keyring {
	k := make([]byte, ledger.KeySize)
	_, _ = rand.Read(k)
	r, err := ledger.NewKeyring(k)
	if err != nil {
		panic(err)
	}
	return r
}()

func open(t *testing.T, b backend, dsn string, opts ...func(*ledger.Config)) ledger.Ledger {
	t.Helper()
	c := ledger.Config{Driver: b.driver(), DSN: dsn, Keys: testKey}
	for _, o := range opts {
		o(&c)
	}
	l, err := ledger.Open(context.Background(), c)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func intent(repo string, run, attempt, checkRun int64) ledger.Intent {
	return ledger.Intent{
		Job:          ledger.Job{Repository: repo, RunID: run, RunAttempt: attempt, CheckRunID: checkRun},
		Claims:       json.RawMessage(fmt.Sprintf(`{"repository":%q,"run_id":"%d","actor":"octocat"}`, repo, run)),
		Rule:         "deploy-production",
		PolicyRef:    "0123456789abcdef0123456789abcdef01234567",
		Installation: 42,
		Repositories: []string{"acme/api", "acme/infra"},
		Permissions:  map[string]string{"contents": "read", "deployments": "write"},
		RequestedAt:  t0,
	}
}

func newToken() github.Secret {
	b := make([]byte, 27)
	_, _ = rand.Read(b)
	return github.Secret("ghs_" + base64.RawURLEncoding.EncodeToString(b))
}

// mint records an intent and its mint, and returns the token.
func mint(t *testing.T, l ledger.Ledger, in ledger.Intent, expires time.Time) github.Secret {
	t.Helper()
	ctx := context.Background()
	id, err := l.RecordIntent(ctx, in)
	require.NoError(t, err)
	tok := newToken()
	require.NoError(t, l.RecordMint(ctx, id, ledger.Mint{Token: tok, MintedAt: in.RequestedAt.Add(time.Second), ExpiresAt: expires}))
	return tok
}

func TestLifecycle(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.fresh(t)
		l := open(t, b, dsn)
		in := intent("Acme/API", 1001, 1, 5001)
		tok := mint(t, l, in, t0.Add(time.Hour))
		sha := audit.SHA256Hex(tok.Reveal())

		e, err := l.Get(ctx, sha)
		require.NoError(t, err)
		assert.Equal(t, ledger.StateLive, e.State)
		assert.Equal(t, "acme/api", e.Intent.Job.Repository, "repositories are stored lower-case")
		assert.Equal(t, in.Rule, e.Intent.Rule)
		assert.Equal(t, in.PolicyRef, e.Intent.PolicyRef)
		assert.Equal(t, in.Repositories, e.Intent.Repositories)
		assert.Equal(t, in.Permissions, e.Intent.Permissions)
		assert.JSONEq(t, string(in.Claims), string(e.Intent.Claims))
		assert.Equal(t, t0.Add(time.Second), e.MintedAt)
		assert.Equal(t, t0.Add(time.Hour), e.ExpiresAt)

		live, err := l.LiveTokensForJob(ctx, ledger.Job{Repository: "acme/api", RunID: 1001, RunAttempt: 1, CheckRunID: 5001})
		require.NoError(t, err)
		require.Len(t, live, 1)
		assert.Equal(t, tok, live[0].Token, "the sealed token opens to the token minted")
		assert.Equal(t, sha, live[0].SHA256)
		assert.Equal(t, int64(42), live[0].Installation)
		assert.Contains(t, string(b.raw(t, dsn)), sha, "the row is keyed by the token's SHA-256")
		assert.NotContains(t, string(b.raw(t, dsn)), tok.Reveal(), "the token is in the database in plaintext")

		s, err := l.Stats(ctx)
		require.NoError(t, err)
		assert.Equal(t, ledger.Stats{Entries: 1, Live: 1}, s)

		changed, err := l.MarkRevoked(ctx, sha, ledger.Revocation{By: "webhook:workflow_job", At: t0.Add(time.Minute)})
		require.NoError(t, err)
		assert.True(t, changed)
		changed, err = l.MarkRevoked(ctx, sha, ledger.Revocation{By: "sweeper", At: t0.Add(2 * time.Minute)})
		require.NoError(t, err)
		assert.False(t, changed, "a second revocation must not overwrite the first")
		e, err = l.Get(ctx, sha)
		require.NoError(t, err)
		assert.Equal(t, ledger.StateRevoked, e.State)
		assert.Equal(t, ledger.Revocation{By: "webhook:workflow_job", At: t0.Add(time.Minute)}, e.Revoked)
		live, err = l.LiveTokensForRun(ctx, "acme/api", 1001)
		require.NoError(t, err)
		assert.Empty(t, live)
		s, err = l.Stats(ctx)
		require.NoError(t, err)
		assert.Equal(t, ledger.Stats{Entries: 1}, s)

		_, err = l.MarkRevoked(ctx, audit.SHA256Hex("never minted"), ledger.Revocation{By: "job", At: t0})
		assert.ErrorIs(t, err, ledger.ErrNotFound)
		_, err = l.Get(ctx, audit.SHA256Hex("never minted"))
		assert.ErrorIs(t, err, ledger.ErrNotFound)
	})
}

// The token is erased, not just marked, when it is revoked or expires: the
// sealed bytes are gone from the database (a sealed token's key may leak
// later; what is erased cannot be opened).
func TestErasedAtRevocationAndExpiry(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.fresh(t)
		l := open(t, b, dsn)
		revoked := mint(t, l, intent("acme/api", 1, 1, 1), t0.Add(time.Hour))
		expired := mint(t, l, intent("acme/api", 2, 1, 2), t0.Add(time.Hour))
		kept := mint(t, l, intent("acme/api", 3, 1, 3), t0.Add(2*time.Hour))
		sealedCount := func() int {
			db, err := sql.Open(map[string]string{"sqlite": "sqlite", "postgres": "pgx"}[b.name], dsn)
			require.NoError(t, err)
			defer db.Close()
			var n int
			require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM entries WHERE sealed_token IS NOT NULL").Scan(&n))
			return n
		}
		require.Equal(t, 3, sealedCount())

		_, err := l.MarkRevoked(ctx, audit.SHA256Hex(revoked.Reveal()), ledger.Revocation{By: "job", At: t0})
		require.NoError(t, err)
		n, err := l.Expire(ctx, t0.Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, 1, n, "only the live token whose expiry passed is marked")
		assert.Equal(t, 1, sealedCount(), "revoked and expired tokens must be erased")

		e, err := l.Get(ctx, audit.SHA256Hex(expired.Reveal()))
		require.NoError(t, err)
		assert.Equal(t, ledger.StateExpired, e.State)
		assert.Equal(t, t0.Add(time.Hour), e.ClosedAt)
		live, err := l.LiveTokensForRun(ctx, "acme/api", 3)
		require.NoError(t, err)
		require.Len(t, live, 1)
		assert.Equal(t, kept, live[0].Token)
	})
}

func TestRecordErrors(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		l := open(t, b, b.fresh(t))
		m := ledger.Mint{Token: newToken(), MintedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		assert.ErrorIs(t, l.RecordMint(ctx, 999, m), ledger.ErrNotFound)
		assert.ErrorIs(t, l.RecordFailure(ctx, 999, "x", t0), ledger.ErrNotFound)

		id, err := l.RecordIntent(ctx, intent("acme/api", 1, 1, 0))
		require.NoError(t, err)
		require.NoError(t, l.RecordMint(ctx, id, m))
		assert.ErrorIs(t, l.RecordMint(ctx, id, ledger.Mint{Token: newToken(), MintedAt: t0, ExpiresAt: t0.Add(time.Hour)}), ledger.ErrConflict,
			"an intent is minted once")
		assert.ErrorIs(t, l.RecordFailure(ctx, id, "late", t0), ledger.ErrConflict)

		other, err := l.RecordIntent(ctx, intent("acme/api", 2, 1, 0))
		require.NoError(t, err)
		err = l.RecordMint(ctx, other, m)
		assert.ErrorIs(t, err, ledger.ErrConflict, "one token recorded for two intents")
		assert.NotContains(t, err.Error(), m.Token.Reveal(), "an error quotes the token")

		_, err = l.RecordIntent(ctx, ledger.Intent{RequestedAt: t0})
		assert.Error(t, err, "an intent without the job")
		bad := intent("acme/api", 3, 1, 0)
		bad.Claims = json.RawMessage("{not json")
		_, err = l.RecordIntent(ctx, bad)
		assert.Error(t, err)
		assert.Error(t, l.RecordMint(ctx, other, ledger.Mint{MintedAt: t0, ExpiresAt: t0}), "a mint without a token")
	})
}

// A crash between GitHub's answer and RecordMint leaves the intent: after
// the grace period, a replica that starts afresh reports it, with what was
// asked and for whom. An intent GitHub refused is closed, not dangling.
func TestCrashBetweenIntentAndMintIsVisible(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.fresh(t)
		crashed := open(t, b, dsn)
		id, err := crashed.RecordIntent(ctx, intent("acme/api", 77, 2, 770))
		require.NoError(t, err)
		refused, err := crashed.RecordIntent(ctx, intent("acme/api", 78, 1, 780))
		require.NoError(t, err)
		require.NoError(t, crashed.RecordFailure(ctx, refused, "403 the installation does not grant deployments:write", t0.Add(time.Second)))
		mint(t, crashed, intent("acme/api", 79, 1, 790), t0.Add(time.Hour))
		require.NoError(t, crashed.Close()) // the process dies before RecordMint(id)

		l := open(t, b, dsn)
		d, err := l.DanglingIntents(ctx, t0.Add(-time.Second))
		require.NoError(t, err)
		assert.Empty(t, d, "an intent younger than the grace period is not dangling yet")
		d, err = l.DanglingIntents(ctx, t0.Add(time.Minute))
		require.NoError(t, err)
		require.Len(t, d, 1)
		assert.Equal(t, id, d[0].ID)
		assert.Equal(t, ledger.StateIntent, d[0].State)
		assert.Equal(t, ledger.Job{Repository: "acme/api", RunID: 77, RunAttempt: 2, CheckRunID: 770}, d[0].Intent.Job)
		assert.Equal(t, []string{"acme/api", "acme/infra"}, d[0].Intent.Repositories)
		s, err := l.Stats(ctx)
		require.NoError(t, err)
		assert.Equal(t, ledger.Stats{Entries: 3, Live: 1, Dangling: 1}, s)
	})
}

func TestLiveTokensByJobAndRun(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		l := open(t, b, b.fresh(t))
		job := mint(t, l, intent("acme/api", 10, 1, 100), t0.Add(time.Hour))
		job2 := mint(t, l, intent("acme/api", 10, 1, 100), t0.Add(time.Hour))
		sibling := mint(t, l, intent("acme/api", 10, 1, 101), t0.Add(time.Hour))
		noClaim := mint(t, l, intent("acme/api", 10, 1, 0), t0.Add(time.Hour))
		retry := mint(t, l, intent("acme/api", 10, 2, 200), t0.Add(time.Hour))
		mint(t, l, intent("acme/web", 10, 1, 100), t0.Add(time.Hour))
		mint(t, l, intent("acme/api", 11, 1, 100), t0.Add(time.Hour))

		tokens := func(live []ledger.LiveToken, err error) []string {
			require.NoError(t, err)
			var out []string
			for _, x := range live {
				out = append(out, x.Token.Reveal())
			}
			sort.Strings(out)
			return out
		}
		want := func(toks ...github.Secret) []string {
			var out []string
			for _, x := range toks {
				out = append(out, x.Reveal())
			}
			sort.Strings(out)
			return out
		}
		assert.Equal(t, want(job, job2), tokens(l.LiveTokensForJob(ctx, ledger.Job{Repository: "ACME/api", RunID: 10, RunAttempt: 1, CheckRunID: 100})))
		assert.Equal(t, want(noClaim), tokens(l.LiveTokensForJob(ctx, ledger.Job{Repository: "acme/api", RunID: 10, RunAttempt: 1})))
		assert.Equal(t, want(job, job2, sibling, noClaim, retry), tokens(l.LiveTokensForRun(ctx, "acme/api", 10)))
		assert.Empty(t, tokens(l.LiveTokensForRun(ctx, "acme/api", 12)))
	})
}

func TestLiveJobs(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		l := open(t, b, b.fresh(t))
		at := func(in ledger.Intent, d time.Duration) ledger.Intent { in.RequestedAt = t0.Add(d); return in }
		mint(t, l, at(intent("acme/api", 2, 1, 20), 2*time.Minute), t0.Add(time.Hour))
		mint(t, l, at(intent("acme/api", 1, 1, 10), time.Minute), t0.Add(time.Hour))
		mint(t, l, at(intent("acme/api", 1, 1, 10), 3*time.Minute), t0.Add(time.Hour))
		mint(t, l, at(intent("acme/api", 3, 1, 30), 10*time.Minute), t0.Add(time.Hour))
		gone := mint(t, l, at(intent("acme/api", 4, 1, 40), 0), t0.Add(time.Hour))
		_, err := l.MarkRevoked(ctx, audit.SHA256Hex(gone.Reveal()), ledger.Revocation{By: "job", At: t0})
		require.NoError(t, err)

		jobs, err := l.LiveJobs(ctx, t0.Add(5*time.Minute), 10)
		require.NoError(t, err)
		assert.Equal(t, []ledger.Job{
			{Repository: "acme/api", RunID: 1, RunAttempt: 1, CheckRunID: 10},
			{Repository: "acme/api", RunID: 2, RunAttempt: 1, CheckRunID: 20},
		}, jobs, "live jobs, oldest mint first, one row per job, none minted after the cut-off")
		jobs, err = l.LiveJobs(ctx, t0.Add(time.Hour), 1)
		require.NoError(t, err)
		assert.Len(t, jobs, 1)
	})
}

// Two replicas (two Ledgers on one database) and many goroutines present
// the same OIDC token at once: exactly one exchange wins.
func TestExchangeOnceAcrossReplicas(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.fresh(t)
		replicas := []ledger.Ledger{open(t, b, dsn), open(t, b, dsn)}
		for round := range 5 {
			jti := fmt.Sprintf("jti-%d", round)
			var wins atomic.Int32
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Go(func() {
					ok, err := replicas[i%2].ExchangeOnce(ctx, "https://token.actions.githubusercontent.com", jti, t0.Add(5*time.Minute))
					assert.NoError(t, err)
					if ok {
						wins.Add(1)
					}
				})
			}
			wg.Wait()
			assert.Equal(t, int32(1), wins.Load(), "jti %s exchanged %d times", jti, wins.Load())
		}
		ok, err := replicas[0].ExchangeOnce(ctx, "https://other.example", "jti-0", t0.Add(5*time.Minute))
		require.NoError(t, err)
		assert.True(t, ok, "a jti is unique per issuer")
		_, err = replicas[0].ExchangeOnce(ctx, "https://token.actions.githubusercontent.com", "", t0)
		assert.Error(t, err, "a token without jti cannot be protected from replay")

		// Records are forgotten only once the OIDC token has expired.
		_, err = replicas[1].Expire(ctx, t0.Add(5*time.Minute))
		require.NoError(t, err)
		ok, err = replicas[0].ExchangeOnce(ctx, "https://token.actions.githubusercontent.com", "jti-1", t0.Add(5*time.Minute))
		require.NoError(t, err)
		assert.False(t, ok, "a jti forgotten before its token expired")
		_, err = replicas[1].Expire(ctx, t0.Add(5*time.Minute+time.Millisecond))
		require.NoError(t, err)
		ok, err = replicas[0].ExchangeOnce(ctx, "https://token.actions.githubusercontent.com", "jti-1", t0.Add(10*time.Minute))
		require.NoError(t, err)
		assert.True(t, ok)
	})
}

// ExchangeIntent writes the intent only with the first exchange of an OIDC
// token: replicas racing on one jti leave exactly one intent, and a replay
// writes nothing.
func TestExchangeIntentOnceAcrossReplicas(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.fresh(t)
		replicas := []ledger.Ledger{open(t, b, dsn), open(t, b, dsn)}
		const iss = "https://token.actions.githubusercontent.com"
		for round := range 5 {
			x := ledger.OIDCToken{Issuer: iss, JTI: fmt.Sprintf("jti-%d", round), Expires: t0.Add(5 * time.Minute)}
			var wins atomic.Int32
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Go(func() {
					id, first, err := replicas[i%2].ExchangeIntent(ctx, x, intent("acme/api", int64(round), 1, int64(i)))
					assert.NoError(t, err)
					if first {
						wins.Add(1)
						assert.NotZero(t, id)
					} else {
						assert.Zero(t, id, "a replay got an intent")
					}
				})
			}
			wg.Wait()
			assert.Equal(t, int32(1), wins.Load(), "jti %s exchanged %d times", x.JTI, wins.Load())
		}
		dangling, err := replicas[0].DanglingIntents(ctx, t0)
		require.NoError(t, err)
		assert.Len(t, dangling, 5, "one intent per OIDC token, none for its replays")
		ok, err := replicas[1].ExchangeOnce(ctx, iss, "jti-0", t0.Add(5*time.Minute))
		require.NoError(t, err)
		assert.False(t, ok, "ExchangeIntent and ExchangeOnce share the record")

		id, first, err := replicas[0].ExchangeIntent(ctx, ledger.OIDCToken{Issuer: iss, JTI: "jti-mint", Expires: t0.Add(time.Minute)}, intent("acme/api", 9, 1, 9))
		require.NoError(t, err)
		require.True(t, first)
		tok := newToken()
		require.NoError(t, replicas[1].RecordMint(ctx, id, ledger.Mint{Token: tok, MintedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		e, err := replicas[0].Get(ctx, audit.SHA256Hex(tok.Reveal()))
		require.NoError(t, err)
		assert.Equal(t, ledger.StateLive, e.State)
		assert.Equal(t, "deploy-production", e.Intent.Rule)

		_, _, err = replicas[0].ExchangeIntent(ctx, ledger.OIDCToken{Issuer: iss, Expires: t0}, intent("acme/api", 1, 1, 1))
		assert.Error(t, err, "a token without jti cannot be protected from replay")
		_, first, err = replicas[0].ExchangeIntent(ctx, ledger.OIDCToken{Issuer: iss, JTI: "jti-bad", Expires: t0}, ledger.Intent{})
		assert.Error(t, err, "an intent without a job")
		assert.False(t, first)
		ok, err = replicas[0].ExchangeOnce(ctx, iss, "jti-bad", t0.Add(time.Minute))
		require.NoError(t, err)
		assert.True(t, ok, "a refused intent does not consume the jti")
	})
}

// Replicas record concurrently: every intent gets its own ID, every mint
// lands on its intent, nothing is lost or doubled.
func TestConcurrentRecording(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.fresh(t)
		replicas := []ledger.Ledger{open(t, b, dsn), open(t, b, dsn)}
		const n = 60
		var mu sync.Mutex
		ids := map[ledger.IntentID]bool{}
		tokens := map[string]int64{}
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				l := replicas[i%2]
				id, err := l.RecordIntent(ctx, intent("acme/api", int64(i), 1, int64(i)))
				if !assert.NoError(t, err) {
					return
				}
				tok := newToken()
				assert.NoError(t, l.RecordMint(ctx, id, ledger.Mint{Token: tok, MintedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
				mu.Lock()
				ids[id] = true
				tokens[tok.Reveal()] = int64(i)
				mu.Unlock()
			})
		}
		wg.Wait()
		assert.Len(t, ids, n)
		s, err := replicas[0].Stats(ctx)
		require.NoError(t, err)
		assert.Equal(t, ledger.Stats{Entries: n, Live: n}, s)
		for tok, run := range tokens {
			live, err := replicas[1].LiveTokensForRun(ctx, "acme/api", run)
			require.NoError(t, err)
			require.Len(t, live, 1)
			assert.Equal(t, tok, live[0].Token.Reveal())
		}
	})
}

// The sweep lock admits one holder at a time across replicas and
// goroutines, and is free again when the holder is done.
func TestSweepLockIsExclusive(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.fresh(t)
		replicas := []ledger.Ledger{open(t, b, dsn), open(t, b, dsn)}
		var holders, maxHolders, ran atomic.Int32
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Go(func() {
				for range 5 {
					ok, err := replicas[i%2].WithSweepLock(ctx, func(context.Context) error {
						h := holders.Add(1)
						for {
							m := maxHolders.Load()
							if h <= m || maxHolders.CompareAndSwap(m, h) {
								break
							}
						}
						time.Sleep(2 * time.Millisecond)
						holders.Add(-1)
						return nil
					})
					assert.NoError(t, err)
					if ok {
						ran.Add(1)
					}
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int32(1), maxHolders.Load(), "two sweepers held the lock at once")
		assert.Positive(t, ran.Load())

		// Held by one replica, refused to the other; free once released.
		inside := make(chan struct{})
		release := make(chan struct{})
		go func() {
			_, _ = replicas[0].WithSweepLock(ctx, func(context.Context) error { close(inside); <-release; return nil })
		}()
		<-inside
		ok, err := replicas[1].WithSweepLock(ctx, func(context.Context) error { return nil })
		require.NoError(t, err)
		assert.False(t, ok, "the other replica swept while the lock was held")
		close(release)
		assert.Eventually(t, func() bool {
			ok, err := replicas[1].WithSweepLock(ctx, func(context.Context) error { return nil })
			return err == nil && ok
		}, 5*time.Second, 10*time.Millisecond)

		wantErr := fmt.Errorf("sweep failed")
		ok, err = replicas[0].WithSweepLock(ctx, func(context.Context) error { return wantErr })
		assert.True(t, ok)
		assert.ErrorIs(t, err, wantErr)
		ok, err = replicas[1].WithSweepLock(ctx, func(context.Context) error { return nil })
		assert.NoError(t, err)
		assert.True(t, ok, "a failed sweep must release the lock")
	})
}

// Replicas starting together on an empty database both come up, and each
// migration is applied once.
func TestMigrationsConcurrentOpen(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		dsn := b.fresh(t)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				l, err := ledger.Open(context.Background(), ledger.Config{Driver: b.driver(), DSN: dsn, Keys: testKey})
				if assert.NoError(t, err) {
					assert.NoError(t, l.Close())
				}
			})
		}
		wg.Wait()
		db, err := sql.Open(map[string]string{"sqlite": "sqlite", "postgres": "pgx"}[b.name], dsn)
		require.NoError(t, err)
		defer db.Close()
		var n, max int
		require.NoError(t, db.QueryRow("SELECT COUNT(*), MAX(version) FROM schema_migrations").Scan(&n, &max))
		assert.Equal(t, max, n, "a migration was applied twice")

		// A database a newer jitkey migrated is refused, not downgraded.
		_, err = db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)")
		require.NoError(t, err)
		_, err = ledger.Open(context.Background(), ledger.Config{Driver: b.driver(), DSN: dsn, Keys: testKey})
		assert.ErrorContains(t, err, "newer than this jitkey knows")
	})
}

// An attacker with write access to the database moves one row's sealed
// token onto another row (say, one whose job they can make complete): it
// does not open there, and nothing is revoked or returned by mistake. A
// ledger opened with another key cannot read the tokens either.
func TestSealedTokensAreBoundToTheirRow(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.fresh(t)
		l := open(t, b, dsn)
		mint(t, l, intent("acme/api", 1, 1, 1), t0.Add(time.Hour))
		victim := mint(t, l, intent("acme/api", 2, 1, 2), t0.Add(time.Hour))
		db, err := sql.Open(map[string]string{"sqlite": "sqlite", "postgres": "pgx"}[b.name], dsn)
		require.NoError(t, err)
		defer db.Close()
		_, err = db.Exec(`UPDATE entries SET sealed_token = (SELECT sealed_token FROM entries WHERE run_id = 2) WHERE run_id = 1`)
		require.NoError(t, err)
		live, err := l.LiveTokensForRun(ctx, "acme/api", 1)
		require.Error(t, err)
		assert.Empty(t, live)
		assert.NotContains(t, err.Error(), victim.Reveal())

		other, err := ledger.NewKeyring(bytes.Repeat([]byte{7}, ledger.KeySize))
		require.NoError(t, err)
		wrong := open(t, b, dsn, func(c *ledger.Config) { c.Keys = other })
		_, err = wrong.LiveTokensForRun(ctx, "acme/api", 2)
		assert.ErrorContains(t, err, "does not open with the configured keys")
	})
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := ledger.Open(ctx, ledger.Config{Driver: "mysql", DSN: "x", Keys: testKey})
	assert.ErrorContains(t, err, `use "sqlite"`)
	_, err = ledger.Open(ctx, ledger.Config{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "l.db")})
	assert.ErrorContains(t, err, "needs a key")
	_, err = ledger.Open(ctx, ledger.Config{Driver: "sqlite", DSN: "", Keys: testKey})
	assert.ErrorContains(t, err, "needs a data source")
	_, err = ledger.Open(ctx, ledger.Config{Driver: "sqlite", DSN: "file:x.db?mode=memory", Keys: testKey})
	assert.ErrorContains(t, err, "plain file path")

	path := filepath.Join(t.TempDir(), "l.db")
	l, err := ledger.Open(ctx, ledger.Config{Driver: "sqlite", DSN: path, Keys: testKey})
	require.NoError(t, err)
	require.NoError(t, l.Close())
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the ledger file holds sealed tokens and claims")
}

// A sweeper that loses its lock (a lease taken over after it stalled, a
// connection the server ended) is told: its context is cancelled, so it
// stops revoking beside the next holder.
func TestSweepLockLostCancelsTheSweep(t *testing.T) {
	steal := map[string]string{
		"sqlite": "UPDATE leases SET holder = 'thief', until_ms = 9000000000000 WHERE name = 'sweep'",
		// Only this database's sweep lock (0x6a69746b_00000002): other
		// tests' connections share the cluster.
		"postgres": `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND classid = 1785295979 AND objid = 2`,
	}
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.fresh(t)
		l := open(t, b, dsn, func(c *ledger.Config) { c.SweepLease = 150 * time.Millisecond })
		db, err := sql.Open(map[string]string{"sqlite": "sqlite", "postgres": "pgx"}[b.name], dsn)
		require.NoError(t, err)
		defer db.Close()

		inside := make(chan struct{})
		var cause error
		done := make(chan struct{})
		go func() {
			defer close(done)
			ok, err := l.WithSweepLock(ctx, func(ctx context.Context) error {
				close(inside)
				select {
				case <-ctx.Done():
					cause = context.Cause(ctx)
				case <-time.After(10 * time.Second):
				}
				return nil
			})
			assert.True(t, ok)
			assert.NoError(t, err)
		}()
		<-inside
		_, err = db.Exec(steal[b.name])
		require.NoError(t, err)
		<-done
		assert.ErrorContains(t, cause, "the sweep lock was lost", "the sweep went on without its lock")
	})
}

// A SQLite sweeper that died holding the lease (no release, no renewal)
// blocks the others only until the lease lapses.
func TestSweepLeaseLapses(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(t0.UnixMilli())
	clock := func() time.Time { return time.UnixMilli(now.Load()) }
	b := backends[0]
	dsn := b.fresh(t)
	l := open(t, b, dsn, func(c *ledger.Config) { c.Now = clock; c.SweepLease = time.Minute })
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec("UPDATE leases SET holder = 'dead', until_ms = $1 WHERE name = 'sweep'", t0.Add(time.Minute).UnixMilli())
	require.NoError(t, err)

	run := func() bool {
		ok, err := l.WithSweepLock(context.Background(), func(context.Context) error { return nil })
		require.NoError(t, err)
		return ok
	}
	assert.False(t, run(), "swept while a live lease was held")
	now.Add((59 * time.Second).Milliseconds())
	assert.False(t, run())
	now.Add((2 * time.Second).Milliseconds())
	assert.True(t, run(), "a lapsed lease still blocks the sweep")
}

// Prune deletes the rows closed (revoked, expired, failed) before the
// retention cutoff, and only those: live tokens and intents without an
// answer stay whatever their age; a pruned token is gone from the database,
// and no closed row kept holds its token.
func TestPrune(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.fresh(t)
		l := open(t, b, dsn)
		cutoff := t0.Add(24 * time.Hour)
		revokedOld := mint(t, l, intent("acme/api", 1, 1, 1), t0.Add(time.Hour))
		expiredOld := mint(t, l, intent("acme/api", 2, 1, 2), t0.Add(time.Hour))
		revokedNew := mint(t, l, intent("acme/api", 3, 1, 3), t0.Add(48*time.Hour))
		liveOld := mint(t, l, intent("acme/api", 4, 1, 4), t0.Add(72*time.Hour))
		failed, err := l.RecordIntent(ctx, intent("acme/api", 5, 1, 5))
		require.NoError(t, err)
		require.NoError(t, l.RecordFailure(ctx, failed, "permission_not_granted", t0.Add(time.Minute)))
		dangling, err := l.RecordIntent(ctx, intent("acme/api", 6, 1, 6))
		require.NoError(t, err)
		sha := func(tok github.Secret) string { return audit.SHA256Hex(tok.Reveal()) }

		_, err = l.MarkRevoked(ctx, sha(revokedOld), ledger.Revocation{By: "job", At: t0.Add(time.Minute)})
		require.NoError(t, err)
		_, err = l.Expire(ctx, t0.Add(time.Hour))
		require.NoError(t, err)
		_, err = l.MarkRevoked(ctx, sha(revokedNew), ledger.Revocation{By: "sweeper", At: cutoff.Add(time.Minute)})
		require.NoError(t, err)

		n, err := l.Prune(ctx, cutoff, 1) // one row a batch: the batches loop
		require.NoError(t, err)
		assert.Equal(t, 3, n, "the old revoked, expired and failed rows")
		for _, tok := range []github.Secret{revokedOld, expiredOld} {
			_, err := l.Get(ctx, sha(tok))
			assert.ErrorIs(t, err, ledger.ErrNotFound, "pruned")
		}
		for tok, state := range map[github.Secret]ledger.State{revokedNew: ledger.StateRevoked, liveOld: ledger.StateLive} {
			e, err := l.Get(ctx, sha(tok))
			require.NoError(t, err, "kept")
			assert.Equal(t, state, e.State)
		}
		left, err := l.DanglingIntents(ctx, cutoff)
		require.NoError(t, err)
		require.Len(t, left, 1, "an intent without an answer is never pruned: it is what the operator must see")
		assert.Equal(t, dangling, left[0].ID)
		raw := string(b.raw(t, dsn))
		for _, tok := range []github.Secret{revokedOld, expiredOld, revokedNew, liveOld} {
			assert.NotContains(t, raw, tok.Reveal(), "no token is ever in the database in clear")
		}
		db, err := sql.Open(map[string]string{"sqlite": "sqlite", "postgres": "pgx"}[b.name], dsn)
		require.NoError(t, err)
		defer db.Close()
		var rows, sealed int
		require.NoError(t, db.QueryRow("SELECT COUNT(*), COUNT(sealed_token) FROM entries").Scan(&rows, &sealed))
		assert.Equal(t, 3, rows, "the recent revoked row, the live token and the dangling intent")
		assert.Equal(t, 1, sealed, "only the live token is held; the revoked row kept holds none")
		n, err = l.Prune(ctx, cutoff, 100)
		require.NoError(t, err)
		assert.Zero(t, n, "nothing left to prune")
		st, err := l.Stats(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(1), st.Live)
	})
}

// Concurrent writes share transactions (SQLite's group commit): a write
// refused among them (the same token recorded twice) is refused alone, and
// every other write lands.
func TestConcurrentWritesFailAlone(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		l := open(t, b, b.fresh(t))
		const n = 24
		ids := make([]ledger.IntentID, n)
		for i := range ids {
			var err error
			ids[i], err = l.RecordIntent(ctx, intent("acme/api", int64(i), 1, int64(i)))
			require.NoError(t, err)
		}
		dup := newToken()
		var conflicts, recorded atomic.Int32
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				tok := newToken()
				if i < 2 {
					tok = dup
				}
				err := l.RecordMint(ctx, ids[i], ledger.Mint{Token: tok, MintedAt: t0, ExpiresAt: t0.Add(time.Hour)})
				switch {
				case err == nil:
					recorded.Add(1)
				case errors.Is(err, ledger.ErrConflict):
					conflicts.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int32(1), conflicts.Load(), "the second record of one token")
		assert.Equal(t, int32(n-1), recorded.Load())
		st, err := l.Stats(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(n-1), st.Live)
		assert.Equal(t, int64(1), st.Dangling, "the refused mint's intent stays open")
	})
}

// A token's ciphertext erased at revocation or expiry is gone from the
// database's bytes too, not only from its rows: an attacker with a copy of
// the file (or a dump) once the broker checkpointed finds no sealed token
// of a closed row, even one that would open with a stolen key.
func TestErasedCiphertextLeavesNoBytes(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.fresh(t)
		l, err := ledger.Open(ctx, ledger.Config{Driver: b.driver(), DSN: dsn, Keys: testKey})
		require.NoError(t, err)
		revoked := mint(t, l, intent("acme/api", 1, 1, 1), t0.Add(time.Hour))
		expired := mint(t, l, intent("acme/api", 2, 1, 2), t0.Add(time.Hour))
		live := mint(t, l, intent("acme/api", 3, 1, 3), t0.Add(2*time.Hour))
		sealed := map[string][]byte{}
		db, err := sql.Open(map[string]string{"sqlite": "sqlite", "postgres": "pgx"}[b.name], dsn)
		require.NoError(t, err)
		for _, tok := range []github.Secret{revoked, expired, live} {
			var c []byte
			require.NoError(t, db.QueryRow("SELECT sealed_token FROM entries WHERE token_sha256 = $1", audit.SHA256Hex(tok.Reveal())).Scan(&c))
			require.NotEmpty(t, c)
			sealed[audit.SHA256Hex(tok.Reveal())] = c
		}
		require.NoError(t, db.Close())
		_, err = l.MarkRevoked(ctx, audit.SHA256Hex(revoked.Reveal()), ledger.Revocation{By: "job", At: t0})
		require.NoError(t, err)
		_, err = l.Expire(ctx, t0.Add(time.Hour))
		require.NoError(t, err)
		require.NoError(t, l.Close()) // SQLite checkpoints its WAL into the file when the last connection closes
		raw := b.raw(t, dsn)
		for sha, c := range sealed {
			held := sha == audit.SHA256Hex(live.Reveal())
			needle := c[len(c)-32:]
			if b.name == "postgres" {
				needle = []byte(hex.EncodeToString(needle)) // the dump shows bytea in hex
			}
			assert.Equal(t, held, bytes.Contains(raw, needle), "the ciphertext of %s in the database's bytes (held while live, erased once closed)", sha[:16])
		}
	})
}

// SQLite in WAL mode writes an erasure to the WAL, while the file and the
// WAL's older frames still hold the ciphertext until a checkpoint copies the
// pages back and the WAL is truncated. A running broker checkpoints soon
// after each erasure: an attacker who copies the file and its WAL a few
// seconds after a revocation or expiry finds no ciphertext of the closed
// token, the ledger still open.
func TestErasureReachesTheSQLiteFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := backends[0]
	require.Equal(t, "sqlite", b.name)
	revoke := func(t *testing.T, l ledger.Ledger, tok github.Secret) {
		revoked, err := l.MarkRevoked(ctx, audit.SHA256Hex(tok.Reveal()), ledger.Revocation{By: "job", At: t0})
		require.NoError(t, err)
		require.True(t, revoked)
	}
	for _, tc := range []struct {
		name   string
		erase  func(t *testing.T, l ledger.Ledger, tok github.Secret)
		reader bool // another process reads the file meanwhile: the checkpoint is retried once it ends
	}{
		{name: "revoked", erase: revoke},
		{name: "expired", erase: func(t *testing.T, l ledger.Ledger, _ github.Secret) {
			n, err := l.Expire(ctx, t0.Add(time.Hour))
			require.NoError(t, err)
			require.Equal(t, 1, n)
		}},
		{name: "revoked while another reader holds the file", erase: revoke, reader: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn := b.fresh(t)
			l := open(t, b, dsn)
			closing := mint(t, l, intent("acme/api", 1, 1, 1), t0.Add(time.Hour))
			live := mint(t, l, intent("acme/api", 2, 1, 2), t0.Add(2*time.Hour))
			sealed := func(tok github.Secret) []byte {
				db, err := sql.Open("sqlite", dsn)
				require.NoError(t, err)
				defer db.Close()
				var c []byte
				require.NoError(t, db.QueryRow("SELECT sealed_token FROM entries WHERE token_sha256 = $1", audit.SHA256Hex(tok.Reveal())).Scan(&c))
				require.NotEmpty(t, c)
				return c[len(c)-32:]
			}
			gone, held := sealed(closing), sealed(live)
			require.True(t, bytes.Contains(b.raw(t, dsn), gone), "the ciphertext is in the file or its WAL while live")
			if tc.reader {
				db, err := sql.Open("sqlite", dsn)
				require.NoError(t, err)
				defer db.Close()
				tx, err := db.Begin()
				require.NoError(t, err)
				var n int
				require.NoError(t, tx.QueryRow("SELECT count(*) FROM entries").Scan(&n))
				go func() {
					time.Sleep(2 * time.Second) // a checkpoint or two refused meanwhile
					_ = tx.Rollback()
				}()
			}
			tc.erase(t, l, closing)
			require.Eventually(t, func() bool { return !bytes.Contains(b.raw(t, dsn), gone) }, 10*time.Second, 50*time.Millisecond,
				"the erased ciphertext leaves the file and its WAL while the ledger is open")
			assert.True(t, bytes.Contains(b.raw(t, dsn), held), "the live token's ciphertext is kept")
		})
	}
}

// SQLite's pages reach the file beside the writer: a second connection
// checkpoints the WAL every 100 ms, so a few hundred pages written reach the
// file without the writer stopping to copy them (it would once the WAL held
// 1,000 pages, SQLite's default, stalling the writes queued behind).
func TestSQLiteCheckpointsBesideTheWriter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := backends[0]
	dsn := b.fresh(t)
	l := open(t, b, dsn)
	size := func() int64 {
		st, err := os.Stat(dsn)
		require.NoError(t, err)
		return st.Size()
	}
	before := size()
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			x := ledger.OIDCToken{Issuer: "https://token.actions.githubusercontent.com", JTI: fmt.Sprintf("jti-%d", i), Expires: t0.Add(5 * time.Minute)}
			id, first, err := l.ExchangeIntent(ctx, x, intent("acme/api", int64(i), 1, int64(i)))
			assert.NoError(t, err)
			assert.True(t, first)
			assert.NoError(t, l.RecordMint(ctx, id, ledger.Mint{Token: newToken(), MintedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		})
	}
	wg.Wait()
	wal, err := os.Stat(dsn + "-wal")
	require.NoError(t, err)
	require.Less(t, wal.Size(), int64(1000*4096), "fewer pages than the writer's own checkpoint waits for")
	require.Eventually(t, func() bool { return size() > before }, 5*time.Second, 20*time.Millisecond,
		"the pages reach the database file while the ledger is open")
}

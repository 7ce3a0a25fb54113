package sweep_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/audit"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/ledger"
	"github.com/jitkey/jitkey/internal/sweep"
)

func openLedger(t *testing.T) ledger.Ledger {
	t.Helper()
	k := make([]byte, ledger.KeySize)
	_, _ = rand.Read(k)
	ring, err := ledger.NewKeyring(k)
	require.NoError(t, err)
	l, err := ledger.Open(context.Background(), ledger.Config{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "ledger.db"), Keys: ring})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// revokedAt records a token minted and revoked at closed.
func revokedAt(t *testing.T, l ledger.Ledger, run int64, closed time.Time) string {
	t.Helper()
	ctx := context.Background()
	id, err := l.RecordIntent(ctx, ledger.Intent{Job: ledger.Job{Repository: "acme/api", RunID: run, RunAttempt: 1}, RequestedAt: closed.Add(-time.Minute)})
	require.NoError(t, err)
	b := make([]byte, 27)
	_, _ = rand.Read(b)
	tok := github.Secret("ghs_" + base64.RawURLEncoding.EncodeToString(b))
	require.NoError(t, l.RecordMint(ctx, id, ledger.Mint{Token: tok, MintedAt: closed.Add(-time.Minute), ExpiresAt: closed.Add(time.Hour)}))
	sha := audit.SHA256Hex(tok.Reveal())
	_, err = l.MarkRevoked(ctx, sha, ledger.Revocation{By: "job", At: closed})
	require.NoError(t, err)
	return sha
}

// The sweeper prunes rows closed longer ago than the retention, under the
// sweep lock: while another replica holds it, nothing is pruned here.
func TestSweepPrunesUnderTheLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	l := openLedger(t)
	old := revokedAt(t, l, 1, now.Add(-91*24*time.Hour))
	recent := revokedAt(t, l, 2, now.Add(-89*24*time.Hour))
	s := sweep.New(sweep.Options{Ledger: l, Retention: 90 * 24 * time.Hour, Now: func() time.Time { return now }})

	held := make(chan struct{})
	release := make(chan struct{})
	go func() {
		_, _ = l.WithSweepLock(ctx, func(context.Context) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	rep, err := s.Once(ctx)
	require.NoError(t, err)
	assert.False(t, rep.Ran, "another holder sweeps")
	assert.Zero(t, rep.Pruned)
	_, err = l.Get(ctx, old)
	require.NoError(t, err, "nothing pruned without the lock")
	close(release)

	require.Eventually(t, func() bool {
		rep, err = s.Once(ctx)
		return err == nil && rep.Ran
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, rep.Pruned)
	_, err = l.Get(ctx, old)
	assert.ErrorIs(t, err, ledger.ErrNotFound, "older than the retention: pruned")
	_, err = l.Get(ctx, recent)
	assert.NoError(t, err, "within the retention: kept")

	keep := sweep.New(sweep.Options{Ledger: l, Now: func() time.Time { return now.Add(365 * 24 * time.Hour) }})
	rep, err = keep.Once(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Pruned, "no retention: rows are kept forever")
	_, err = l.Get(ctx, recent)
	assert.NoError(t, err)
}

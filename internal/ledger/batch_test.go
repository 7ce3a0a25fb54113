package ledger

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Writes racing with close each get an answer: committed, or errClosed;
// none is left waiting.
func TestBatcherCloseAnswersEveryWrite(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "b.db"))
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	_, err = db.Exec("CREATE TABLE t (v INTEGER)")
	require.NoError(t, err)
	b := newGroupCommit(sqliteCommit(db))
	var wg sync.WaitGroup
	var mu sync.Mutex
	answers := map[string]int{}
	for range 200 {
		wg.Go(func() {
			err := b.write(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO t (v) VALUES (1)")
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				answers["committed"]++
			case errors.Is(err, errClosed):
				answers["closed"]++
			default:
				t.Error(err)
			}
		})
	}
	time.Sleep(time.Millisecond)
	b.close()
	waitAll(t, &wg, "a write was left waiting after close")
	var rows int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM t").Scan(&rows))
	assert.Equal(t, answers["committed"], rows, "every write answered committed is in the table, and only those")
	assert.Equal(t, 200, answers["committed"]+answers["closed"])
	b.close() // twice is harmless
}

// waitAll waits for wg, failing t with what after 10 s.
func waitAll(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal(what)
	}
}

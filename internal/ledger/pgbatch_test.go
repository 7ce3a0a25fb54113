package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// holdKey is the advisory lock a groupWorld's commits wait for.
const holdKey int64 = 0x6a69746b_00007e57

// groupWorld is PostgreSQL's group commit over a table t whose commits the
// test can hold: a deferred trigger takes holdKey (shared) as each
// transaction that wrote t commits, and the test may hold it. A negative v
// is refused by the server (a check), as is a v written twice (the key).
type groupWorld struct {
	g     *groupCommit[pgWrite]
	check *sql.DB // another session, to see what committed
	hold  *sql.Conn
}

func newGroupWorld(t *testing.T) *groupWorld {
	t.Helper()
	ctx := context.Background()
	dsn := PG.Database(t)
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	for _, q := range []string{
		"CREATE TABLE t (v BIGINT PRIMARY KEY CHECK (v >= 0))",
		fmt.Sprintf("CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(%d); RETURN NULL; END $$", holdKey),
		"CREATE CONSTRAINT TRIGGER hold AFTER INSERT ON t DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hold()",
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	check, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = check.Close() })
	hold, err := check.Conn(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = hold.Close() })
	w := &groupWorld{g: newGroupCommit(pgCommitter{db: db}.commit), check: check, hold: hold}
	t.Cleanup(w.g.close)
	return w
}

func insertT(v int64) pgWrite {
	return pgWrite{query: "INSERT INTO t (v) VALUES ($1)", args: []any{v}, n: new(int64)}
}

// holdCommits makes every commit that wrote t wait until release.
func (w *groupWorld) holdCommits(t *testing.T) (release func()) {
	_, err := w.hold.ExecContext(context.Background(), "SELECT pg_advisory_lock($1)", holdKey)
	require.NoError(t, err)
	return func() {
		_, err := w.hold.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", holdKey)
		require.NoError(t, err)
	}
}

// waitCommitsHeld waits until n commits wait for the held lock.
func (w *groupWorld) waitCommitsHeld(t *testing.T, n int) {
	require.Eventually(t, func() bool {
		var waiting int
		err := w.check.QueryRow(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting)
		return err == nil && waiting == n
	}, 10*time.Second, 5*time.Millisecond)
}

func (w *groupWorld) committed(t *testing.T) map[int64]int {
	rows, err := w.check.Query("SELECT v FROM t")
	require.NoError(t, err)
	defer rows.Close()
	got := map[int64]int{}
	for rows.Next() {
		var v int64
		require.NoError(t, rows.Scan(&v))
		got[v]++
	}
	require.NoError(t, rows.Err())
	return got
}

// PostgreSQL's group commit: writes queued while a group commits all go in
// the next group, one transaction; each is answered only once that
// transaction committed (its row visible to another session when its
// answer arrives, none answered while the commit is held); a write the
// server refuses is answered with its error (it runs again alone once its
// group committed, so a duplicate of a write in its group meets that
// write) and the others commit, each once; closing answers every write
// queued.
func TestPostgresGroupCommit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		values []int64  // queued in this order behind a held group
		close  bool     // the ledger closes while they wait
		want   []string // per value: "committed", "refused" or "closed"
	}{
		{name: "answered once committed", values: []int64{1, 2, 3, 4, 5, 6, 7, 8},
			want: []string{"committed", "committed", "committed", "committed", "committed", "committed", "committed", "committed"}},
		{name: "a refused statement fails alone", values: []int64{1, -2, 3, 1, 4, -5},
			want: []string{"committed", "refused", "committed", "refused", "committed", "refused"}},
		{name: "a refused first statement", values: []int64{-1, 2, 3},
			want: []string{"refused", "committed", "committed"}},
		{name: "closing answers every write queued", values: []int64{1, 2, 3, 4}, close: true,
			want: []string{"closed", "closed", "closed", "closed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newGroupWorld(t)
			ctx := context.Background()
			release := w.holdCommits(t)
			answers := make([]chan error, len(tc.values)+1)
			var wg sync.WaitGroup
			write := func(i int, v int64) {
				answers[i] = make(chan error, 1)
				wg.Go(func() {
					err := w.g.write(ctx, insertT(v))
					if err == nil {
						// Answered: committed, so another session sees it.
						var n int
						assert.NoError(t, w.check.QueryRow("SELECT count(*) FROM t WHERE v = $1", v).Scan(&n))
						assert.Equal(t, 1, n, "the row of a write answered committed is visible")
					}
					answers[i] <- err
				})
			}
			write(0, 0) // its group waits for the held commit
			w.waitCommitsHeld(t, 1)
			for i, v := range tc.values {
				write(i+1, v)
				require.Eventually(t, func() bool { return len(w.g.ops) == i+1 }, 10*time.Second, time.Millisecond, "queued in order")
			}
			closed := make(chan struct{})
			if tc.close {
				go func() { w.g.close(); close(closed) }()
				require.Eventually(t, func() bool {
					w.g.mu.RLock()
					defer w.g.mu.RUnlock()
					return w.g.closed
				}, 10*time.Second, time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond) // an answer sent too early would be here now
			for i, a := range answers {
				assert.Empty(t, a, "write %d answered while its group's commit is held", i)
			}
			assert.Empty(t, w.committed(t), "nothing is visible before the commit")
			release()
			waitAll(t, &wg, "a write was left waiting")
			if tc.close {
				<-closed
			}
			require.NoError(t, <-answers[0])
			want := map[int64]int{0: 1}
			for i, v := range tc.values {
				err := <-answers[i+1]
				var refused *pgconn.PgError
				switch tc.want[i] {
				case "committed":
					assert.NoError(t, err, "write %d (%d)", i, v)
					want[v]++
				case "refused":
					assert.True(t, errors.As(err, &refused), "write %d (%d) refused by the server, got %v", i, v, err)
				case "closed":
					assert.ErrorIs(t, err, errClosed, "write %d (%d)", i, v)
				}
			}
			assert.Equal(t, want, w.committed(t), "what committed: each write answered committed, once, and nothing else")
		})
	}
}

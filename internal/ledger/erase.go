package ledger

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// walCheckpointer checkpoints SQLite's WAL beside the writer, and makes an
// erasure reach the file.
//
// Off the writer: SQLite checkpoints in the connection that commits, once
// the WAL holds wal_autocheckpoint pages: copying them into the file and two
// fsyncs stalled every write queued behind (the p99 of BenchmarkBroker's
// added time was these stalls: 25-40 ms, 10-13 ms without them). A second
// connection copies the WAL into the file every checkpointEvery (PASSIVE:
// beside the writer, never blocking it), so the WAL restarts when the
// writer next begins; the writer's own checkpoint (at walWriterPages) is
// left as a bound for when the second connection cannot keep up.
//
// Erasure: secure_delete zeroes what an update frees, but in WAL mode the
// erased page goes to the WAL while the file, and the WAL's older frames,
// still hold the ciphertext until a checkpoint copies the pages back and the
// WAL is reset. Within eraseDelay of an erasure (a revocation, an expiry) the
// writer's connection checkpoints with TRUNCATE (one for the erasures of that
// delay), retried every eraseDelay while another process's read transaction
// holds it off.
type walCheckpointer struct {
	writer, side *sql.DB
	kick         chan struct{}
	quit         chan struct{}
	stop         sync.Once
	done         chan struct{}
}

const (
	// checkpointEvery is how often the second connection checkpoints.
	checkpointEvery = 100 * time.Millisecond
	// walWriterPages is the writer's own checkpoint threshold (SQLite's
	// default is 1,000): reached only if the second connection falls behind.
	walWriterPages = 4000
	// eraseDelay is how long an erased token's ciphertext may stay on disk.
	eraseDelay = time.Second
)

func newWALCheckpointer(writer, side *sql.DB) *walCheckpointer {
	c := &walCheckpointer{writer: writer, side: side, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// erased says that a committed write erased a token.
func (c *walCheckpointer) erased() {
	select {
	case c.kick <- struct{}{}:
	default: // already due
	}
}

func (c *walCheckpointer) run() {
	defer close(c.done)
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	var eraseAt time.Time // zero: no erasure waiting
	for {
		select {
		case <-c.quit:
			return
		case <-c.kick:
			if eraseAt.IsZero() {
				eraseAt = time.Now().Add(eraseDelay)
			}
			continue
		case <-tick.C:
		}
		_ = c.checkpoint(c.side, "PASSIVE")
		if eraseAt.IsZero() || time.Now().Before(eraseAt) {
			continue
		}
		eraseAt = time.Time{}
		if !c.checkpoint(c.writer, "TRUNCATE") {
			eraseAt = time.Now().Add(eraseDelay)
		}
	}
}

// checkpoint runs a checkpoint in db's connection; false if it did not
// complete (a reader held it off, or an error).
func (c *walCheckpointer) checkpoint(db *sql.DB, mode string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), commitBound)
	defer cancel()
	var busy, frames, copied int
	// mode is one of the constants above.
	err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &frames, &copied)
	return err == nil && busy == 0
}

// close stops the checkpointer and closes its connection; closing the
// writer's database checkpoints a last time. Closing twice is harmless.
func (c *walCheckpointer) close() {
	c.stop.Do(func() { close(c.quit) })
	<-c.done
	_ = c.side.Close()
}

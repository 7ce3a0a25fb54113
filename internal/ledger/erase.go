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
// second connection checkpoints with TRUNCATE (one for the erasures of that
// delay), which holds writes back for its copy and fsyncs; it waits at most
// sideBusy for the writer's transaction or another process's reader, and is
// tried again every eraseDelay until it completes.
type walCheckpointer struct {
	side *sql.DB
	kick chan struct{}
	quit chan struct{}
	stop sync.Once
	done chan struct{}
}

const (
	// checkpointEvery is how often the second connection checkpoints.
	checkpointEvery = 100 * time.Millisecond
	// walWriterPages is the writer's own checkpoint threshold (SQLite's
	// default is 1,000): reached only if the second connection falls behind.
	walWriterPages = 4000
	// eraseDelay is how long an erased token's ciphertext may stay on disk.
	eraseDelay = time.Second
	// sideBusy is how long the second connection waits for a lock.
	sideBusy = 20 * time.Millisecond
)

func newWALCheckpointer(side *sql.DB) *walCheckpointer {
	c := &walCheckpointer{side: side, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
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
		_ = c.checkpoint("PASSIVE")
		if eraseAt.IsZero() || time.Now().Before(eraseAt) {
			continue
		}
		eraseAt = time.Time{}
		if !c.checkpoint("TRUNCATE") {
			eraseAt = time.Now().Add(eraseDelay)
		}
	}
}

// checkpoint runs a checkpoint; false if it did not complete (the writer or
// a reader held it off, or an error).
func (c *walCheckpointer) checkpoint(mode string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), commitBound)
	defer cancel()
	var busy, frames, copied int
	// mode is one of the constants above.
	err := c.side.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &frames, &copied)
	return err == nil && busy == 0
}

// close stops the checkpointer and closes its connection; closing the
// writer's database checkpoints a last time. Closing twice is harmless.
func (c *walCheckpointer) close() {
	c.stop.Do(func() { close(c.quit) })
	<-c.done
	_ = c.side.Close()
}

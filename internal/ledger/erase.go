package ledger

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// walEraser makes an erasure reach SQLite's file. secure_delete zeroes what
// an update frees, but in WAL mode the erased page goes to the WAL while the
// file, and the WAL's older frames, still hold the ciphertext until a
// checkpoint copies the pages back and the WAL is reset. After an erasure
// (a revocation, an expiry) the eraser checkpoints with TRUNCATE within
// eraseDelay (one checkpoint for the erasures of that delay), and again
// every eraseDelay while another process's read transaction keeps the
// checkpoint from completing.
type walEraser struct {
	db   *sql.DB
	kick chan struct{}
	quit chan struct{}
	stop sync.Once
	done chan struct{}
}

// eraseDelay is how long an erased token's ciphertext may stay on disk.
const eraseDelay = time.Second

func newWALEraser(db *sql.DB) *walEraser {
	e := &walEraser{db: db, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go e.run()
	return e
}

// erased says that a committed write erased a token.
func (e *walEraser) erased() {
	select {
	case e.kick <- struct{}{}:
	default: // a checkpoint is already due
	}
}

func (e *walEraser) run() {
	defer close(e.done)
	for {
		select {
		case <-e.kick:
		case <-e.quit:
			return
		}
		for done := false; !done; {
			select {
			case <-time.After(eraseDelay):
			case <-e.quit:
				return
			}
			done = e.checkpoint()
		}
	}
}

// checkpoint copies the WAL into the file and truncates it; false if a
// reader kept it from completing.
func (e *walEraser) checkpoint() bool {
	ctx, cancel := context.WithTimeout(context.Background(), commitBound)
	defer cancel()
	var busy, frames, copied int
	err := e.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied)
	return err == nil && busy == 0
}

// close stops the eraser; closing the database checkpoints a last time.
// Closing twice is harmless.
func (e *walEraser) close() {
	e.stop.Do(func() { close(e.quit) })
	<-e.done
}

package ledger

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"
)

// batcher is SQLite's group commit: the writes of concurrent exchanges (the
// jti and intent, the mint) queue for the one writer, which runs all those
// waiting in one transaction. One commit, one append of the pages they
// share to the WAL, for many exchanges: the commit cost most of an
// exchange's ledger time. Each write is answered only once its transaction
// committed; a write's statement that fails is undone alone (SQLite rolls
// back the statement, not the transaction).
type batcher struct {
	db   *sql.DB
	ops  chan *batchOp
	quit chan struct{}
	done chan struct{}

	mu     sync.RWMutex // held to queue; close takes it to stop the queueing
	closed bool
}

// batchOp is one write: fn runs in the batch's transaction.
type batchOp struct {
	ctx    context.Context
	fn     func(ctx context.Context, tx *sql.Tx) error
	answer chan error
}

// maxBatch bounds the writes one transaction holds.
const maxBatch = 64

// errClosed answers writes queued after the ledger was closed.
var errClosed = errors.New("ledger: closed")

func newBatcher(db *sql.DB) *batcher {
	b := &batcher{db: db, ops: make(chan *batchOp, maxBatch), quit: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

// write queues fn and waits for its transaction to commit. It waits even
// when ctx ends meanwhile: a write that ran is reported, never left behind
// unknown to its caller (an intent written behind the broker's back would
// be reported dangling).
func (b *batcher) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	op := &batchOp{ctx: ctx, fn: fn, answer: make(chan error, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return errClosed
	}
	select {
	case b.ops <- op:
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	b.mu.RUnlock()
	// Queued before close: the writer commits it or answers errClosed.
	return <-op.answer
}

func (b *batcher) run() {
	defer close(b.done)
	for {
		var first *batchOp
		select {
		case first = <-b.ops:
		case <-b.quit:
			b.drain()
			return
		}
		batch := []*batchOp{first}
	more:
		for len(batch) < maxBatch {
			select {
			case op := <-b.ops:
				batch = append(batch, op)
			default:
				break more
			}
		}
		b.commit(batch)
	}
}

// drain answers the writes still queued at close.
func (b *batcher) drain() {
	for {
		select {
		case op := <-b.ops:
			op.answer <- errClosed
		default:
			return
		}
	}
}

func (b *batcher) commit(batch []*batchOp) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := make([]error, len(batch))
	tx, err := b.db.BeginTx(ctx, nil)
	if err == nil {
		for i, op := range batch {
			if errs[i] = op.ctx.Err(); errs[i] == nil {
				errs[i] = op.fn(ctx, tx)
			}
		}
		err = tx.Commit()
	}
	for i, op := range batch {
		if err != nil {
			errs[i] = err
		}
		op.answer <- errs[i]
	}
}

func (b *batcher) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.quit)
	}
	b.mu.Unlock()
	<-b.done
}

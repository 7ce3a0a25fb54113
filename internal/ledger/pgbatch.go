package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgWrite is a write of PostgreSQL's group: one statement, whose one row is
// scanned into dest (found says whether it returned one), or, with no dest,
// whose rows changed are counted into n.
type pgWrite struct {
	query string
	args  []any
	dest  []any
	found *bool
	n     *int64
}

// read takes w's result from a batch.
func (w pgWrite) read(br pgx.BatchResults) error {
	if w.dest == nil {
		tag, err := br.Exec()
		if err == nil && w.n != nil {
			*w.n = tag.RowsAffected()
		}
		return err
	}
	err := br.QueryRow().Scan(w.dest...)
	if w.found != nil {
		*w.found = err == nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	return err
}

// pgCommitter commits PostgreSQL's groups: the group's statements are sent
// in one pipeline (one round trip) that PostgreSQL runs as one implicit
// transaction, committed at its end. Each write is answered once the
// server answered the commit (synchronous_commit: once the WAL is flushed).
type pgCommitter struct{ db *sql.DB }

func (p pgCommitter) commit(batch []*pending[pgWrite]) {
	ctx, cancel := context.WithTimeout(context.Background(), commitBound)
	defer cancel()
	var refused []*pending[pgWrite]
	for len(batch) > 0 {
		failed, errs, err := p.send(ctx, batch)
		if failed < 0 {
			for i, op := range batch {
				if errs[i] == nil {
					errs[i] = err
				}
				op.answer <- errs[i]
			}
			break
		}
		// The server refused one statement, so it rolled the whole group
		// back (none of it committed): the others run again without it.
		refused = append(refused, batch[failed])
		batch = append(batch[:failed:failed], batch[failed+1:]...)
	}
	// A refused write runs again alone, after the group committed: what
	// refused it may be a write of its own group (a token recorded twice),
	// and its caller then finds that write committed, as it would have
	// one statement after the other.
	for _, op := range refused {
		_, errs, err := p.send(ctx, []*pending[pgWrite]{op})
		if errs[0] == nil {
			errs[0] = err
		}
		op.answer <- errs[0]
	}
}

// send runs one group and reads its answers in order. failed is the index of
// the statement the server refused (the group rolled back), or -1. Without a
// refusal, errs are the writes' own errors (a result that did not read) and
// err the group's (its connection, its commit).
func (p pgCommitter) send(ctx context.Context, batch []*pending[pgWrite]) (failed int, errs []error, err error) {
	failed, errs = -1, make([]error, len(batch))
	conn, err := p.db.Conn(ctx)
	if err != nil {
		return -1, errs, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("ledger: the postgres driver is %T, not pgx", dc)
		}
		var b pgx.Batch
		for _, op := range batch {
			b.Queue(op.w.query, op.w.args...)
		}
		br := c.Conn().SendBatch(ctx, &b)
		for i, op := range batch {
			errs[i] = op.w.read(br)
			var refused *pgconn.PgError
			if errors.As(errs[i], &refused) {
				failed = i
				break // the server skips the rest of the group
			}
		}
		return br.Close()
	})
	return failed, errs, err
}

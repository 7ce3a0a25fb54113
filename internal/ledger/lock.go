package ledger

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"
)

// WithSweepLock takes the dialect's lock, runs fn under a context that is
// cancelled if the lock is lost (checked at a third of the lease), and
// releases the lock.
func (l *sqlLedger) WithSweepLock(ctx context.Context, fn func(context.Context) error) (bool, error) {
	h, ok, err := l.d.sweepLock(ctx, l)
	if err != nil || !ok {
		return false, err
	}
	defer func() { _ = h.release(context.WithoutCancel(ctx)) }()
	fnCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(l.lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-fnCtx.Done():
				return
			case <-t.C:
				if err := h.renew(fnCtx); err != nil {
					cancel(fmt.Errorf("the sweep lock was lost: %w", err))
					return
				}
			}
		}
	}()
	err = fn(fnCtx)
	close(done)
	return true, err
}

var errLeaseLost = errors.New("another holder has the lease")

// lease is SQLite's sweep lock: the leases row names its holder until a
// time; a holder that stops renewing loses it when that time passes.
type lease struct {
	l      *sqlLedger
	holder string
}

func leaseLock(ctx context.Context, l *sqlLedger) (held, bool, error) {
	h := &lease{l: l, holder: holderID()}
	now := l.now()
	res, err := l.db.ExecContext(ctx, "UPDATE leases SET holder = $1, until_ms = $2 WHERE name = 'sweep' AND until_ms < $3",
		h.holder, ms(now.Add(l.lease)), ms(now))
	if err != nil {
		return nil, false, fmt.Errorf("take the sweep lease: %w", err)
	}
	n, err := res.RowsAffected()
	return h, n == 1, err
}

func (h *lease) renew(ctx context.Context) error {
	res, err := h.l.db.ExecContext(ctx, "UPDATE leases SET until_ms = $1 WHERE name = 'sweep' AND holder = $2",
		ms(h.l.now().Add(h.l.lease)), h.holder)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errors.Join(err, errLeaseLost)
	}
	return nil
}

func (h *lease) release(ctx context.Context) error {
	_, err := h.l.db.ExecContext(ctx, "UPDATE leases SET holder = '', until_ms = 0 WHERE name = 'sweep' AND holder = $1", h.holder)
	return err
}

// advisory is PostgreSQL's sweep lock: a session-level advisory lock held by
// one connection, released when it is unlocked or the connection ends.
type advisory struct {
	conn *sql.Conn
}

func advisoryLock(ctx context.Context, l *sqlLedger) (held, bool, error) {
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("take the sweep lock: %w", err)
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", sweepLockKey).Scan(&ok); err != nil || !ok {
		_ = conn.Close()
		if err != nil {
			return nil, false, fmt.Errorf("take the sweep lock: %w", err)
		}
		return nil, false, nil
	}
	return &advisory{conn: conn}, true, nil
}

func (a *advisory) renew(ctx context.Context) error { return a.conn.PingContext(ctx) }

func (a *advisory) release(ctx context.Context) error {
	defer func() { _ = a.conn.Close() }()
	_, err := a.conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", sweepLockKey)
	if err != nil {
		// A connection still holding the lock must not go back to the pool:
		// discarding it ends its session, and the lock with it.
		_ = a.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	return err
}

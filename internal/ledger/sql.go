package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jitkey/jitkey/internal/audit"
)

// sqlLedger is the Ledger over database/sql, for both dialects.
type sqlLedger struct {
	db    *sql.DB
	d     dialect
	keys  *Keyring
	now   func() time.Time
	lease time.Duration
	stmts sync.Map // SQL text -> *sql.Stmt, prepared once (SQLite)
	// The group commit of the exchange path's writes: one of them is set.
	lite *groupCommit[sqliteWrite]
	pg   *groupCommit[pgWrite]
	// ckpt checkpoints SQLite's WAL beside the writer and after erasures;
	// nil on PostgreSQL.
	ckpt *walCheckpointer
}

// erased is called once a write erased tokens.
func (l *sqlLedger) erased() {
	if l.ckpt != nil {
		l.ckpt.erased()
	}
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func nullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

func (l *sqlLedger) RecordIntent(ctx context.Context, in Intent) (IntentID, error) {
	args, err := intentArgs(in)
	if err != nil {
		return 0, err
	}
	var id int64
	if err := l.scan(ctx, nil, insertIntent, args, &id); err != nil {
		return 0, fmt.Errorf("record the intent: %w", err)
	}
	return IntentID(id), nil
}

// insertIntent writes an intent from intentArgs ($1-$11).
const insertIntent = `INSERT INTO entries (state, requested_at, repository, run_id, run_attempt, check_run_id,
		claims, rule, policy_ref, installation_id, repositories, permissions)
		VALUES ('intent', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`

// intentArgs checks an intent and encodes it as insertIntent's arguments.
func intentArgs(in Intent) ([]any, error) {
	if in.Job.Repository == "" || in.RequestedAt.IsZero() {
		return nil, errors.New("ledger: an intent needs the job's repository and the time it was requested")
	}
	claims := in.Claims
	if len(claims) == 0 {
		claims = json.RawMessage("{}")
	}
	if !json.Valid(claims) {
		return nil, errors.New("ledger: the intent's claims are not JSON")
	}
	repos, err := json.Marshal(nonNil(in.Repositories))
	if err != nil {
		return nil, err
	}
	perms, err := json.Marshal(in.Permissions)
	if err != nil {
		return nil, err
	}
	return []any{ms(in.RequestedAt), strings.ToLower(in.Job.Repository), in.Job.RunID, in.Job.RunAttempt, in.Job.CheckRunID,
		string(claims), in.Rule, in.PolicyRef, in.Installation, string(repos), string(perms)}, nil
}

// insertExchange records an OIDC token's exchange ($1-$3), once.
const insertExchange = `INSERT INTO exchanges (issuer, jti, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (issuer, jti) DO NOTHING`

// exchangeIntentPostgres is insertExchange and insertIntent in one
// statement (one round trip, one commit): the intent is inserted only when
// the exchange was ($1-$3 the exchange, $4-$14 the intent).
const exchangeIntentPostgres = `WITH x AS (` + insertExchange + ` RETURNING 1)
	INSERT INTO entries (state, requested_at, repository, run_id, run_attempt, check_run_id,
		claims, rule, policy_ref, installation_id, repositories, permissions)
	SELECT 'intent', $4::bigint, $5::text, $6::bigint, $7::bigint, $8::bigint, $9::text, $10::text, $11::text,
		$12::bigint, $13::text, $14::text FROM x RETURNING id`

func (l *sqlLedger) ExchangeIntent(ctx context.Context, x OIDCToken, in Intent) (IntentID, bool, error) {
	if x.Issuer == "" || x.JTI == "" {
		return 0, false, errNoJTI
	}
	args, err := intentArgs(in)
	if err != nil {
		return 0, false, err
	}
	xargs := []any{x.Issuer, x.JTI, ms(x.Expires)}
	var id int64
	var first bool
	if l.pg != nil {
		err = l.pg.write(ctx, pgWrite{query: exchangeIntentPostgres, args: append(xargs, args...), dest: []any{&id}, found: &first})
	} else {
		// SQLite has no data-modifying WITH: two statements in the
		// writer's next transaction.
		err = l.lite.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			n, err := l.execCount(ctx, tx, insertExchange, xargs...)
			if first = n == 1; err != nil || !first {
				return err
			}
			return l.scan(ctx, tx, insertIntent, args, &id)
		})
	}
	if err != nil || !first {
		return 0, false, wrapErr("record the OIDC exchange and the intent", err)
	}
	return IntentID(id), true, nil
}

var errNoJTI = errors.New("ledger: an OIDC token without issuer or jti cannot be exchanged once: refuse it")

func wrapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// stmt is q prepared once: parsing SQL cost SQLite more than running it.
func (l *sqlLedger) stmt(ctx context.Context, tx *sql.Tx, q string) (*sql.Stmt, error) {
	v, ok := l.stmts.Load(q)
	if !ok && tx != nil {
		// Preparing on the DB would wait for a connection the transaction
		// may hold (SQLite has one): prepare in it, once.
		return tx.PrepareContext(ctx, q)
	}
	if !ok {
		st, err := l.db.PrepareContext(ctx, q)
		if err != nil {
			return nil, err
		}
		if v, ok = l.stmts.LoadOrStore(q, st); ok {
			_ = st.Close()
		} else {
			v = st
		}
	}
	if tx != nil {
		return tx.StmtContext(ctx, v.(*sql.Stmt)), nil
	}
	return v.(*sql.Stmt), nil
}

// scan runs the prepared query q (in tx, when not nil) and scans its one row.
func (l *sqlLedger) scan(ctx context.Context, tx *sql.Tx, q string, args []any, dest ...any) error {
	st, err := l.stmt(ctx, tx, q)
	if err != nil {
		return err
	}
	return st.QueryRowContext(ctx, args...).Scan(dest...)
}

// write runs q as a write of the exchange path, in the next group commit,
// and returns the rows changed.
func (l *sqlLedger) write(ctx context.Context, q string, args ...any) (int64, error) {
	var n int64
	if l.pg != nil {
		err := l.pg.write(ctx, pgWrite{query: q, args: args, n: &n})
		return n, err
	}
	err := l.lite.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		n, err = l.execCount(ctx, tx, q, args...)
		return err
	})
	return n, err
}

// execCount runs the prepared statement q and returns the rows it changed.
func (l *sqlLedger) execCount(ctx context.Context, tx *sql.Tx, q string, args ...any) (int64, error) {
	st, err := l.stmt(ctx, tx, q)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (l *sqlLedger) RecordMint(ctx context.Context, id IntentID, m Mint) error {
	if m.Token.Reveal() == "" || m.ExpiresAt.IsZero() || m.MintedAt.IsZero() {
		return errors.New("ledger: a mint needs the token, when it was minted and when it expires")
	}
	sha := audit.SHA256Hex(m.Token.Reveal())
	sealed, err := l.keys.seal(sha, m.Token)
	if err != nil {
		return err
	}
	n, err := l.write(ctx, updateMint, sha, sealed, ms(m.MintedAt), ms(m.ExpiresAt), int64(id))
	if err != nil {
		if taken, _ := l.exists(ctx, "token_sha256 = $1", sha); taken {
			return fmt.Errorf("record the mint of intent %d: token %s: %w", id, audit.ShortSHA(sha), ErrConflict)
		}
		return fmt.Errorf("record the mint of intent %d: %w", id, err)
	}
	return l.closedIntent(ctx, n, id, "record the mint of")
}

// updateMint completes an intent with its sealed token.
const updateMint = `UPDATE entries SET state = 'live', token_sha256 = $1, sealed_token = $2,
		minted_at = $3, expires_at = $4 WHERE id = $5 AND state = 'intent'`

func (l *sqlLedger) RecordFailure(ctx context.Context, id IntentID, reason string, at time.Time) error {
	n, err := l.execCount(ctx, nil, `UPDATE entries SET state = 'failed', failure = $1, closed_at = $2
		WHERE id = $3 AND state = 'intent'`, reason, ms(at), int64(id))
	if err != nil {
		return fmt.Errorf("record the failure of intent %d: %w", id, err)
	}
	return l.closedIntent(ctx, n, id, "record the failure of")
}

// closedIntent explains an update of an intent that changed n rows, not one.
func (l *sqlLedger) closedIntent(ctx context.Context, n int64, id IntentID, op string) error {
	if n == 1 {
		return nil
	}
	found, err := l.exists(ctx, "id = $1", int64(id))
	switch {
	case err != nil:
		return fmt.Errorf("%s intent %d: %w", op, id, err)
	case found:
		return fmt.Errorf("%s intent %d: %w", op, id, ErrConflict)
	default:
		return fmt.Errorf("%s intent %d: %w", op, id, ErrNotFound)
	}
}

func (l *sqlLedger) exists(ctx context.Context, where string, arg any) (bool, error) {
	var one int
	err := l.db.QueryRowContext(ctx, "SELECT 1 FROM entries WHERE "+where, arg).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (l *sqlLedger) MarkRevoked(ctx context.Context, sha string, r Revocation) (bool, error) {
	if r.By == "" || r.At.IsZero() {
		return false, errors.New("ledger: a revocation needs who or what revoked and when")
	}
	n, err := l.execCount(ctx, nil, `UPDATE entries SET state = 'revoked', sealed_token = NULL, revoked_by = $1,
		revoked_at = $2, closed_at = $2 WHERE token_sha256 = $3 AND state = 'live'`, r.By, ms(r.At), sha)
	if err != nil {
		return false, fmt.Errorf("record the revocation of %s: %w", audit.ShortSHA(sha), err)
	}
	if n == 1 {
		l.erased()
		return true, nil
	}
	found, err := l.exists(ctx, "token_sha256 = $1", sha)
	if err == nil && !found {
		err = fmt.Errorf("revoke %s: no such token in the ledger: %w", audit.ShortSHA(sha), ErrNotFound)
	}
	return false, err
}

func (l *sqlLedger) Expire(ctx context.Context, now time.Time) (int, error) {
	res, err := l.db.ExecContext(ctx, `UPDATE entries SET state = 'expired', sealed_token = NULL, closed_at = $1
		WHERE state = 'live' AND expires_at <= $1`, ms(now))
	if err != nil {
		return 0, fmt.Errorf("mark expired tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if n > 0 {
		l.erased()
	}
	if _, err := l.db.ExecContext(ctx, "DELETE FROM exchanges WHERE expires_at < $1", ms(now)); err != nil {
		return int(n), fmt.Errorf("forget expired OIDC exchanges: %w", err)
	}
	return int(n), nil
}

func (l *sqlLedger) Prune(ctx context.Context, closedBefore time.Time, batch int) (int, error) {
	if batch <= 0 {
		batch = 1000
	}
	total := 0
	for ctx.Err() == nil {
		n, err := l.execCount(ctx, nil, `DELETE FROM entries WHERE id IN (SELECT id FROM entries
			WHERE state IN ('revoked', 'expired', 'failed') AND closed_at < $1 ORDER BY closed_at LIMIT $2)`, ms(closedBefore), batch)
		if err != nil {
			return total, fmt.Errorf("prune closed entries: %w", err)
		}
		total += int(n)
		if n < int64(batch) {
			return total, nil
		}
	}
	return total, ctx.Err()
}

const liveCols = "token_sha256, sealed_token, installation_id, repository, run_id, run_attempt, check_run_id, expires_at"

func (l *sqlLedger) LiveTokensForJob(ctx context.Context, job Job) ([]LiveToken, error) {
	return l.live(ctx, "repository = $1 AND run_id = $2 AND run_attempt = $3 AND check_run_id = $4",
		strings.ToLower(job.Repository), job.RunID, job.RunAttempt, job.CheckRunID)
}

func (l *sqlLedger) LiveTokensForRun(ctx context.Context, repository string, runID int64) ([]LiveToken, error) {
	return l.live(ctx, "repository = $1 AND run_id = $2", strings.ToLower(repository), runID)
}

func (l *sqlLedger) live(ctx context.Context, where string, args ...any) ([]LiveToken, error) {
	// where is one of the constants above; the values are bound parameters.
	q := "SELECT " + liveCols + " FROM entries WHERE state = 'live' AND " + where + " ORDER BY id" // #nosec G202
	rows, err := l.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list live tokens: %w", err)
	}
	defer rows.Close()
	var out []LiveToken
	for rows.Next() {
		var t LiveToken
		var sealed []byte
		var exp int64
		if err := rows.Scan(&t.SHA256, &sealed, &t.Installation, &t.Job.Repository, &t.Job.RunID, &t.Job.RunAttempt, &t.Job.CheckRunID, &exp); err != nil {
			return nil, fmt.Errorf("list live tokens: %w", err)
		}
		if t.Token, err = l.keys.open(t.SHA256, sealed); err != nil {
			return nil, fmt.Errorf("token %s: %w", audit.ShortSHA(t.SHA256), err)
		}
		t.ExpiresAt = fromMS(exp)
		out = append(out, t)
	}
	return out, rows.Err()
}

func (l *sqlLedger) LiveJobs(ctx context.Context, mintedBefore time.Time, limit int) ([]Job, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT repository, run_id, run_attempt, check_run_id FROM entries
		WHERE state = 'live' AND minted_at <= $1 GROUP BY repository, run_id, run_attempt, check_run_id
		ORDER BY MIN(minted_at), MIN(id) LIMIT $2`, ms(mintedBefore), limit)
	if err != nil {
		return nil, fmt.Errorf("list jobs with live tokens: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		var j Job
		if err := rows.Scan(&j.Repository, &j.RunID, &j.RunAttempt, &j.CheckRunID); err != nil {
			return nil, fmt.Errorf("list jobs with live tokens: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

const entryCols = `id, state, requested_at, repository, run_id, run_attempt, check_run_id, claims, rule, policy_ref,
	installation_id, repositories, permissions, token_sha256, minted_at, expires_at, revoked_by, revoked_at, failure, closed_at`

func (l *sqlLedger) DanglingIntents(ctx context.Context, requestedBefore time.Time) ([]Entry, error) {
	rows, err := l.db.QueryContext(ctx, "SELECT "+entryCols+" FROM entries WHERE state = 'intent' AND requested_at <= $1 ORDER BY id",
		ms(requestedBefore))
	if err != nil {
		return nil, fmt.Errorf("list dangling intents: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("list dangling intents: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (l *sqlLedger) Get(ctx context.Context, sha string) (Entry, error) {
	e, err := scanEntry(l.db.QueryRowContext(ctx, "SELECT "+entryCols+" FROM entries WHERE token_sha256 = $1", sha))
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, fmt.Errorf("token %s: %w", audit.ShortSHA(sha), ErrNotFound)
	}
	return e, err
}

func scanEntry(row interface{ Scan(...any) error }) (Entry, error) {
	var e Entry
	var id, requested int64
	var state, claims, repos, perms string
	var sha, by, failure sql.NullString
	var minted, expires, revoked, closed sql.NullInt64
	err := row.Scan(&id, &state, &requested, &e.Intent.Job.Repository, &e.Intent.Job.RunID, &e.Intent.Job.RunAttempt,
		&e.Intent.Job.CheckRunID, &claims, &e.Intent.Rule, &e.Intent.PolicyRef, &e.Intent.Installation, &repos, &perms,
		&sha, &minted, &expires, &by, &revoked, &failure, &closed)
	if err != nil {
		return e, err
	}
	e.ID, e.State, e.Intent.RequestedAt, e.Intent.Claims = IntentID(id), State(state), fromMS(requested), json.RawMessage(claims)
	if err := json.Unmarshal([]byte(repos), &e.Intent.Repositories); err != nil {
		return e, fmt.Errorf("entry %d: repositories: %w", id, err)
	}
	if err := json.Unmarshal([]byte(perms), &e.Intent.Permissions); err != nil {
		return e, fmt.Errorf("entry %d: permissions: %w", id, err)
	}
	e.SHA256, e.Revoked.By, e.Failure = sha.String, by.String, failure.String
	e.MintedAt, e.ExpiresAt, e.Revoked.At, e.ClosedAt = nullMS(minted), nullMS(expires), nullMS(revoked), nullMS(closed)
	return e, nil
}

func (l *sqlLedger) ExchangeOnce(ctx context.Context, issuer, jti string, expires time.Time) (bool, error) {
	if issuer == "" || jti == "" {
		return false, errNoJTI
	}
	n, err := l.execCount(ctx, nil, insertExchange, issuer, jti, ms(expires))
	if err != nil {
		return false, fmt.Errorf("record the OIDC exchange: %w", err)
	}
	return n == 1, nil
}

func (l *sqlLedger) Stats(ctx context.Context) (Stats, error) {
	// Metrics are scraped often and the table only grows: the live and
	// dangling counts read their partial indexes, and the entries count is
	// the highest ID (IDs only grow; PostgreSQL may skip one for an insert
	// that failed).
	var s Stats
	err := l.db.QueryRowContext(ctx, `SELECT
		(SELECT COALESCE(MAX(id), 0) FROM entries),
		(SELECT COUNT(*) FROM entries WHERE state = 'live'),
		(SELECT COUNT(*) FROM entries WHERE state = 'intent')`).Scan(&s.Entries, &s.Live, &s.Dangling)
	if err != nil {
		return s, fmt.Errorf("count the ledger: %w", err)
	}
	return s, nil
}

func (l *sqlLedger) Close() error {
	if l.lite != nil {
		l.lite.close()
	}
	if l.ckpt != nil {
		l.ckpt.close()
	}
	if l.pg != nil {
		l.pg.close()
	}
	l.stmts.Range(func(_, v any) bool {
		_ = v.(*sql.Stmt).Close()
		return true
	})
	return l.db.Close()
}

package ledger

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL's database/sql driver, pure Go
	_ "modernc.org/sqlite"             // SQLite's database/sql driver, pure Go
)

// dialect is what differs between the databases: the SQL is shared.
type dialect struct {
	name   string // "sqlite" or "postgres"
	driver string // the database/sql driver
	// types fills in the migrations' dialect types: {{id}}, an
	// auto-incremented 64-bit primary key, and {{bytes}}, a byte string.
	types *strings.Replacer
	// beginMigration starts the migration transaction and takes a lock
	// that serializes migrations across processes.
	beginMigration []string
	// sweepLock acquires the sweep lock for one holder.
	sweepLock func(ctx context.Context, l *sqlLedger) (held, bool, error)
}

// held is an acquired sweep lock.
type held interface {
	renew(ctx context.Context) error // fails if the lock was lost
	release(ctx context.Context) error
}

// postgresConns bounds a replica's connections to PostgreSQL.
const postgresConns = 16

// migrationLockKey and sweepLockKey are PostgreSQL advisory lock keys; the
// high half spells "jitk".
const (
	migrationLockKey int64 = 0x6a69746b_00000001
	sweepLockKey     int64 = 0x6a69746b_00000002
)

var dialects = map[string]dialect{
	"sqlite": {
		name: "sqlite", driver: "sqlite",
		types:          strings.NewReplacer("{{id}}", "INTEGER PRIMARY KEY", "{{bytes}}", "BLOB"),
		beginMigration: []string{"BEGIN IMMEDIATE"},
		sweepLock:      leaseLock,
	},
	"postgres": {
		name: "postgres", driver: "pgx",
		types:          strings.NewReplacer("{{id}}", "BIGSERIAL PRIMARY KEY", "{{bytes}}", "BYTEA"),
		beginMigration: []string{"BEGIN", fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLockKey)},
		sweepLock:      advisoryLock,
	},
}

// Open connects to the ledger's database, creating it (SQLite) and applying
// migrations as needed.
func Open(ctx context.Context, c Config) (Ledger, error) {
	d, ok := dialects[c.Driver]
	if !ok {
		return nil, fmt.Errorf("ledger driver %q is not known: use \"sqlite\" (one instance, a file) or \"postgres\" (several replicas)", c.Driver)
	}
	if c.Keys == nil {
		return nil, errors.New("the ledger needs a key to seal tokens: configure a 32-byte key (base64) or a KMS data key")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SweepLease <= 0 {
		c.SweepLease = time.Minute
	}
	dsn, err := d.dsn(c.DSN)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(d.driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open the %s ledger: %w", d.name, err)
	}
	if d.name == "sqlite" {
		// One writer at a time is all SQLite allows: queueing for the one
		// connection in Go beats polling for the file's write lock (whose
		// busy handler sleeps 1-100 ms): 25-35% more exchanges a second in
		// BenchmarkExchange.
		db.SetMaxOpenConns(1)
	} else {
		// The exchange path's writes take one connection (group commit); revocations, webhooks, the sweeper and metrics the rest.
		// Keep those opened: database/sql keeps 2 idle by default, so
		// under load every other statement opened a connection (a
		// PostgreSQL backend forked, the statements prepared again). At
		// most 16 per replica: mind max_connections (100 by default) when
		// running many replicas.
		db.SetMaxOpenConns(postgresConns)
		db.SetMaxIdleConns(postgresConns)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	if err := ping(ctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open the %s ledger: %w", d.name, err)
	}
	if err := migrate(ctx, db, d, c.Now()); err != nil {
		_ = db.Close()
		return nil, err
	}
	l := &sqlLedger{db: db, d: d, keys: c.Keys, now: c.Now, lease: c.SweepLease}
	if d.name == "postgres" {
		// pgx prepares the group's statements once per connection itself.
		l.pg = newGroupCommit(pgCommitter{db: db}.commit)
		return l, nil
	}
	// The checkpointer's connection waits little for locks: a checkpoint
	// that must wait for the writer or a reader is tried again later
	// rather than hold the writer back.
	side, err := sql.Open(d.driver, c.DSN+sqliteOptions(sideBusy))
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open the %s ledger: %w", d.name, err)
	}
	side.SetMaxOpenConns(1)
	l.lite, l.ckpt = newGroupCommit(sqliteCommit(db)), newWALCheckpointer(side)
	for _, q := range []string{insertExchange, insertIntent, updateMint} {
		// Prepared now: a transaction (on SQLite's one connection) then
		// finds them prepared.
		if _, err := l.stmt(ctx, nil, q); err != nil {
			_ = l.Close()
			return nil, fmt.Errorf("open the %s ledger: %w", d.name, err)
		}
	}
	return l, nil
}

// dsn checks the configured data source and adds what the dialect needs.
func (d dialect) dsn(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("the %s ledger needs a data source: a file path for sqlite, a connection string for postgres", d.name)
	}
	if d.name != "sqlite" {
		return s, nil
	}
	if strings.ContainsAny(s, "?#") || strings.HasPrefix(s, "file:") || s == ":memory:" {
		return "", fmt.Errorf("the sqlite ledger %q must be a plain file path (no file: URI, query or :memory:)", s)
	}
	// The file holds sealed tokens and job claims: readable by its owner only.
	f, err := os.OpenFile(s, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", fmt.Errorf("open the sqlite ledger: %w", err)
	}
	_ = f.Close()
	return s + sqliteOptions(10*time.Second), nil
}

// sqliteOptions are the pragmas of a SQLite connection. WAL lets readers run
// beside the writer; writers wait for each other (busy_timeout) and take the
// write lock when their transaction begins. secure_delete zeroes what a write
// frees, so an erased token's ciphertext leaves the file's bytes, not only
// its rows (walCheckpointer). The writer checkpoints itself only at
// walWriterPages.
func sqliteOptions(busy time.Duration) string {
	return "?_pragma=busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
		"&_pragma=secure_delete(ON)&_pragma=wal_autocheckpoint(" + strconv.Itoa(walWriterPages) + ")&_txlock=immediate"
}

// holderID names one acquisition of the sweep lock.
func holderID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ping connects, waiting out SQLite's lock while another process turns a new
// file to WAL mode: that pragma answers SQLITE_BUSY at once rather than
// waiting for busy_timeout.
func ping(ctx context.Context, db *sql.DB) error {
	for attempt := 1; ; attempt++ {
		err := db.PingContext(ctx)
		if err == nil || attempt == 100 || !strings.Contains(err.Error(), "SQLITE_BUSY") {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

package ledger

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrations holds the schema changes as NNNN_name.sql, applied in order,
// each once, each in the same transaction as its record. The dialect fills
// in the few types that differ ({{id}}, {{bytes}}).
//
//go:embed migrations
var migrations embed.FS

type migration struct {
	version int
	name    string
	stmts   []string
}

// loadMigrations reads the migrations in version order, in d's types.
func loadMigrations(d dialect) ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: the name must start with a version number and an underscore", n)
		}
		body, err := migrations.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, stmts: splitStatements(d.types.Replace(string(body)))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := range out {
		if out[i].version != i+1 {
			return nil, fmt.Errorf("migration %s: versions must run 1, 2, 3… without gaps or repeats", out[i].name)
		}
	}
	return out, nil
}

// splitStatements splits a migration at the semicolons that end lines,
// dropping comment lines. Migrations hold no semicolon inside a literal.
func splitStatements(body string) []string {
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	var stmts []string
	for _, s := range strings.Split(strings.Join(lines, "\n"), ";\n") {
		if s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), ";")); s != "" {
			stmts = append(stmts, s)
		}
	}
	return stmts
}

// migrate applies the dialect's missing migrations inside one transaction
// that holds the dialect's migration lock, so two replicas starting at once
// apply each migration once: the second waits, then finds nothing to do. A
// database migrated by a newer jitkey is refused, not downgraded.
func migrate(ctx context.Context, db *sql.DB, d dialect, now time.Time) error {
	ms, err := loadMigrations(d)
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate the ledger: %w", err)
	}
	defer func() { _ = conn.Close() }()
	for _, s := range d.beginMigration {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			rollback(conn)
			return fmt.Errorf("migrate the ledger: take the migration lock: %w", err)
		}
	}
	if err := applyMigrations(ctx, conn, ms, now); err != nil {
		rollback(conn)
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		rollback(conn)
		return fmt.Errorf("migrate the ledger: commit: %w", err)
	}
	return nil
}

func applyMigrations(ctx context.Context, conn *sql.Conn, ms []migration, now time.Time) error {
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT NOT NULL PRIMARY KEY,
		name       TEXT   NOT NULL,
		applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate the ledger: %w", err)
	}
	var have int
	if err := conn.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&have); err != nil {
		return fmt.Errorf("migrate the ledger: read its version: %w", err)
	}
	if have > len(ms) {
		return fmt.Errorf("the ledger's schema is at version %d, newer than this jitkey knows (%d): run the jitkey that migrated it, or a newer one", have, len(ms))
	}
	for _, m := range ms[have:] {
		for _, s := range m.stmts {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("migrate the ledger: %s: %w", m.name, err)
			}
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
			m.version, m.name, now.UnixMilli()); err != nil {
			return fmt.Errorf("migrate the ledger: record %s: %w", m.name, err)
		}
	}
	return nil
}

func rollback(conn *sql.Conn) {
	_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
}

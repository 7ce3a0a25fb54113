// Package ledger records every token the broker mints, from the intent written
// before GitHub is asked to the revocation or expiry that ends it, and holds
// the token itself, encrypted, until then so that the broker can revoke it
// without the job.
//
// One write happens before GitHub mints (RecordIntent) and one after
// (RecordMint, or RecordFailure when GitHub refused): a crash between the two
// leaves an intent with neither, which DanglingIntents reports; it is never
// silent. A token is stored sealed with AES-256-GCM under a key from
// configuration or a KMS data key, its additional data binding the
// ciphertext to the row's token SHA-256, and the ciphertext is erased (set to
// NULL) when the token is revoked or marked expired.
//
// Two databases hold it behind the same Ledger: SQLite (modernc.org/sqlite,
// pure Go) embedded in one instance, and PostgreSQL (pgx) shared by several
// stateless replicas. The SQL is the same; what differs (migration and sweep
// locks, column types) is a dialect. Migrations are embedded and versioned,
// applied by Open under a lock so replicas starting together apply each once.
//
// Replicas coordinate through the database alone: ExchangeOnce lets one OIDC
// token (issuer, jti) be exchanged once across all of them, and WithSweepLock
// lets exactly one of them sweep at a time (pg_try_advisory_lock on
// PostgreSQL, a lease row on SQLite).
package ledger

package ledger

import "github.com/jitkey/jitkey/internal/pgtest"

// The test binary's private PostgreSQL clusters, shared by the package's
// internal and external tests (TestMain stops them): PG for tests, PGDurable
// (PostgreSQL's default durability) for the benchmark.
var (
	PG        = pgtest.New()
	PGDurable = pgtest.NewDurable()
)

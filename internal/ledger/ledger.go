package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jitkey/jitkey/internal/github"
)

// Ledger is the broker's record of its tokens. Every method is safe for
// concurrent use, within one process and across replicas sharing a database.
// Times are stored to the millisecond.
type Ledger interface {
	// RecordIntent writes what is about to be minted, before GitHub is asked,
	// and returns the intent's ID for RecordMint or RecordFailure.
	RecordIntent(ctx context.Context, in Intent) (IntentID, error)
	// RecordMint completes an intent with the token GitHub answered. The
	// token is stored sealed until it is revoked or expires. ErrNotFound if
	// the intent does not exist, ErrConflict if it was already completed or
	// the token SHA-256 is already recorded.
	RecordMint(ctx context.Context, id IntentID, m Mint) error
	// RecordFailure closes an intent GitHub refused (nothing was minted), so
	// it is not reported as dangling. ErrNotFound, ErrConflict as RecordMint.
	RecordFailure(ctx context.Context, id IntentID, reason string, at time.Time) error

	// MarkRevoked records that the token with this SHA-256 (hex) was revoked
	// and erases the sealed token. It reports false, without error, when the
	// token was already revoked or expired (the first record stays), and
	// ErrNotFound when no such token was minted.
	MarkRevoked(ctx context.Context, sha256 string, r Revocation) (bool, error)
	// Expire marks every live token whose expiry is at or before now as
	// expired, erasing it, and forgets exchanged OIDC token IDs that expired.
	// It returns how many tokens it marked.
	Expire(ctx context.Context, now time.Time) (int, error)

	// Prune deletes the rows closed before closedBefore: revoked, expired
	// (their tokens were erased when they closed) and failed. Live tokens
	// and intents without an answer are never pruned. It deletes batch rows
	// at a time (0: 1,000), so no transaction holds the database long, until
	// none is left or ctx ends, and returns how many it deleted.
	Prune(ctx context.Context, closedBefore time.Time, batch int) (int, error)

	// LiveTokensForJob returns the live tokens minted for one job: the same
	// repository, run, attempt and check-run ID. A token minted without the
	// check_run_id claim has CheckRunID 0 and is found by LiveTokensForRun.
	LiveTokensForJob(ctx context.Context, job Job) ([]LiveToken, error)
	// LiveTokensForRun returns the live tokens minted for any job and any
	// attempt of one workflow run.
	LiveTokensForRun(ctx context.Context, repository string, runID int64) ([]LiveToken, error)
	// LiveJobs lists, oldest first and at most limit, the jobs holding live
	// tokens minted at or before mintedBefore: what the sweeper asks GitHub
	// about.
	LiveJobs(ctx context.Context, mintedBefore time.Time, limit int) ([]Job, error)
	// DanglingIntents lists the intents requested at or before requestedBefore
	// that have neither a mint nor a failure recorded: a crash (or a lost
	// answer) between asking GitHub and recording. GitHub may hold a token the
	// ledger cannot revoke; the operator must be told.
	DanglingIntents(ctx context.Context, requestedBefore time.Time) ([]Entry, error)
	// Get returns everything recorded about one token (never the token).
	// ErrNotFound if no token with this SHA-256 was minted.
	Get(ctx context.Context, sha256 string) (Entry, error)

	// ExchangeOnce records that the OIDC token (issuer, jti) is being
	// exchanged, and reports true only the first time, across every replica.
	// expires is the OIDC token's own expiry: after it the record may be
	// forgotten (the token is refused as expired anyway).
	ExchangeOnce(ctx context.Context, issuer, jti string, expires time.Time) (bool, error)
	// ExchangeIntent is ExchangeOnce and RecordIntent in one transaction:
	// the intent is written only if this is the OIDC token's first
	// exchange, which first reports. The broker's hot path: one commit
	// (one round trip on PostgreSQL) instead of two.
	ExchangeIntent(ctx context.Context, x OIDCToken, in Intent) (id IntentID, first bool, err error)
	// WithSweepLock runs fn if no other holder (in this process or another
	// replica) holds the sweep lock, and reports whether it ran. fn's context
	// is cancelled if the lock is lost.
	WithSweepLock(ctx context.Context, fn func(context.Context) error) (bool, error)

	// Stats counts the ledger for metrics.
	Stats(ctx context.Context) (Stats, error)
	// Close releases the database.
	Close() error
}

// OIDCToken is the identity of an OIDC token exchanged once: its issuer and
// jti, and its expiry, after which its record may be forgotten.
type OIDCToken struct {
	Issuer, JTI string
	Expires     time.Time
}

// IntentID identifies an intent (and the token minted for it).
type IntentID int64

// Job identifies the workflow job a token was minted for, from its verified
// OIDC claims. CheckRunID is 0 when the token had no check_run_id claim.
type Job struct {
	Repository string // owner/name of the workflow's repository
	RunID      int64
	RunAttempt int64
	CheckRunID int64
}

// Intent is what the broker is about to ask GitHub for, and why.
type Intent struct {
	Job          Job
	Claims       json.RawMessage // the verified OIDC claims, as JSON
	Rule         string          // the policy rule that allowed it
	PolicyRef    string          // the policy's commit (or blob) SHA
	Installation int64
	// Repositories are owner/name; Permissions map a permission to its level.
	Repositories []string
	Permissions  map[string]string
	RequestedAt  time.Time
}

// Mint is GitHub's answer to an intent.
type Mint struct {
	Token     github.Secret // sealed at rest, erased at revocation or expiry
	MintedAt  time.Time
	ExpiresAt time.Time
}

// Revocation says who or what revoked a token, and when. By is a short
// label: "job" (the post step through the broker), "webhook:workflow_job",
// "webhook:workflow_run", "sweeper", "github" (already dead when the sweeper
// tried), "operator".
type Revocation struct {
	By string
	At time.Time
}

// LiveToken is a token the broker may still have to revoke.
type LiveToken struct {
	SHA256       string // hex
	Token        github.Secret
	Installation int64
	Job          Job
	ExpiresAt    time.Time
}

// State is where an entry is in its life.
type State string

// The states, in order.
const (
	StateIntent  State = "intent"  // written before minting; nothing answered yet
	StateFailed  State = "failed"  // GitHub refused; nothing was minted
	StateLive    State = "live"    // minted, held sealed
	StateRevoked State = "revoked" // revoked, erased
	StateExpired State = "expired" // expired, erased
)

// Entry is one intent and whatever followed it, without the token.
type Entry struct {
	ID     IntentID
	State  State
	Intent Intent
	// Set once minted.
	SHA256    string
	MintedAt  time.Time
	ExpiresAt time.Time
	// Set once revoked.
	Revoked Revocation
	// Set when GitHub refused, and when the token was marked expired.
	Failure  string
	ClosedAt time.Time
}

// Stats are the ledger's counts.
type Stats struct {
	Entries  int64 // intents ever recorded (the highest ID: PostgreSQL may skip one after a failed insert)
	Live     int64 // tokens held sealed
	Dangling int64 // intents with neither mint nor failure, any age
}

// Errors a caller branches on.
var (
	ErrNotFound = errors.New("ledger: not found")
	ErrConflict = errors.New("ledger: already recorded")
)

// Config opens a ledger.
type Config struct {
	// Driver is "sqlite" (the embedded default: DSN is a file path) or
	// "postgres" (DSN is a pgx connection string or URL).
	Driver string
	DSN    string
	// Keys seal the tokens; required.
	Keys *Keyring
	// Now is the clock for leases; nil means time.Now.
	Now func() time.Time
	// SweepLease is how long a SQLite sweep lease lasts unless renewed
	// (it is renewed at a third of it while fn runs); 0 means one minute.
	SweepLease time.Duration
}

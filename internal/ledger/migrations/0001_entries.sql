-- Every intent, and the token minted for it while it lives.
-- {{id}} and {{bytes}} are the dialect's auto-incremented key and byte
-- string types (internal/ledger/open.go).
CREATE TABLE entries (
	id              {{id}},
	state           TEXT   NOT NULL CHECK (state IN ('intent', 'failed', 'live', 'revoked', 'expired')),
	requested_at    BIGINT NOT NULL, -- Unix milliseconds, as every time here
	repository      TEXT   NOT NULL, -- the job's owner/name, lower-case
	run_id          BIGINT NOT NULL,
	run_attempt     BIGINT NOT NULL,
	check_run_id    BIGINT NOT NULL, -- 0: the OIDC token had no check_run_id
	claims          TEXT   NOT NULL, -- the verified OIDC claims, JSON
	rule            TEXT   NOT NULL,
	policy_ref      TEXT   NOT NULL,
	installation_id BIGINT NOT NULL,
	repositories    TEXT   NOT NULL, -- JSON array of owner/name
	permissions     TEXT   NOT NULL, -- JSON object
	token_sha256    TEXT   UNIQUE,
	sealed_token    {{bytes}} CHECK (sealed_token IS NULL OR state = 'live'),
	minted_at       BIGINT,
	expires_at      BIGINT,
	revoked_by      TEXT,
	revoked_at      BIGINT,
	failure         TEXT,
	closed_at       BIGINT
);
CREATE INDEX entries_live_job ON entries (repository, run_id, run_attempt, check_run_id) WHERE state = 'live';
CREATE INDEX entries_live_minted ON entries (minted_at) WHERE state = 'live';
CREATE INDEX entries_live_expires ON entries (expires_at) WHERE state = 'live';
CREATE INDEX entries_intent ON entries (requested_at) WHERE state = 'intent';

-- OIDC tokens exchanged, until they expire: one exchange per (issuer, jti).
CREATE TABLE exchanges (
	issuer     TEXT   NOT NULL,
	jti        TEXT   NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (issuer, jti)
);
CREATE INDEX exchanges_expires ON exchanges (expires_at);

-- The sweep lease, SQLite's sweep lock (PostgreSQL takes an advisory lock).
CREATE TABLE leases (
	name     TEXT   PRIMARY KEY,
	holder   TEXT   NOT NULL,
	until_ms BIGINT NOT NULL
);
INSERT INTO leases (name, holder, until_ms) VALUES ('sweep', '', 0);

-- Closed rows by when they closed: what retention prunes (Ledger.Prune).
CREATE INDEX entries_closed ON entries (closed_at) WHERE state IN ('revoked', 'expired', 'failed');

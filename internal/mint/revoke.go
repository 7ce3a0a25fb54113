package mint

import (
	"context"

	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/revocation"
)

// RevokeOutcome is how a revocation ended.
type RevokeOutcome = revocation.Outcome

// The outcomes of Revoke.
const (
	Revoked        = revocation.Revoked
	AlreadyRevoked = revocation.AlreadyRevoked
	RevokeFailed   = revocation.Failed
)

// Revoke revokes a token (see revocation.Revoke): one API call, 401 counts
// as already revoked.
func (m *Minter) Revoke(ctx context.Context, tok github.Secret) (RevokeOutcome, error) {
	return revocation.Revoke(ctx, m.tokens, tok)
}

package mint

import (
	"context"
	"errors"

	"github.com/jitkey/jitkey/internal/github"
)

// RevokeOutcome is how a revocation ended.
type RevokeOutcome string

// The outcomes of Revoke.
const (
	Revoked        RevokeOutcome = "revoked"         // GitHub answered 204: the token is dead
	AlreadyRevoked RevokeOutcome = "already_revoked" // GitHub answered 401: revoked before, or expired
	RevokeFailed   RevokeOutcome = "revoke_failed"
)

// Revoke revokes a token with DELETE /installation/token, authenticated with
// the token itself: one API call. The client retries 5xx answers and network
// errors with back-off within ctx's deadline; callers bound ctx (jitkey
// revoke: 50 s). A 401 means the token is already revoked or expired, which
// is success. GitHub's 204 is the confirmation: the token is dead when it
// returns. When an answer was lost and the retry meets 401, that 401 confirms
// the first attempt worked.
func (m *Minter) Revoke(ctx context.Context, tok github.Secret) (RevokeOutcome, error) {
	if tok.Reveal() == "" {
		return RevokeFailed, errors.New("no token to revoke")
	}
	c, err := m.tokens(tok)
	if err != nil {
		return RevokeFailed, err
	}
	err = c.RevokeInstallationToken(ctx)
	switch {
	case err == nil:
		return Revoked, nil
	case github.ClassOf(err) == github.ClassBadCredentials:
		return AlreadyRevoked, nil
	default:
		return RevokeFailed, err
	}
}

// Package revocation revokes installation tokens: DELETE /installation/token
// with the token itself, one API call. It links no policy engine, so the
// action's post step can run from a small binary.
package revocation

import (
	"context"
	"errors"

	"github.com/jitkey/jitkey/internal/github"
)

// Outcome is how a revocation ended.
type Outcome string

// The outcomes of Revoke.
const (
	Revoked        Outcome = "revoked"         // GitHub answered 204: the token is dead
	AlreadyRevoked Outcome = "already_revoked" // GitHub answered 401: revoked before, or expired
	Failed         Outcome = "revoke_failed"
)

// TokenAPI is a client authenticated with the token to revoke.
type TokenAPI interface {
	RevokeInstallationToken(ctx context.Context) error
}

// ClientFunc builds a TokenAPI for a token.
type ClientFunc func(token github.Secret) (TokenAPI, error)

// Revoke revokes a token with DELETE /installation/token, authenticated with
// the token itself: one API call. The client retries 5xx answers and network
// errors with back-off within ctx's deadline; callers bound ctx (jitkey
// revoke: 50 s). A 401 means the token is already revoked or expired, which
// is success. GitHub's 204 is the confirmation: the token is dead when it
// returns. When an answer was lost and the retry meets 401, that 401 confirms
// the first attempt worked.
func Revoke(ctx context.Context, clients ClientFunc, tok github.Secret) (Outcome, error) {
	if tok.Reveal() == "" {
		return Failed, errors.New("no token to revoke")
	}
	c, err := clients(tok)
	if err != nil {
		return Failed, err
	}
	err = c.RevokeInstallationToken(ctx)
	switch {
	case err == nil:
		return Revoked, nil
	case github.ClassOf(err) == github.ClassBadCredentials:
		return AlreadyRevoked, nil
	default:
		return Failed, err
	}
}

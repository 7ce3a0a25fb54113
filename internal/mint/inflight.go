package mint

import (
	"context"
	"fmt"

	"github.com/jitkey/jitkey/internal/github"
)

// RequestBound caps the mint request, retries included, so that a token it
// may have created is known to expire by InFlight.ExpiresBy.
const RequestBound = github.TokenRequestBound

// InFlight is a mint request about to be sent (see github.TokenInFlight):
// the caller records it first, where an operator will find it.
type InFlight = github.TokenInFlight

// WithInFlight has record called before each mint request is sent; an error
// stops the mint before anything is asked of GitHub.
func WithInFlight(record func(InFlight) error) Option {
	return func(m *Minter) { m.inFlight = record }
}

// beginMint records the mint request about to be sent and bounds it by
// RequestBound.
func (m *Minter) beginMint(ctx context.Context, installationID int64, owner string, req github.TokenRequest) (context.Context, context.CancelFunc, error) {
	if m.inFlight != nil {
		if err := m.inFlight(github.NewTokenInFlight("", installationID, owner, req, m.now())); err != nil {
			return ctx, func() {}, fmt.Errorf("record the mint about to be asked for, before asking: %w; nothing was minted", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, RequestBound)
	return ctx, cancel, nil
}

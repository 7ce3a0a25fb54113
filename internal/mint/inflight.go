package mint

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/github"
)

// RequestBound caps the mint request, retries included, so that a token it
// may have created is known to expire by InFlight.ExpiresBy.
const RequestBound = 2 * time.Minute

// tokenLife is how long GitHub's installation tokens live, fixed; clockMargin
// covers a clock that differs from GitHub's.
const (
	tokenLife   = time.Hour
	clockMargin = time.Minute
)

// InFlight is a mint request about to be sent. From then on GitHub may create
// a token before jitkey sees it (the step can be killed while the answer is
// on its way), so the caller records this first, where an operator will find
// it.
type InFlight struct {
	InstallationID int64
	Owner          string
	Repositories   []string          // names, without the owner
	Permissions    map[string]string // as asked
	Started        time.Time
	ExpiresBy      time.Time // no token from this request lives past it
}

// String says what is in flight: the installation, the scope asked for and
// when (the SHA-256 of a token is only known from GitHub's answer).
func (f InFlight) String() string {
	perms := make([]string, 0, len(f.Permissions))
	for k, v := range f.Permissions {
		perms = append(perms, k+":"+v)
	}
	sort.Strings(perms)
	repos := make([]string, len(f.Repositories))
	for i, r := range f.Repositories {
		repos[i] = f.Owner + "/" + r
	}
	return fmt.Sprintf("installation %d, %s on %s, asked at %s", f.InstallationID, strings.Join(perms, ", "),
		strings.Join(repos, ", "), f.Started.UTC().Format(time.RFC3339))
}

// WithInFlight has record called before each mint request is sent; an error
// stops the mint before anything is asked of GitHub.
func WithInFlight(record func(InFlight) error) Option {
	return func(m *Minter) { m.inFlight = record }
}

// beginMint records the mint request about to be sent and bounds it by
// RequestBound.
func (m *Minter) beginMint(ctx context.Context, installationID int64, owner string, req github.TokenRequest) (context.Context, context.CancelFunc, error) {
	now := m.now()
	if m.inFlight != nil {
		f := InFlight{InstallationID: installationID, Owner: owner, Repositories: req.Repositories, Permissions: req.Permissions,
			Started: now, ExpiresBy: now.Add(RequestBound + tokenLife + clockMargin)}
		if err := m.inFlight(f); err != nil {
			return ctx, func() {}, fmt.Errorf("record the mint about to be asked for, before asking: %w; nothing was minted", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, RequestBound)
	return ctx, cancel, nil
}

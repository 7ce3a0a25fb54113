package github

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// TokenRequestBound caps a token request, retries included, so that a token
// it may have created is known to expire by TokenInFlight.ExpiresBy.
const TokenRequestBound = 2 * time.Minute

// tokenLife is how long GitHub's installation tokens live, fixed;
// clockMargin covers a clock that differs from GitHub's.
const (
	tokenLife   = time.Hour
	clockMargin = time.Minute
)

// TokenInFlight is a token request about to be sent. From then on GitHub may
// create a token before the caller sees it (a step can be killed while the
// answer is on its way), so the caller records this first, where an
// operator will find it.
type TokenInFlight struct {
	// What is asked for, for people: "" for the job's token, "policy-read
	// token" for the token that reads the policies.
	What           string
	InstallationID int64
	Owner          string
	Repositories   []string          // names, without the owner
	Permissions    map[string]string // as asked
	Started        time.Time
	ExpiresBy      time.Time // no token from this request lives past it
}

// NewTokenInFlight describes a request started at start and bounded by
// TokenRequestBound.
func NewTokenInFlight(what string, installationID int64, owner string, req TokenRequest, start time.Time) TokenInFlight {
	return TokenInFlight{What: what, InstallationID: installationID, Owner: owner, Repositories: req.Repositories,
		Permissions: req.Permissions, Started: start, ExpiresBy: start.Add(TokenRequestBound + tokenLife + clockMargin)}
}

// String says what is in flight: the installation, the scope asked for and
// when (the SHA-256 of a token is only known from GitHub's answer).
func (f TokenInFlight) String() string {
	perms := make([]string, 0, len(f.Permissions))
	for k, v := range f.Permissions {
		perms = append(perms, k+":"+v)
	}
	sort.Strings(perms)
	repos := make([]string, len(f.Repositories))
	for i, r := range f.Repositories {
		repos[i] = f.Owner + "/" + r
	}
	s := fmt.Sprintf("installation %d, %s on %s, asked at %s", f.InstallationID, strings.Join(perms, ", "),
		strings.Join(repos, ", "), f.Started.UTC().Format(time.RFC3339))
	if f.What != "" {
		s = f.What + ": " + s
	}
	return s
}

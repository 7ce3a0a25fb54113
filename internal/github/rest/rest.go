// Package rest gives go-github clients over jitkey's authenticated,
// retrying GitHub clients, for the commands that use GitHub's wide REST API
// (review). It is a package of its own so that the action's step binaries,
// which link internal/github, do not link go-github: its API is large, and
// a binary that links text/template (as CUE's standard library does) keeps
// every exported method of it, about 2.4 MB that the launcher hashes and
// the kernel maps on every job.
package rest

import (
	gh "github.com/google/go-github/v62/github"

	"github.com/jitkey/jitkey/internal/github"
)

// Client returns a go-github client over c's authenticated, retrying
// transport and base URL.
func Client(c *github.Client) *gh.Client {
	rc := gh.NewClient(c.HTTPClient())
	rc.BaseURL = c.BaseURL()
	rc.UploadURL = c.BaseURL()
	rc.UserAgent = c.UserAgent()
	return rc
}

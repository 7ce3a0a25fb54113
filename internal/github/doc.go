// Package github builds the HTTP clients jitkey uses to talk to GitHub: App JWT
// and token authentication, api.github.com and GitHub Enterprise Server base
// URLs, bounded retries with back-off, rate-limit waits, and the classification
// of GitHub's answers into typed errors that say how to fix them.
//
// No credential handled here is ever formatted into an error or a log record.
package github

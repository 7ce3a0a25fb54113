// Package mint turns an allowed request into a scoped GitHub App installation
// token and takes it back: it reads the repository's committed policy through
// the API (never the workspace), decides with internal/policy, mints with
// explicit repositories and permissions, revokes, and writes one audit record
// per act.
package mint

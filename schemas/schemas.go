// Package schemas embeds the CUE definition of the jitkey policy language
// (apiVersion "jitkey.dev/v1"): #Policy for policy files and #Tests for
// policy unit test files. internal/policy loads it; nothing else should.
package schemas

import "embed"

// Get the source with `npm pack @octokit/openapi@23.0.2` (it writes
// octokit-openapi-23.0.2.tgz here; do not commit it), or set OCTOKIT_OPENAPI
// to the tarball's path, then run `go generate ./schemas`.
//go:generate go run ./internal/genperms -cue permissions.cue -go ../internal/policy/permissions_gen.go

// FS holds the schema files and the CUE module file, at its root.
//
//go:embed cue.mod/module.cue *.cue
var FS embed.FS

// Files are the schema's CUE files in FS, in load order.
var Files = []string{"policy.cue", "permissions.cue"}

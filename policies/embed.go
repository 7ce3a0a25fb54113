// Package policies holds jitkey's own example policies and their tests, a
// working example for users, embedded so that `jitkey sandbox` can run the
// whole lifecycle against them.
package policies

import "embed"

// FS holds every policy and policy test file of this directory.
//
//go:embed *.cue
var FS embed.FS

// Package policies holds jitkey's own example policies and their tests, a
// working example for users, embedded so that `jitkey sandbox` can run the
// whole lifecycle against them. They form a policy tree: one directory per
// repository of the acme organisation, as each lives in that repository's
// .github/jitkey/ directory, the organisation policy in acme/.github/.
package policies

import "embed"

// FS holds every policy and policy test file of the tree.
//
//go:embed all:acme
var FS embed.FS

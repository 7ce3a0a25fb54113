// Package policy loads jitkey's CUE policies into typed values and decides
// requests against them.
//
// Load unifies every file with the closed schema embedded from schemas/
// (#Policy, or #Tests for files named *_test.cue), positions every error in
// the policy file, compiles patterns and checks what CUE cannot (duplicate
// rule names, grants beyond the ceiling). Decide is pure Go over the
// decoded Set: the first rule whose match holds decides, the request must
// lie within its grant, and everything else is denied with a reason.
//
// This package is the only importer of cuelang.org/go; no cue.Value leaves it.
package policy

// Package e2e runs jitkey's GitHub Action end to end: the workflows under
// testdata/e2e go through nektos/act in host mode (no Docker), the action's
// node launchers start the real jitkey binary, and the binary talks to the
// GitHub simulator (internal/ghsim) served by the test process, which also
// issues the job's OIDC token. The tests then read the simulator's token
// ledger and scan act's output for leaked secrets.
//
// The tests skip themselves under -short and when act is not on PATH;
// .ci/run builds act from the pinned module in .ci/tools/act and puts it there.
package e2e

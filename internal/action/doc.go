// Package action is the GitHub Actions runner contract as jitkey honours it:
// typed and validated inputs, outputs and state written with a fresh random
// delimiter per value, masks issued before a secret is printed, escaped
// annotations, the step summary with its 1 MiB cap, and the job's OIDC token
// request with retries.
//
// It wraps github.com/sethvargo/go-githubactions only for the workflow-command
// encoding (escaping of messages and properties) and replaces the parts it gets
// wrong for a credential broker: a fixed heredoc delimiter, a panic when an
// environment file variable is unset, no way to read state, Fatalf calling
// os.Exit, and an ID-token request that neither masks nor retries.
//
// Nothing here reads the process: the environment, the standard output and the
// environment files come in through Options.
package action

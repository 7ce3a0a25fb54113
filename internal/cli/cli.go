// Package cli holds jitkey's subcommands: flags and environment into typed
// configuration, and the wiring between the domain packages.
package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/jitkey/jitkey/internal/mintstep"
	"github.com/jitkey/jitkey/internal/runstep"
)

// Exit codes shared by every command.
const (
	ExitOK       = runstep.ExitOK       // success, or clean
	ExitFindings = runstep.ExitFindings // findings at or above the failure threshold, a denial, a failed step
	ExitUsage    = runstep.ExitUsage    // usage or I/O error
)

// Env is the world a command sees. Commands never read the process
// environment, the clock or the standard streams directly.
type Env = runstep.Env

// OSEnv is the process's own environment.
func OSEnv() Env { return runstep.OSEnv() }

type command struct {
	name, summary string
	run           func(ctx context.Context, env Env, args []string) int
}

func commands() []command {
	return []command{
		{"validate", "check CUE policies: schema, lint, grant diff against a base", runValidate},
		{"test", "run the policy unit tests beside the policies, with rule and condition coverage", runTest},
		{"explain", "show the decision for a set of claims and a request", runExplain},
		{"mint", "mint a policy-scoped installation token (the action's main step)", mintstep.Run},
		{"revoke", "revoke the token minted by mint (the action's post step)", runRevoke},
		{"review", "review credentials and keep one issue per finding", runReview},
		{"serve", "run the token broker: OIDC in, scoped token out, revoked when the job ends", runServe},
		{"sandbox", "run the whole lifecycle against the built-in GitHub simulator", runSandbox},
		{"version", "print the version", runVersion},
	}
}

// Run runs one jitkey command and returns its exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stderr)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	fmt.Fprintf(env.Stderr, "jitkey: unknown command %q; run 'jitkey help' for the list\n", args[0])
	return ExitUsage
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("jitkey: job-scoped GitHub credentials, governed by CUE policy\n\nUsage: jitkey COMMAND [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'jitkey COMMAND -h' for a command's flags.\n")
	io.WriteString(w, b.String())
}

func runVersion(_ context.Context, env Env, _ []string) int {
	fmt.Fprintf(env.Stdout, "jitkey %s\n", runstep.Version)
	return ExitOK
}

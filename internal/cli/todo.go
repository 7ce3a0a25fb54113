package cli

// Placeholders, each replaced by the file of the helper that owns the command.

import (
	"context"
	"fmt"
)

func notYet(name string) func(context.Context, Env, []string) int {
	return func(_ context.Context, env Env, _ []string) int {
		fmt.Fprintf(env.Stderr, "jitkey %s: not built yet\n", name)
		return ExitUsage
	}
}

var (
	runMint    = notYet("mint")
	runRevoke  = notYet("revoke")
	runSandbox = notYet("sandbox")
)

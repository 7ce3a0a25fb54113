package cli

import (
	"context"

	"github.com/jitkey/jitkey/internal/runstep"
)

// Main is the jitkey process: the runtime tuned for a batch command
// (runstep.TuneBatch), every way the step can be stopped
// (runstep.StopContext) cancelling the command's context (mint revokes,
// revoke keeps its own grace), and the exit code to exit with.
func Main(args []string) int {
	runstep.TuneBatch()
	ctx, stop := runstep.StopContext(context.Background())
	defer stop()
	return Run(ctx, args, OSEnv())
}

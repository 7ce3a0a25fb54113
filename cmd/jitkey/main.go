// Command jitkey governs the life of the non-human credentials a CI pipeline touches.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/jitkey/jitkey/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.OSEnv())
	stop()
	os.Exit(code)
}

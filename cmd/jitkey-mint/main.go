// Command jitkey-mint is the action's main step: jitkey mint in a binary of
// its own that links only what a mint needs, so the step verifies and starts
// about half the bytes the full jitkey binary holds.
package main

import (
	"os"

	"github.com/jitkey/jitkey/internal/mintstep"
)

func main() {
	os.Exit(mintstep.Main(os.Args[1:]))
}

// Command jitkey governs the life of the non-human credentials a CI pipeline touches.
package main

import (
	"os"

	"github.com/jitkey/jitkey/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}

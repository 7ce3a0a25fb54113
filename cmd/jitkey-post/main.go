// Command jitkey-post is the action's post step: it revokes the token the
// main step (jitkey mint) minted. It is jitkey revoke in a binary of its own
// that links no policy engine, so the post step starts in a fraction of the
// time the full jitkey binary takes.
package main

import (
	"os"

	"github.com/jitkey/jitkey/internal/post"
)

func main() {
	os.Exit(post.Main(os.Args[1:]))
}

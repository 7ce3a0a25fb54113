package cli

import (
	"context"

	"github.com/jitkey/jitkey/internal/post"
)

// runRevoke is `jitkey revoke`, the action's post step, served by package
// post, which the small jitkey-post binary (what the action's post step
// runs) shares.
func runRevoke(ctx context.Context, env Env, args []string) int {
	return post.Run(ctx, env, args)
}

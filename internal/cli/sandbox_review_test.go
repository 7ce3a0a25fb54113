package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSandboxReviewSteps(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }, Now: time.Now, Dir: t.TempDir()}
	var world []sandboxStep
	for _, s := range sandboxSteps() {
		if strings.HasPrefix(s.title, "a simulated GitHub") {
			world = append(world, s)
		}
	}
	require.Len(t, world, 1)
	code := tour(context.Background(), env, append(world, reviewSandboxSteps()...))
	require.Equal(t, ExitOK, code, out.String())
	for _, want := range []string{"[jitkey] dormant deploy key \"legacy-deploy\" in acme/api", "write calls besides the review token's own mint and revoke: 0",
		"issues: update 2, close 1", "exempted by the review policy until"} {
		assert.Contains(t, out.String(), want)
	}
	assert.NotContains(t, out.String(), "c2VjcmV0", "the webhook URL's path stays out")
	assert.NotContains(t, out.String(), "PRIVATE KEY")
}

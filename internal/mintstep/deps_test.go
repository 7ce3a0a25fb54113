package mintstep_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMintBinaryLinksOnlyTheMint: the action's main step verifies (hashes)
// and starts jitkey-mint on every job, so it must link only what a mint
// needs: not the broker's storage and KMS clients (SQLite, pgx, the AWS
// SDK), the simulator, the review, go-github (the review's REST client:
// 2.4 MB in a binary that links CUE's text/template), CUE's @embed
// injection and the encodings it links (protobuf among them: 2.4 MB and
// ~1 ms of initialisation), a second copy of yaml.v3 (CUE links it as
// go.yaml.in/yaml/v3), or jitkey's other commands. Each would cost every job its bytes to hash and its package
// initialisation.
func TestMintBinaryLinksOnlyTheMint(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/jitkey/jitkey/cmd/jitkey-mint").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	assert.Contains(t, deps, "github.com/jitkey/jitkey/internal/policy", "jitkey-mint decides on the policies")
	for _, pkg := range deps {
		for _, banned := range []string{"modernc.org/", "github.com/jackc/", "github.com/aws/", "github.com/jitkey/jitkey/internal/cli",
			"github.com/jitkey/jitkey/internal/ledger", "github.com/jitkey/jitkey/internal/signer", "github.com/jitkey/jitkey/internal/broker",
			"github.com/jitkey/jitkey/internal/ghsim", "github.com/jitkey/jitkey/internal/review", "github.com/jitkey/jitkey/internal/issue",
			"github.com/jitkey/jitkey/internal/inventory", "github.com/jitkey/jitkey/internal/lint", "github.com/jitkey/jitkey/internal/policytest",
			"github.com/google/go-github/", "cuelang.org/go/cue/inject/embed", "google.golang.org/protobuf",
			"gopkg.in/yaml.v3"} {
			assert.False(t, pkg == banned || strings.HasPrefix(pkg, banned+"/") || strings.HasSuffix(banned, "/") && strings.HasPrefix(pkg, banned),
				"jitkey-mint links %s", pkg)
		}
	}
}

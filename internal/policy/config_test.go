package policy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
)

// TestDecodeConfig decodes a configuration against an embedded schema with
// CUE's standard library at hand, and refuses one that embeds files, as it
// refuses a policy that does.
func TestDecodeConfig(t *testing.T) {
	t.Parallel()
	const base = "public_url: \"https://jitkey.example.com\"\ngithub: {app_id: 12, private_key: file: \"app.pem\"}\n" +
		"ledger: sqlite: path: \"ledger.db\"\nencryption_key: env: \"KEY\"\nwebhook_secret: env: \"HOOK\"\n"
	const ok = "import \"strings\"\n\n" + base + "listen: strings.Join([\"127.0.0.1\", \"8080\"], \":\")\n"
	var cfg struct {
		Listen string `json:"listen"`
	}
	require.NoError(t, policy.DecodeConfig("serve.cue", []byte(ok), "serve.cue", "#Serve", &cfg))
	assert.Equal(t, "127.0.0.1:8080", cfg.Listen)

	embed := "@extern(embed)\n\npackage serve\n\n" + base + "listen: _ @embed(file=listen.json)\n"
	err := policy.DecodeConfig("serve.cue", []byte(embed), "serve.cue", "#Serve", &cfg)
	var errs policy.Errors
	require.ErrorAs(t, err, &errs)
	require.Len(t, errs, 1)
	assert.Equal(t, [2]int{1, 1}, [2]int{errs[0].Line, errs[0].Col})
	assert.Contains(t, errs[0].Message, "cannot embed other files")
}

package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/cli"
	"github.com/jitkey/jitkey/internal/ghsim"
)

func TestServeConfig(t *testing.T) {
	t.Parallel()
	sim := ghsim.New(ghsim.Options{})
	app := sim.AddApp(ghsim.AppSpec{})
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app.pem"), app.PrivateKeyPEM, 0o600))
	key := randomB64(t, 32)
	vars := map[string]string{"KEY": key, "HOOK": "0123456789abcdef0123456789"}
	base := `public_url: "https://jitkey.example.com"
github: {app_id: 12, private_key: file: "app.pem"}
ledger: sqlite: path: "ledger.db"
encryption_key: env: "KEY"
webhook_secret: env: "HOOK"
`
	cases := []struct {
		name, extra string
		vars        map[string]string
		code        int
		want        []string
	}{
		{"minimal, defaults filled", "", nil, 0, []string{"is valid; listen 127.0.0.1:8080, audience https://jitkey.example.com, ledger sqlite"}},
		{"unknown field", "limits: global_rat: 5\n", nil, 2, []string{"serve.cue:6", "global_rat", "not allowed"}},
		{"both ledgers", `ledger: postgres: dsn: env: "DSN"` + "\n", nil, 2, []string{"ledger"}},
		{"bad duration", `limits: request_timeout: "soon"` + "\n", nil, 2, []string{"request_timeout"}},
		{"secret in env missing", "", map[string]string{"KEY": ""}, 2, []string{"encryption_key: environment variable KEY is empty or unset"}},
		{"short key", "", map[string]string{"KEY": "c2hvcnQ="}, 2, []string{"must be 32 random bytes"}},
		{"public URL not a URL", `public_url: "jitkey"` + "\n", nil, 2, []string{"public_url"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(d, "app.pem"), app.PrivateKeyPEM, 0o600))
			src := base
			if tc.name == "public URL not a URL" {
				src = src[len(`public_url: "https://jitkey.example.com"`)+1:]
			}
			require.NoError(t, os.WriteFile(filepath.Join(d, "serve.cue"), []byte(src+tc.extra), 0o600))
			v := map[string]string{}
			for k, x := range vars {
				v[k] = x
			}
			for k, x := range tc.vars {
				v[k] = x
			}
			var out, errb bytes.Buffer
			env := cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return v[k] }, Dir: d}
			code := cli.Run(t.Context(), []string{"serve", "-config", "serve.cue", "-check"}, env)
			assert.Equal(t, tc.code, code, "stdout %s\nstderr %s", &out, &errb)
			for _, w := range tc.want {
				assert.Contains(t, out.String()+errb.String(), w)
			}
			assert.NotContains(t, out.String()+errb.String(), key, "a secret is never printed")
		})
	}
}

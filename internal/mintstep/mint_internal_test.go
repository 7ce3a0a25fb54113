package mintstep

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/jitkey/jitkey/internal/action"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/runstep"
)

// FuzzMintConfig feeds arbitrary command lines to jitkey mint's flag parsing
// and the shared input validation: no panic, and a private key passed in the
// environment never appears in what they print or return.
func FuzzMintConfig(f *testing.F) {
	f.Add("--app-id 1 --permissions contents:read --repositories api,infra")
	f.Add("--client-id Iv23liABCDEFGH --installation-id 12 --policy-ref refs/heads/main")
	f.Add("--permissions {contents: write, issues: admin} --owner acme")
	f.Add("--github-api-url https://ghes.example.com/api/v3 --require-oidc yes")
	f.Add("--repository acme/api extra")
	const key = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n"
	f.Fuzz(func(t *testing.T, line string) {
		var stderr bytes.Buffer
		env := runstep.Env{Stderr: &stderr, Stdout: &stderr, Now: time.Now, Dir: t.TempDir(),
			Getenv: func(k string) string {
				if k == "INPUT_PRIVATE-KEY" {
					return key
				}
				return ""
			}}
		getenv, ok := mintConfig(env, strings.Fields(line))
		if !ok {
			return
		}
		in, err := action.ReadInputs(getenv, policy.ValidLevel)
		if err != nil && strings.Contains(err.Error(), "MIIBOgIBAAJBAKj34") {
			t.Fatal("an input error quotes the private key")
		}
		if strings.Contains(stderr.String(), "MIIBOgIBAAJBAKj34") {
			t.Fatal("the flag parser printed the private key")
		}
		_ = qualify(in.Repositories, in.Owner)
	})
}

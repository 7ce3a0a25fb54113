package action

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	keyOnce sync.Once
	keyPEM  string
	keyPK8  string
)

func testKeys(t testing.TB) (pkcs1, pkcs8 string) {
	t.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
		b, _ := x509.MarshalPKCS8PrivateKey(k)
		keyPK8 = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b}))
	})
	return keyPEM, keyPK8
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func validPerm(name, level string) bool {
	levels := map[string][]string{"contents": {"read", "write"}, "issues": {"read", "write"}, "workflows": {"write"}}
	for _, l := range levels[name] {
		if l == level {
			return true
		}
	}
	return false
}

func TestInputName(t *testing.T) {
	t.Parallel()
	env := envOf(map[string]string{"INPUT_PRIVATE-KEY": " k ", "INPUT_MY_INPUT": "v", "INPUT_APP-ID": "1"})
	assert.Equal(t, "k", Input(env, "private-key"), "hyphens kept, upper-cased, trimmed")
	assert.Equal(t, "v", Input(env, "my input"), "spaces become _")
	assert.Equal(t, "1", Input(env, "App-Id"))
}

func TestReadInputsDefaults(t *testing.T) {
	t.Parallel()
	pkcs1, _ := testKeys(t)
	in, err := ReadInputs(envOf(map[string]string{
		"INPUT_APP-ID": "123", "INPUT_PRIVATE-KEY": pkcs1, "GITHUB_REPOSITORY_OWNER": "acme",
		"GITHUB_API_URL": "https://ghes.example.com/api/v3",
	}), validPerm)
	require.NoError(t, err)
	assert.Equal(t, Inputs{
		Command: "mint", AppID: "123", PrivateKey: pkcs1, Owner: "acme", Policy: DefaultPolicyPath,
		Audience: DefaultAudience, APIURL: "https://ghes.example.com/api/v3/",
	}, in)
	assert.Equal(t, []string{pkcs1, ""}, in.Secrets())
}

func TestReadInputsAll(t *testing.T) {
	t.Parallel()
	_, pkcs8 := testKeys(t)
	in, err := ReadInputs(envOf(map[string]string{
		"INPUT_CLIENT-ID": "Iv23liABCDEF12345678", "INPUT_PRIVATE-KEY": strings.ReplaceAll(pkcs8, "\n", `\n`),
		"INPUT_INSTALLATION-ID": "42", "INPUT_OWNER": "octo-org",
		"INPUT_REPOSITORIES": "api, web\nother/lib,api", "INPUT_PERMISSIONS": "contents: read\nissues: write",
		"INPUT_POLICY": "./policies/ci.cue", "INPUT_POLICY-REF": "refs/heads/main", "INPUT_AUDIENCE": "sts.example",
		"INPUT_GITHUB-API-URL": "http://127.0.0.1:8080/", "INPUT_GITHUB-TOKEN": "ghs_job", "INPUT_REQUIRE-OIDC": "true",
		"INPUT_COMMAND": "mint", "INPUT_ARGS": "--org\n  acme \n\n",
	}), validPerm)
	require.NoError(t, err)
	assert.Equal(t, "Iv23liABCDEF12345678", in.ClientID)
	assert.Equal(t, int64(42), in.InstallationID)
	assert.Equal(t, "octo-org", in.Owner)
	assert.Equal(t, []string{"api", "web", "other/lib"}, in.Repositories)
	assert.Equal(t, map[string]string{"contents": "read", "issues": "write"}, in.Permissions)
	assert.Equal(t, "policies/ci.cue", in.Policy)
	assert.Equal(t, "refs/heads/main", in.PolicyRef)
	assert.Equal(t, "sts.example", in.Audience)
	assert.Equal(t, "http://127.0.0.1:8080/", in.APIURL)
	assert.True(t, in.RequireOIDC)
	assert.Equal(t, []string{"--org", "acme"}, in.Args)
	assert.NoError(t, CheckPrivateKey(NormalizePrivateKey(in.PrivateKey)))
}

func TestReadInputsErrors(t *testing.T) {
	t.Parallel()
	pkcs1, _ := testKeys(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}))
	base := map[string]string{"INPUT_APP-ID": "1", "INPUT_PRIVATE-KEY": pkcs1}
	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"no app", map[string]string{"INPUT_APP-ID": ""}, "app-id or client-id is required"},
		{"both ids", map[string]string{"INPUT_CLIENT-ID": "Iv1.abcdef0123456789"}, "not both"},
		{"bad app id", map[string]string{"INPUT_APP-ID": "12a"}, "input app-id"},
		{"bad client id", map[string]string{"INPUT_APP-ID": "", "INPUT_CLIENT-ID": "abc"}, "input client-id"},
		{"no key", map[string]string{"INPUT_PRIVATE-KEY": ""}, "private-key is required"},
		{"not pem", map[string]string{"INPUT_PRIVATE-KEY": "ghp_notakey"}, "not a PEM block"},
		{"ec key", map[string]string{"INPUT_PRIVATE-KEY": ecPEM}, `"EC PRIVATE KEY" PEM block is not`},
		{"two keys", map[string]string{"INPUT_PRIVATE-KEY": pkcs1 + pkcs1}, "extra data"},
		{"corrupt key", map[string]string{"INPUT_PRIVATE-KEY": "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"}, "does not parse"},
		{"installation", map[string]string{"INPUT_INSTALLATION-ID": "-3"}, "input installation-id"},
		{"owner", map[string]string{"INPUT_OWNER": "bad owner"}, "input owner"},
		{"repositories", map[string]string{"INPUT_REPOSITORIES": "a/b/c"}, "input repositories"},
		{"repository dotdot", map[string]string{"INPUT_REPOSITORIES": "acme/.."}, "input repositories"},
		{"permissions yaml", map[string]string{"INPUT_PERMISSIONS": "contents read"}, "not a YAML map"},
		{"permission name", map[string]string{"INPUT_PERMISSIONS": "contentz: read"}, "no App permission contentz: read"},
		{"permission level", map[string]string{"INPUT_PERMISSIONS": "workflows: read"}, "workflows: read"},
		{"permission nested", map[string]string{"INPUT_PERMISSIONS": "contents: {a: b}"}, "level must be"},
		{"permissions empty", map[string]string{"INPUT_PERMISSIONS": "{}"}, "empty map"},
		{"policy outside", map[string]string{"INPUT_POLICY": "../secrets.cue"}, "input policy"},
		{"policy absolute", map[string]string{"INPUT_POLICY": "/etc/passwd"}, "input policy"},
		{"policy ref", map[string]string{"INPUT_POLICY-REF": "main..dev"}, "input policy-ref"},
		{"audience", map[string]string{"INPUT_AUDIENCE": "a&b=c"}, "input audience"},
		{"api url", map[string]string{"INPUT_GITHUB-API-URL": "ftp://x"}, "input github-api-url"},
		{"api url creds", map[string]string{"INPUT_GITHUB-API-URL": "https://u:p@x"}, "input github-api-url"},
		{"require-oidc", map[string]string{"INPUT_REQUIRE-OIDC": "yes"}, "input require-oidc"},
		{"command", map[string]string{"INPUT_COMMAND": "rm"}, "input command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.set {
				env[k] = v
			}
			_, err := ReadInputs(envOf(env), validPerm)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "MII", "a key must never be echoed")
		})
	}
}

func TestReadInputsReviewNeedsNoApp(t *testing.T) {
	t.Parallel()
	in, err := ReadInputs(envOf(map[string]string{"INPUT_COMMAND": "review", "INPUT_ARGS": "--org\nacme"}), nil)
	require.NoError(t, err)
	assert.Equal(t, "review", in.Command)
}

func TestParsePermissionsWithoutCheck(t *testing.T) {
	t.Parallel()
	got, err := ParsePermissions("{contents: write, organization_projects: admin}", nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"contents": "write", "organization_projects": "admin"}, got)
	_, err = ParsePermissions("contents: owner", nil)
	assert.ErrorContains(t, err, "read, write or admin")
	got, err = ParsePermissions("  ", nil)
	require.NoError(t, err)
	assert.Nil(t, got)
}

func FuzzReadInputs(f *testing.F) {
	pkcs1, _ := testKeys(f)
	f.Add("123", "", pkcs1, "api,web", "contents: read", "", "main", "https://api.github.com")
	f.Add("", "Iv1.abc", "-----BEGIN PRIVATE KEY-----\n", "a/b\nc", "{x: [1]}", "../x", "a..b", "http://[::1")
	f.Add("1", "", "\x00", ",,,\n", "- a\n- b", "./a/../../b", "@{", "https://h/?q")
	f.Fuzz(func(t *testing.T, appID, clientID, key, repos, perms, pol, ref, api string) {
		env := map[string]string{"INPUT_APP-ID": appID, "INPUT_CLIENT-ID": clientID, "INPUT_PRIVATE-KEY": key,
			"INPUT_REPOSITORIES": repos, "INPUT_PERMISSIONS": perms, "INPUT_POLICY": pol, "INPUT_POLICY-REF": ref,
			"INPUT_GITHUB-API-URL": api}
		in, err := ReadInputs(envOf(env), validPerm)
		if err != nil {
			k := strings.TrimSpace(key)
			echoedElsewhere := false
			for _, other := range []string{appID, clientID, repos, perms, pol, ref, api} {
				echoedElsewhere = echoedElsewhere || strings.Contains(other, k)
			}
			if len(k) >= 12 && !echoedElsewhere {
				assert.NotContains(t, err.Error(), k, "key echoed")
			}
			return
		}
		assert.NotContains(t, in.Policy, "..")
		for _, r := range in.Repositories {
			assert.NotContains(t, r, ",")
		}
		for k, v := range in.Permissions {
			assert.True(t, validPerm(k, v))
		}
	})
}

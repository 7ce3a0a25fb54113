package secretscan_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/secretscan"
)

const (
	ghsToken = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
	ghpToken = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
	patToken = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123"
)

func jwt(t *testing.T) string {
	t.Helper()
	enc := base64.RawURLEncoding
	h := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT","kid":"k1"}`))
	p := enc.EncodeToString([]byte(`{"iss":"https://token.actions.githubusercontent.com","sub":"repo:acme/api:ref:refs/heads/main"}`))
	sig := make([]byte, 256)
	_, err := rand.Read(sig)
	require.NoError(t, err)
	return h + "." + p + "." + enc.EncodeToString(sig)
}

func rsaPEM(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

func ecPEM(t *testing.T, pkcs8 bool) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	if pkcs8 {
		b, err := x509.MarshalPKCS8PrivateKey(k)
		require.NoError(t, err)
		return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b}))
	}
	b, err := x509.MarshalECPrivateKey(k)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: b}))
}

// statelessToken is an installation token in GitHub's format since
// 2026-04-27: ghs_APPID_JWT, about 520 characters.
func statelessToken(t *testing.T) string {
	t.Helper()
	return "ghs_1001_" + jwt(t)
}

// TestScanCoversStatelessTokens: the whole of a stateless installation
// token is one GitHub-token finding (not just the JWT inside it), and so is
// any piece of one that starts with its prefix: a token cut at its first
// dot, or half of it. (A piece from its middle is random base64url: only a
// known value, New(token), finds that.)
func TestScanCoversStatelessTokens(t *testing.T) {
	t.Parallel()
	tok := statelessToken(t)
	require.Greater(t, len(tok), 400)
	for name, leak := range map[string]string{
		"whole":               tok,
		"up to its first dot": tok[:strings.Index(tok, ".")],
		"first half":          tok[:len(tok)/2],
	} {
		text := "leaked: " + leak + " end"
		var covered bool
		for _, f := range secretscan.Scan(text) {
			if f.Offset <= strings.Index(text, leak) && f.Offset+f.Length >= strings.Index(text, leak)+len(leak) {
				covered = true
			}
		}
		assert.True(t, covered, "%s: %d bytes of a stateless token not covered by one finding: %v", name, len(leak), secretscan.Scan(text))
	}
}

func kinds(fs []secretscan.Finding) []secretscan.Kind {
	var out []secretscan.Kind
	for _, f := range fs {
		out = append(out, f.Kind)
	}
	return out
}

func TestScanDetectsPatterns(t *testing.T) {
	t.Parallel()
	token := jwt(t)
	tests := []struct {
		name string
		text string
		want secretscan.Kind
	}{
		{"installation token", "token: " + ghsToken + "\n", secretscan.KindGitHub},
		{"classic pat", "GITHUB_TOKEN=" + ghpToken, secretscan.KindGitHub},
		{"oauth token", `{"access_token":"gho_` + strings.Repeat("Z9", 18) + `"}`, secretscan.KindGitHub},
		{"user-to-server token", "ghu_" + strings.Repeat("a1", 18), secretscan.KindGitHub},
		{"refresh token", "ghr_" + strings.Repeat("B2", 18), secretscan.KindGitHub},
		{"token glued to a word", "x_" + ghsToken + "_y", secretscan.KindGitHub},
		{"token in basic auth url", "https://x-access-token:" + ghsToken + "@github.com/acme/api", secretscan.KindGitHub},
		{"fine-grained pat", "auth " + patToken + " end", secretscan.KindGitHubPAT},
		{"rsa key", "key:\n" + rsaPEM(t), secretscan.KindPrivateKey},
		{"ec key", ecPEM(t, false), secretscan.KindPrivateKey},
		{"pkcs8 key", ecPEM(t, true), secretscan.KindPrivateKey},
		{"openssh key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n", secretscan.KindPrivateKey},
		{"encrypted key", "-----BEGIN ENCRYPTED PRIVATE KEY-----", secretscan.KindPrivateKey},
		{"jwt", "Authorization: Bearer " + token, secretscan.KindJWT},
		{"jwt in json", `{"value":"` + token + `"}`, secretscan.KindJWT},
		{"unsigned jwt", strings.Join(strings.Split(token, ".")[:2], ".") + ".", secretscan.KindJWT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := secretscan.Scan(tt.text)
			require.NotEmpty(t, got, "no finding")
			assert.Contains(t, kinds(got), tt.want)
		})
	}
}

func TestScanNoFalsePositives(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte(ghsToken))
	digest := hex.EncodeToString(sum[:])
	tests := []struct {
		name string
		text string
	}{
		{"sha256 digest", "sha256:" + digest},
		{"sha256 hex prefixes", fmt.Sprintf("token %s… (%s) revoked", digest[:12], digest[:7])},
		{"ledger line", "id=42 sha256=" + digest + " state=revoked"},
		{"git commit", "commit 34e114876b0b11c390a56381ad16ebd13914f8d5"},
		{"prefix in prose", "installation tokens start with ghs_ and PATs with ghp_ or github_pat_"},
		{"short prefixed id", "ghs_abc github_pat_short"},
		{"masked output", "::add-mask::***\ntoken=*** expires 2026-11-28T15:00:00Z"},
		{"public key", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----"},
		{"certificate", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"},
		{"lone base64 json", "eyJhbGciOiJSUzI1NiJ9 is a JOSE header"},
		{"uuid", "run 3f2b8c1e-9d4a-4e5f-8a7b-1c2d3e4f5a6b"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Empty(t, secretscan.Scan(tt.text))
		})
	}
}

func TestScanKnownValues(t *testing.T) {
	t.Parallel()
	key := rsaPEM(t)
	lines := strings.Split(strings.TrimSpace(key), "\n")
	escaped, err := json.Marshal(map[string]string{"private_key": key})
	require.NoError(t, err)
	tests := []struct {
		name  string
		known []string
		text  string
		want  int
	}{
		{"exact value", []string{"s3cr3t-client-secret"}, "a s3cr3t-client-secret b", 1},
		{"every occurrence", []string{"hunter2hunter2"}, "hunter2hunter2 and hunter2hunter2", 2},
		{"one body line of a key", []string{key}, "oops: " + lines[3] + "\n", 1},
		{"key escaped in json", []string{key}, string(escaped), 1},
		{"empty value ignored", []string{""}, "anything at all", 0},
		{"absent value", []string{"not-here-at-all"}, "clean output", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var n int
			for _, f := range secretscan.Scan(tt.text, tt.known...) {
				if f.Kind == secretscan.KindKnown {
					n++
				}
			}
			assert.GreaterOrEqual(t, n, tt.want)
			if tt.want == 0 {
				assert.Zero(t, n)
			}
		})
	}
}

func TestScanOrdersByOffset(t *testing.T) {
	t.Parallel()
	text := "a " + patToken + " b " + ghsToken + " c"
	got := secretscan.Scan(text, "zzz-known-zzz")
	require.Len(t, got, 2)
	assert.Equal(t, secretscan.KindGitHubPAT, got[0].Kind)
	assert.Equal(t, secretscan.KindGitHub, got[1].Kind)
	assert.Equal(t, strings.Index(text, ghsToken), got[1].Offset)
	assert.Equal(t, len(ghsToken), got[1].Length)
}

type fakeTB struct{ errs []string }

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func TestAssertCleanNeverPrintsTheSecret(t *testing.T) {
	t.Parallel()
	token := jwt(t)
	key := ecPEM(t, true)
	text := strings.Join([]string{ghsToken, token, key, patToken, "known-value-123456"}, "\n")

	tb := &fakeTB{}
	ok := secretscan.AssertClean(tb, "act output", text, "known-value-123456")
	assert.False(t, ok)
	require.Len(t, tb.errs, 5)
	all := strings.Join(tb.errs, "\n")
	assert.Contains(t, all, "act output")
	assert.Empty(t, secretscan.Scan(all, ghsToken, token, key, patToken, "known-value-123456"),
		"the report itself must not carry a secret")

	clean := &fakeTB{}
	assert.True(t, secretscan.AssertClean(clean, "stdout", "nothing to see"))
	assert.Empty(t, clean.errs)
}

func TestNilScanner(t *testing.T) {
	t.Parallel()
	var s *secretscan.Scanner
	assert.Len(t, s.Scan(ghsToken), 1)
}

func FuzzScan(f *testing.F) {
	f.Add("ghs_" + strings.Repeat("a", 36))
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("-----BEGIN PRIVATE KEY-----")
	f.Fuzz(func(t *testing.T, text string) {
		for _, fd := range secretscan.Scan(text, "needle-needle") {
			require.LessOrEqual(t, fd.Offset+fd.Length, len(text))
			require.NotContains(t, fd.String(), text[fd.Offset:fd.Offset+fd.Length])
		}
	})
}

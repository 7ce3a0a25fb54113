package ghsim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"strconv"
	"strings"
)

// TokenFormat is the shape of the installation and job tokens the simulator
// mints.
type TokenFormat string

const (
	// TokenStateless is GitHub's format for installation tokens (and the
	// runner's GITHUB_TOKEN) rolled out from 2026-04-27: "ghs_", the App's
	// ID, "_", and a JWT GitHub signs with an internal key, about 520
	// characters in all, varying with what the JWT holds, with the dots and
	// the "-" and "_" of base64url. Clients must treat it as opaque. The
	// default.
	TokenStateless TokenFormat = "stateless"
	// TokenClassic is the earlier format: "ghs_" and 36 base62 characters.
	TokenClassic TokenFormat = "classic"
)

// statelessHeader is GitHub's per-request override of the format of the
// installation token a mint returns ("enabled" or "disabled"), offered for
// testing clients during the rollout.
const statelessHeader = "X-GitHub-Stateless-S2S-Token"

// githubActionsAppID is the App ID GitHub Actions' own tokens carry.
const githubActionsAppID = 15368

// tokenFormat is the format of the token minted for r (nil for tokens the
// simulator mints itself): the request's override, else the option.
func (s *Sim) tokenFormat(r *http.Request) TokenFormat {
	if r != nil {
		switch strings.ToLower(r.Header.Get(statelessHeader)) {
		case "enabled":
			return TokenStateless
		case "disabled":
			return TokenClassic
		}
	}
	if s.opts.TokenFormat == TokenClassic {
		return TokenClassic
	}
	return TokenStateless
}

// newTokenValue returns a token of the given format for t. Callers hold s.mu.
func (s *Sim) newTokenValue(f TokenFormat, t *token) string {
	if f == TokenClassic {
		return "ghs_" + random62(36)
	}
	appID := t.appID
	if t.kind == TokenJob {
		appID = githubActionsAppID
	}
	// What GitHub says the JWT holds: the installation, the App and basic
	// validation details; its length varies with them.
	claims := map[string]any{"iss": "github", "app_id": appID, "iat": t.created.Unix(), "exp": t.expires.Unix(), "jti": random62(22)}
	if t.inst != nil {
		claims["sub"] = "installation:" + strconv.FormatInt(t.inst.ID, 10)
	} else {
		claims["sub"] = "job"
	}
	// The JWT is GitHub's own and no client checks its signature; what
	// matters is its shape and length. The signature is 256 random bytes,
	// the length of an RS256 signature with a 2048-bit key: signing for real
	// cost ~2 ms of RSA per mint under s.mu, which serialized the whole
	// simulator and took most of the cores in the broker's benchmark.
	jwt, err := unsignedJWT(claims)
	if err != nil {
		panic("ghsim: encode a stateless token: " + err.Error())
	}
	return "ghs_" + strconv.FormatInt(appID, 10) + "_" + jwt
}

// unsignedJWT is an RS256-shaped JWT over claims whose signature is random.
func unsignedJWT(claims map[string]any) (string, error) {
	p, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	sig := make([]byte, 256)
	_, _ = rand.Read(sig)
	return statelessHeaderB64 + "." + base64.RawURLEncoding.EncodeToString(p) + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// statelessHeaderB64 is the encoded JWT header of a stateless token.
var statelessHeaderB64 = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))

// isToken reports whether a bearer credential has the prefix of a GitHub
// token (installation, user, OAuth, refresh, classic PAT or fine-grained
// PAT). A stateless installation token holds a JWT, dots included; an App
// JWT has no such prefix.
func isToken(cred string) bool {
	for _, p := range []string{"ghs_", "ghu_", "gho_", "ghr_", "ghp_", "github_pat_"} {
		if strings.HasPrefix(cred, p) {
			return true
		}
	}
	return false
}

const alnum62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func random62(n int) string {
	var b strings.Builder
	max := big.NewInt(int64(len(alnum62)))
	for range n {
		i, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("ghsim: random token: " + err.Error())
		}
		b.WriteByte(alnum62[i.Int64()])
	}
	return b.String()
}

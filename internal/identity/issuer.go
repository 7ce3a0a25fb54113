package identity

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// GitHubIssuer is the issuer of job tokens on github.com.
const GitHubIssuer = "https://token.actions.githubusercontent.com"

// slugRE is unbounded, the length checked apart: a bounded repetition
// compiles into a program as long as its bound, at every process start.
var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// IssuerFor returns the OIDC issuer of the GitHub at serverURL
// (GITHUB_SERVER_URL): token.actions.githubusercontent.com for github.com,
// token.actions.SUBDOMAIN.ghe.com for GHE.com, and SERVER/_services/token for
// GitHub Enterprise Server (and the simulator).
func IssuerFor(serverURL string) (string, error) {
	if serverURL == "" {
		return GitHubIssuer, nil
	}
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("server URL %q is not an http(s) URL; it comes from GITHUB_SERVER_URL", serverURL)
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case host == "github.com":
		return GitHubIssuer, nil
	case strings.HasSuffix(host, ".ghe.com") && strings.Count(host, ".") == 2:
		return "https://token.actions." + host, nil
	}
	return strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/") + "/_services/token", nil
}

// issuerAllowed reports whether a token's iss is the expected issuer, or,
// on github.com, an enterprise's custom issuer GitHubIssuer/<enterprise-slug>
// (GitHub Enterprise Cloud's "include_enterprise_slug" setting).
func issuerAllowed(expected, iss string) bool {
	if iss == expected {
		return true
	}
	if expected != GitHubIssuer {
		return false
	}
	slug, ok := strings.CutPrefix(iss, GitHubIssuer+"/")
	return ok && len(slug) <= 100 && slugRE.MatchString(slug)
}

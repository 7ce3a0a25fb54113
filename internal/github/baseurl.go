package github

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// DefaultBaseURL is the REST API of github.com.
const DefaultBaseURL = "https://api.github.com/"

// ParseBaseURL checks and normalises a REST API base URL (github-api-url,
// GITHUB_API_URL) so that it ends in a slash. An empty string means
// api.github.com. For GitHub Enterprise Server the API lives at
// https://HOST/api/v3/; a URL that looks like a GHES web address is refused
// with that advice. Loopback addresses (the simulator) and api.* hosts (GHEC
// with data residency) are accepted with any path.
func ParseBaseURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		raw = DefaultBaseURL
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, &Error{Class: ClassWrongAPIURL, Op: "parse API URL",
			Message: fmt.Sprintf("%q is not an http(s) URL", raw),
			Fix:     "set github-api-url to https://api.github.com/ or, for GitHub Enterprise Server, https://HOST/api/v3/"}
	}
	if u.User != nil {
		return nil, &Error{Class: ClassWrongAPIURL, Op: "parse API URL", Message: "the API URL carries credentials",
			Fix: "remove the user:password part from github-api-url; pass credentials as inputs"}
	}
	u.RawQuery, u.Fragment = "", ""
	host := strings.ToLower(u.Hostname())
	path := strings.TrimRight(u.Path, "/")
	switch {
	case host == "github.com" || host == "www.github.com":
		return nil, &Error{Class: ClassWrongAPIURL, Op: "parse API URL",
			Message: fmt.Sprintf("%s is the web address of github.com, not its API", u.Redacted()),
			Fix:     "set github-api-url to https://api.github.com/ (or leave it empty)"}
	case host == "api.github.com":
		if path != "" {
			return nil, &Error{Class: ClassWrongAPIURL, Op: "parse API URL",
				Message: fmt.Sprintf("%s has a path; api.github.com serves the API at its root", u.Redacted()),
				Fix:     "set github-api-url to https://api.github.com/"}
		}
	case isLoopback(host) || strings.HasPrefix(host, "api."):
	case strings.HasSuffix(path, "/api/v3"):
		path = path[:len(path)-len("/api/v3")] + "/api/v3"
	default:
		return nil, &Error{Class: ClassWrongAPIURL, Op: "parse API URL",
			Message: fmt.Sprintf("%s does not look like a GitHub API URL", u.Redacted()),
			Fix:     fmt.Sprintf("for GitHub Enterprise Server use https://%s/api/v3/ (the REST API lives under /api/v3/)", u.Host)}
	}
	u.Path = path + "/"
	u.RawPath = ""
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

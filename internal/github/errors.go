package github

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Class names a kind of failure a user can meet; each comes with its fix.
type Class string

// The classes of failure.
const (
	ClassNotInstalled            Class = "not_installed"               // the App is not installed on the owner or repository
	ClassPermissionNotGranted    Class = "permission_not_granted"      // asked for a permission the installation lacks
	ClassRepositoryNotAccessible Class = "repository_not_accessible"   // asked for a repository the installation does not cover
	ClassBadKey                  Class = "bad_key"                     // App ID/client ID and private key do not match, or no such App
	ClassClockSkew               Class = "clock_skew"                  // the App JWT's iat/exp were refused: the clock is off
	ClassBadCredentials          Class = "bad_credentials"             // a token that is invalid, expired or revoked
	ClassForbidden               Class = "forbidden"                   // the credential lacks the permission for the call
	ClassSuspended               Class = "suspended"                   // the installation is suspended
	ClassRateLimited             Class = "rate_limited"                // primary or secondary rate limit
	ClassWrongAPIURL             Class = "wrong_api_url"               // the base URL does not serve GitHub's REST API
	ClassNotFound                Class = "not_found"                   // the resource does not exist or is hidden from the credential
	ClassValidation              Class = "validation"                  // another 422
	ClassServer                  Class = "server"                      // 5xx after the retries
	ClassNetwork                 Class = "network"                     // no answer after the retries
	ClassInvalidAnswer           Class = "invalid_answer"              // an answer that could not be read
	ClassOwnerMismatch           Class = "installation_owner_mismatch" // the installation, or the token minted, belongs to another owner than the grant
	ClassPolicyUnavailable       Class = "policy_unavailable"          // the organisation policy is missing or unreadable: nothing is minted
	ClassOther                   Class = "other"
)

// Error is a classified failure of a GitHub API call. It never holds a
// credential: Message is GitHub's message with anything token-shaped redacted.
type Error struct {
	Class   Class
	Op      string // what was being done, e.g. "find the App installation for acme/api"
	Method  string
	Path    string // the API path, without host or query
	Status  int    // 0 when there was no answer
	Message string // GitHub's message or a description of the failure
	Fix     string // what the user should do
	// RetryAt is when a rate limit lifts, if known.
	RetryAt time.Time
	Err     error // the underlying network or decoding error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.Status)
		if e.Method != "" {
			fmt.Fprintf(&b, " on %s %s", e.Method, e.Path)
		}
		b.WriteString(")")
	}
	if e.Fix != "" {
		b.WriteString("; ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of err, or "" when err is not a classified error.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ""
}

// AsError returns the classified error in err's chain.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

var fixes = map[Class]string{
	ClassNotInstalled:            "install the GitHub App on the owner and give it access to the repository (organisation Settings → GitHub Apps)",
	ClassPermissionNotGranted:    "grant the permission to the App (App settings → Permissions) and approve the new permissions on the installation, or ask for less",
	ClassRepositoryNotAccessible: "add the repositories to the App installation (organisation Settings → GitHub Apps → Configure), or ask for fewer",
	ClassBadKey:                  "check that app-id (or client-id) and private-key belong to the same GitHub App and that the key has not been deleted",
	ClassClockSkew:               "the machine's clock is off from GitHub's by more than a minute: synchronise it (NTP) and retry",
	ClassBadCredentials:          "the token is invalid, expired or revoked: mint or pass a fresh one",
	ClassForbidden:               "give the credential the permission this call needs (for the policy read: 'permissions: contents: read' in the workflow)",
	ClassSuspended:               "an organisation owner must unsuspend the App installation",
	ClassRateLimited:             "wait until the rate limit resets, or spread the jobs out",
	ClassWrongAPIURL:             "set github-api-url to https://api.github.com/ or, for GitHub Enterprise Server, https://HOST/api/v3/",
	ClassNotFound:                "check the owner, repository, path and ref, and that the credential can see them",
	ClassValidation:              "check the request against GitHub's documentation",
	ClassServer:                  "GitHub is failing; retry later (see https://www.githubstatus.com)",
	ClassNetwork:                 "check the network path to the GitHub API and github-api-url",
	ClassInvalidAnswer:           "retry; if it persists, check that github-api-url points at GitHub's REST API",
	ClassOwnerMismatch:           "installation-id must be the App's installation on the owner of the repositories granted: leave installation-id empty to look it up",
	ClassPolicyUnavailable:       "commit the organisation policy (ORG/.github, directory .github/jitkey/, default branch) and install the App on that repository with contents: read",
}

// FixFor returns the generic fix for a class.
func FixFor(c Class) string { return fixes[c] }

type errorBody struct {
	Message string `json:"message"`
}

// secretish matches GitHub tokens of every format (the stateless
// installation token ghs_APPID_JWT holds dots and base64url's "-" and "_"),
// JWTs and PEM headers.
var secretish = regexp.MustCompile(`(gh[opusr]_[A-Za-z0-9_.-]{8,}|github_pat_[A-Za-z0-9_]{8,}|eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_.-]*|-----BEGIN[^-]*-----)`)

// tokenPrefixes are the prefixes of GitHub's tokens: installation (and the
// runner's GITHUB_TOKEN), user-to-server, OAuth, refresh, classic and
// fine-grained personal access tokens.
var tokenPrefixes = []string{"ghs_", "ghu_", "gho_", "ghr_", "ghp_", "github_pat_"}

// IsToken reports whether a bearer credential is a GitHub token rather than
// a JWT: an installation token in the stateless format (ghs_APPID_JWT)
// holds a JWT, dots included, so counting dots does not tell them apart.
func IsToken(cred string) bool {
	for _, p := range tokenPrefixes {
		if strings.HasPrefix(cred, p) {
			return true
		}
	}
	return false
}

// Redact replaces anything shaped like a GitHub token, a JWT or a PEM block
// with "***".
func Redact(s string) string { return secretish.ReplaceAllString(s, "***") }

// responseMessage extracts GitHub's message from an error answer, redacted and
// bounded; ok is false when the body is not GitHub's JSON.
func responseMessage(h http.Header, body []byte) (msg string, ok bool) {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	var eb errorBody
	if (mt != "" && !strings.Contains(mt, "json")) || json.Unmarshal(body, &eb) != nil {
		return "", false
	}
	msg = Redact(strings.TrimSpace(eb.Message))
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg, true
}

// classify turns an answer with status >= 400 into an Error.
func classify(method, path string, status int, h http.Header, body []byte, now time.Time) *Error {
	e := &Error{Method: method, Path: path, Status: status}
	msg, isJSON := responseMessage(h, body)
	e.Message = msg
	if msg == "" {
		e.Message = strings.ToLower(http.StatusText(status))
	}
	lower := strings.ToLower(msg)
	switch {
	case !isJSON && status != http.StatusTooManyRequests && status < 500:
		e.Class = ClassWrongAPIURL
		e.Message = "the answer is not GitHub's JSON (" + strings.ToLower(http.StatusText(status)) + ")"
	case status == http.StatusUnauthorized:
		e.Class = classify401(lower)
	case isRateLimited(status, h, lower):
		e.Class = ClassRateLimited
		e.RetryAt = rateLimitReset(h, now)
		if !e.RetryAt.IsZero() {
			e.Fix = fmt.Sprintf("the rate limit lifts at %s; wait or spread the jobs out", e.RetryAt.UTC().Format(time.RFC3339))
		}
	case status == http.StatusForbidden && strings.Contains(lower, "suspended"):
		e.Class = ClassSuspended
	case status == http.StatusForbidden:
		e.Class = ClassForbidden
	case status == http.StatusNotFound:
		e.Class = ClassNotFound
	case status == http.StatusUnprocessableEntity && strings.Contains(lower, "not granted"):
		e.Class = ClassPermissionNotGranted
	case status == http.StatusUnprocessableEntity && strings.Contains(lower, "not accessible"):
		e.Class = ClassRepositoryNotAccessible
	case status == http.StatusUnprocessableEntity:
		e.Class = ClassValidation
	case status >= 500:
		e.Class = ClassServer
	default:
		e.Class = ClassOther
	}
	if e.Fix == "" {
		e.Fix = fixes[e.Class]
	}
	return e
}

func classify401(lower string) Class {
	switch {
	case strings.Contains(lower, "issued at") || strings.Contains(lower, "expiration time"):
		return ClassClockSkew
	case strings.Contains(lower, "could not be decoded") || strings.Contains(lower, "integration not found") ||
		strings.Contains(lower, "jwt") || strings.Contains(lower, "json web token"):
		return ClassBadKey
	default:
		return ClassBadCredentials
	}
}

func isRateLimited(status int, h http.Header, lower string) bool {
	if status == http.StatusTooManyRequests {
		return true
	}
	if status != http.StatusForbidden {
		return false
	}
	return h.Get("X-Ratelimit-Remaining") == "0" || h.Get("Retry-After") != "" || strings.Contains(lower, "rate limit")
}

// rateLimitReset is when a rate-limited request may be retried: retry-after,
// else x-ratelimit-reset, else zero.
func rateLimitReset(h http.Header, now time.Time) time.Time {
	if ra := h.Get("Retry-After"); ra != "" {
		if s, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && s >= 0 {
			return now.Add(time.Duration(s) * time.Second)
		}
		if t, err := http.ParseTime(ra); err == nil {
			return t
		}
	}
	if h.Get("X-Ratelimit-Remaining") == "0" {
		if s, err := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64); err == nil {
			return time.Unix(s, 0)
		}
	}
	return time.Time{}
}

func sortStrings(s []string) { slices.Sort(s) }

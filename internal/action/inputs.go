package action

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultPolicyPath is where the policy lives in the repository unless the
// policy input says otherwise.
const DefaultPolicyPath = ".github/jitkey/policy.cue"

// DefaultAudience is the OIDC audience jitkey requests and verifies.
const DefaultAudience = "jitkey"

// Commands the action runs.
const (
	CommandMint     = "mint"
	CommandReview   = "review"
	CommandValidate = "validate"
)

// Inputs are the action's inputs, parsed and validated.
type Inputs struct {
	Command        string            // mint (default), review or validate
	AppID          string            // numeric App ID, or empty when ClientID is given
	ClientID       string            // App client ID (Iv1.../Iv23...), or empty
	PrivateKey     string            // PEM; never print it
	InstallationID int64             // 0: look the installation up from Owner
	Owner          string            // account the token is for; default the repository owner
	Repositories   []string          // requested repositories, "name" or "owner/name"; empty = the rule's grant
	Permissions    map[string]string // requested permissions; nil = the rule's grant
	Policy         string            // path of the policy in the repository
	PolicyRef      string            // ref to read the policy from; empty = the default branch
	Audience       string            // OIDC audience
	APIURL         string            // GitHub API base URL
	GitHubToken    string            // token used to read the policy; never print it
	RequireOIDC    bool              // refuse to run without a verified identity
	Args           []string          // extra arguments for review and validate, one per line
}

// Input returns the raw input name as the runner passes it: INPUT_<NAME>,
// upper-cased, spaces as '_', hyphens kept, surrounding space trimmed.
func Input(getenv func(string) string, name string) string {
	key := "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, " ", "_"))
	return strings.TrimSpace(getenv(key))
}

// PermissionCheck reports whether GitHub accepts level for the App permission
// name (policy.ValidLevel).
type PermissionCheck func(name, level string) bool

// ReadInputs reads and validates every input; all problems are reported at
// once. valid checks permission names and levels; nil accepts any lower-case
// name with read, write or admin. Secrets never appear in the errors.
func ReadInputs(getenv func(string) string, valid PermissionCheck) (Inputs, error) {
	in := Inputs{}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	get := func(name string) string { return Input(getenv, name) }

	in.Command = get("command")
	if in.Command == "" {
		in.Command = CommandMint
	}
	switch in.Command {
	case CommandMint, CommandReview, CommandValidate:
	default:
		add(fmt.Errorf("input command: %q is not one of mint, review, validate", in.Command))
	}
	in.AppID, in.ClientID = get("app-id"), get("client-id")
	add(checkApp(in.AppID, in.ClientID, in.Command == CommandMint))
	in.PrivateKey = getenv("INPUT_PRIVATE-KEY") // untrimmed: PEM keeps its own newlines
	if in.Command == CommandMint || strings.TrimSpace(in.PrivateKey) != "" {
		add(CheckPrivateKey(in.PrivateKey))
	}
	var err error
	in.InstallationID, err = parseInstallationID(get("installation-id"))
	add(err)
	in.Owner = get("owner")
	if in.Owner == "" {
		in.Owner = getenv("GITHUB_REPOSITORY_OWNER")
	}
	if in.Owner != "" && !validLogin(in.Owner) {
		add(fmt.Errorf("input owner: %q is not a GitHub account name", in.Owner))
	}
	in.Repositories, err = ParseRepositories(get("repositories"))
	add(err)
	in.Permissions, err = ParsePermissions(get("permissions"), valid)
	add(err)
	in.Policy, err = parsePolicyPath(get("policy"))
	add(err)
	in.PolicyRef = get("policy-ref")
	if in.PolicyRef != "" && !validRef(in.PolicyRef) {
		add(fmt.Errorf("input policy-ref: %q is not a valid git ref", in.PolicyRef))
	}
	in.Audience = get("audience")
	if in.Audience == "" {
		in.Audience = DefaultAudience
	}
	if strings.ContainsAny(in.Audience, " \t\r\n&#") {
		add(fmt.Errorf("input audience: %q must not contain spaces, '&' or '#'", in.Audience))
	}
	in.APIURL, err = parseAPIURL(get("github-api-url"), getenv("GITHUB_API_URL"))
	add(err)
	in.GitHubToken = get("github-token")
	in.RequireOIDC, err = ParseBool("require-oidc", get("require-oidc"), false)
	add(err)
	for _, l := range strings.Split(get("args"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			in.Args = append(in.Args, l)
		}
	}
	return in, errors.Join(errs...)
}

// Secrets returns the secret inputs, for masking before anything is printed.
func (in Inputs) Secrets() []string {
	return []string{in.PrivateKey, in.GitHubToken}
}

// The patterns are unbounded and the lengths checked apart: a bounded
// repetition such as {0,38} compiles into a program as long as its bound,
// and these are compiled when every jitkey process starts.
var (
	loginRE    = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9])*$`)
	repoNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	clientIDRE = regexp.MustCompile(`^Iv[0-9A-Za-z.]+$`)
	permNameRE = regexp.MustCompile(`^[a-z][a-z_]*$`)
)

// validLogin: a GitHub user or organisation login, at most 39 characters.
func validLogin(s string) bool { return len(s) <= 39 && loginRE.MatchString(s) }

// validRepoName: a repository name, at most 100 characters.
func validRepoName(s string) bool { return len(s) <= 100 && repoNameRE.MatchString(s) }

// validClientID: "Iv" and 8 to 40 more characters.
func validClientID(s string) bool { return len(s) >= 10 && len(s) <= 42 && clientIDRE.MatchString(s) }

// validPermName: a permission name, at most 64 characters.
func validPermName(s string) bool { return len(s) <= 64 && permNameRE.MatchString(s) }

func checkApp(appID, clientID string, required bool) error {
	switch {
	case appID != "" && clientID != "":
		return errors.New("inputs app-id and client-id: give one, not both")
	case appID != "":
		if n, err := strconv.ParseInt(appID, 10, 64); err != nil || n <= 0 {
			return fmt.Errorf("input app-id: %q is not a positive number (the App's settings page shows its ID)", appID)
		}
	case clientID != "":
		if !validClientID(clientID) {
			return fmt.Errorf("input client-id: %q does not look like a GitHub App client ID (Iv1.… or Iv23…)", clientID)
		}
	case required:
		return errors.New("input app-id or client-id is required: set one to your GitHub App's ID or client ID")
	}
	return nil
}

// CheckPrivateKey checks that key is one PEM-encoded RSA private key (PKCS#1
// or PKCS#8). The error never contains the key.
func CheckPrivateKey(key string) error {
	if strings.TrimSpace(key) == "" {
		return errors.New("input private-key is required: pass the App's private key from a secret, e.g. ${{ secrets.JITKEY_PRIVATE_KEY }}")
	}
	key = strings.ReplaceAll(key, `\n`, "\n") // keys pasted with escaped newlines
	block, rest := pem.Decode([]byte(strings.TrimSpace(key)))
	if block == nil {
		return errors.New("input private-key: not a PEM block; paste the whole .pem file the App settings page downloaded, BEGIN and END lines included")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return errors.New("input private-key: extra data after the PEM block; pass exactly one key")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return errors.New("input private-key: the RSA PRIVATE KEY block does not parse; download a new key from the App settings page")
		}
	case "PRIVATE KEY":
		if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
			return errors.New("input private-key: the PRIVATE KEY block does not parse; download a new key from the App settings page")
		}
	default:
		return fmt.Errorf("input private-key: a %q PEM block is not a private key; pass the App's private key", block.Type)
	}
	return nil
}

// NormalizePrivateKey returns the key as CheckPrivateKey reads it.
func NormalizePrivateKey(key string) string {
	return strings.TrimSpace(strings.ReplaceAll(key, `\n`, "\n")) + "\n"
}

func parseInstallationID(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("input installation-id: %q is not a positive number; leave it empty to look the installation up from owner", s)
	}
	return n, nil
}

// ParseRepositories reads a comma- or newline-separated list of "name" or
// "owner/name", dropping blanks and duplicates (order kept).
func ParseRepositories(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	var errs []error
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		owner, name, hasOwner := strings.Cut(f, "/")
		if !hasOwner {
			owner, name = "", f
		}
		if (hasOwner && !validLogin(owner)) || !validRepoName(name) || name == "." || name == ".." {
			errs = append(errs, fmt.Errorf("input repositories: %q is not a repository name or owner/name", f))
			continue
		}
		if key := strings.ToLower(f); !seen[key] {
			seen[key] = true
			out = append(out, f)
		}
	}
	return out, errors.Join(errs...)
}

// ParsePermissions reads a YAML map of App permission to level, such as
// "contents: read\nissues: write" (a flow map {contents: read} works too).
// Empty input means nil: no explicit request.
func ParsePermissions(s string, valid PermissionCheck) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var raw map[string]any
	if err := yaml.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("input permissions: not a YAML map of permission: level (e.g. \"contents: read\"): %s", firstLine(err.Error()))
	}
	if len(raw) == 0 {
		return nil, errors.New("input permissions: empty map; leave the input out to get the rule's grant")
	}
	out := make(map[string]string, len(raw))
	var errs []error
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, name := range keys {
		level, ok := raw[name].(string)
		switch {
		case !validPermName(name):
			errs = append(errs, fmt.Errorf("input permissions: %q is not a permission name (lower case, '_')", name))
		case !ok:
			errs = append(errs, fmt.Errorf("input permissions: %s: the level must be read, write or admin", name))
		case valid != nil && !valid(name, level):
			errs = append(errs, fmt.Errorf("input permissions: GitHub has no App permission %s: %s; check the name and level against GitHub's App permissions", name, level))
		case valid == nil && level != "read" && level != "write" && level != "admin":
			errs = append(errs, fmt.Errorf("input permissions: %s: %q; the level must be read, write or admin", name, level))
		default:
			out[name] = level
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func parsePolicyPath(p string) (string, error) {
	if p == "" {
		return DefaultPolicyPath, nil
	}
	clean := path.Clean(strings.TrimPrefix(p, "./"))
	if strings.HasPrefix(p, "/") || clean == ".." || strings.HasPrefix(clean, "../") || strings.ContainsAny(p, "\\\x00") {
		return "", fmt.Errorf("input policy: %q must be a path inside the repository, such as %s", p, DefaultPolicyPath)
	}
	return clean, nil
}

func validRef(ref string) bool {
	if len(ref) > 255 || strings.Contains(ref, "..") || strings.HasPrefix(ref, "-") || strings.HasSuffix(ref, "/") ||
		strings.HasSuffix(ref, ".lock") || strings.Contains(ref, "@{") || strings.Contains(ref, "//") {
		return false
	}
	for _, r := range ref {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return false
		}
	}
	return true
}

func parseAPIURL(in, env string) (string, error) {
	raw := in
	if raw == "" {
		raw = env
	}
	if raw == "" {
		raw = "https://api.github.com"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("input github-api-url: %q is not an http(s) URL; for GitHub Enterprise Server use https://HOST/api/v3", raw)
	}
	return strings.TrimSuffix(u.String(), "/") + "/", nil
}

// ParseBool reads a boolean input the way the toolkit does (YAML 1.2 core:
// true/True/TRUE, false/False/FALSE); empty gives def.
func ParseBool(name, s string, def bool) (bool, error) {
	switch s {
	case "":
		return def, nil
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	}
	return false, fmt.Errorf("input %s: %q is not true or false", name, s)
}

// InputNames are every input the action declares in action.yml.
var InputNames = []string{"command", "broker", "app-id", "client-id", "private-key", "installation-id", "owner", "repositories",
	"permissions", "policy", "policy-ref", "audience", "github-api-url", "github-token", "require-oidc", "audit-file", "args"}

// Output names the action sets after a mint (action.yml declares them).
const (
	OutputToken          = "token"
	OutputExpiresAt      = "expires-at"
	OutputInstallationID = "installation-id"
	OutputAppSlug        = "app-slug"
	OutputRepositories   = "repositories"
	OutputPermissions    = "permissions"
	OutputRule           = "rule"
	OutputTokenSHA256    = "token-sha256"
)

// OutputNames lists the outputs in action.yml's order.
var OutputNames = []string{OutputToken, OutputExpiresAt, OutputInstallationID, OutputAppSlug, OutputRepositories,
	OutputPermissions, OutputRule, OutputTokenSHA256}

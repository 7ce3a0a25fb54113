package policy

import "time"

// Claims is the identity of the job asking for a token: the verified OIDC
// claims, or the runner's environment marked unverified. Field names follow
// GitHub's OIDC claim names.
type Claims struct {
	Repository        string `json:"repository"`
	RepositoryOwner   string `json:"repository_owner"`
	WorkflowRef       string `json:"workflow_ref"`
	JobWorkflowRef    string `json:"job_workflow_ref"`
	Ref               string `json:"ref"`
	RefType           string `json:"ref_type"`
	RefProtected      bool   `json:"ref_protected"`
	Environment       string `json:"environment"`
	EventName         string `json:"event_name"`
	Actor             string `json:"actor"`
	RunnerEnvironment string `json:"runner_environment"`
	Subject           string `json:"sub,omitempty"`
	// Immutable IDs and facts GitHub's tokens carry beside the names.
	// IDs are decimal strings, as GitHub sends them.
	RepositoryID         string `json:"repository_id,omitempty"`
	RepositoryOwnerID    string `json:"repository_owner_id,omitempty"`
	RepositoryVisibility string `json:"repository_visibility,omitempty"` // public, private or internal
	JobWorkflowSHA       string `json:"job_workflow_sha,omitempty"`
	Enterprise           string `json:"enterprise,omitempty"`    // slug, for repositories of an enterprise's organisations
	EnterpriseID         string `json:"enterprise_id,omitempty"` // immutable
	// Properties holds the repository's custom properties the organisation
	// includes in its tokens (claims repo_property_NAME), keyed by NAME.
	Properties map[string]string `json:"-"`
	// Verified is true only when the claims come from an OIDC token whose
	// signature, issuer, audience and expiry were checked.
	Verified bool `json:"verified"`
}

// Request is the scope a job asks for. Empty Repositories and nil
// Permissions mean "what the matching rule grants", never everything the
// installation has.
type Request struct {
	Repositories []string          `json:"repositories,omitempty"` // "owner/name" or "name" (the calling owner)
	Permissions  map[string]string `json:"permissions,omitempty"`  // GitHub App permission name -> read|write|admin
}

// Decision is the verdict of Decide: deny by default, and every denial says why.
type Decision struct {
	Allowed      bool     `json:"allowed"`
	Rule         string   `json:"rule,omitempty"`         // the rule that matched
	Repositories []string `json:"repositories,omitempty"` // "owner/name", sorted
	// AllRepositories: the rule grants every repository of the installation
	// and the request named none; Repositories is then empty.
	AllRepositories bool              `json:"all_repositories,omitempty"`
	Permissions     map[string]string `json:"permissions,omitempty"`
	Reason          string            `json:"reason"`                // one sentence for humans
	NearMisses      []NearMiss        `json:"near_misses,omitempty"` // closest rules that did not match, closest first
	// Consents (DecideScope): for each repository of the token, the policy
	// and rule that allow it. Refused: the repository that did not.
	Consents []Consent `json:"consents,omitempty"`
	Refused  string    `json:"refused,omitempty"` // "owner/name" that refused
}

// NearMiss is a rule that did not match, with the conditions that failed.
type NearMiss struct {
	Rule   string   `json:"rule"`
	Failed []string `json:"failed"` // e.g. `ref: "refs/heads/dev" does not match "refs/heads/main"`
}

// CredentialKind names one kind of credential the review looks at.
type CredentialKind string

// The credential kinds the review knows.
const (
	KindDeployKey        CredentialKind = "deploy_key"
	KindActionsSecret    CredentialKind = "actions_secret"
	KindDependabotSecret CredentialKind = "dependabot_secret"
	KindCodespacesSecret CredentialKind = "codespaces_secret"
	KindFineGrainedPAT   CredentialKind = "fine_grained_pat"
	KindSSOAuthorization CredentialKind = "sso_authorization"
	KindAppInstallation  CredentialKind = "app_installation"
	KindWebhook          CredentialKind = "webhook"
)

// Review is the review part of a policy: what counts as dormant, stale and
// over-scoped for each kind of credential, who owns the findings, and the
// exemptions granted. Zero values mean the documented defaults were applied
// by the loader (see schemas/).
type Review struct {
	Owners            []string                    `json:"owners,omitempty"`             // GitHub logins or @org/team, assignees of issues
	CentralRepository string                      `json:"central_repository,omitempty"` // "owner/repo": file every issue there instead of in the credential's repository
	Labels            []string                    `json:"labels,omitempty"`             // extra labels on every review issue
	MaxIssuesPerRun   int                         `json:"max_issues_per_run"`           // cap on issues opened per run
	Renotify          Renotify                    `json:"renotify"`
	AutoRemediate     bool                        `json:"auto_remediate"` // opt-in: remove credentials without a reviewer command
	Kinds             map[CredentialKind]KindRule `json:"kinds,omitempty"`
	Exemptions        []Exemption                 `json:"exemptions,omitempty"`
}

// Renotify says whether and how often open review issues are re-announced.
type Renotify struct {
	Enabled    bool `json:"enabled"`
	AfterDays  int  `json:"after_days"`  // first reminder after this many days
	MaxReminds int  `json:"max_reminds"` // then doubling intervals, at most this many
}

// KindRule holds the thresholds for one credential kind. Fields that do not
// apply to a kind are zero.
type KindRule struct {
	Enabled       bool `json:"enabled"`
	DormantDays   int  `json:"dormant_days,omitempty"`    // not used for this many days (deploy keys, PATs, SSO)
	NeverUsedDays int  `json:"never_used_days,omitempty"` // never used and older than this many days
	StaleDays     int  `json:"stale_days,omitempty"`      // not rotated for this many days (secrets)
	// Over-scope rules.
	AllowWrite           bool              `json:"allow_write,omitempty"`            // deploy keys: write keys allowed
	AllowVisibilityAll   bool              `json:"allow_visibility_all,omitempty"`   // org secrets: visibility "all" allowed
	AllowAllRepositories bool              `json:"allow_all_repositories,omitempty"` // app installations: "all" selection allowed
	MaxPermissions       map[string]string `json:"max_permissions,omitempty"`        // app installations / PATs: ceiling
	AllowAdmin           bool              `json:"allow_admin,omitempty"`            // PATs: admin permissions allowed
	RequireExpiry        bool              `json:"require_expiry,omitempty"`         // PATs: a token without expiry is stale
	RequireSecret        bool              `json:"require_secret,omitempty"`         // webhooks
	RequireSSL           bool              `json:"require_ssl,omitempty"`            // webhooks
}

// Exemption suppresses one finding on one credential until it expires; an
// expired exemption is itself a finding.
type Exemption struct {
	Kind       CredentialKind `json:"kind"`
	Credential string         `json:"credential"` // the credential's stable identifier, as printed in its review issue
	Finding    string         `json:"finding"`    // "dormant", "stale", "over_scoped", "insecure", or "*"
	Reason     string         `json:"reason"`
	Approver   string         `json:"approver"`
	Expires    time.Time      `json:"expires"`
	File       string         `json:"-"` // position of the exemption in the policy, for messages
	Line       int            `json:"-"`
}

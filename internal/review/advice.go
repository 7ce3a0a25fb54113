package review

import (
	"fmt"
	"net/url"

	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/policy"
)

var levels = map[string]int{"none": 0, "read": 1, "write": 2, "admin": 3}

// levelAtMost orders permission levels read < write < admin; an unknown level is never within a limit.
func levelAtMost(have, limit string) bool {
	h, ok1 := levels[have]
	l, ok2 := levels[limit]
	return ok1 && ok2 && h <= l
}

// remediation says what `/jitkey revoke` does to c, or "" when it cannot.
func remediation(c inventory.Credential) string {
	switch c.Kind {
	case policy.KindDeployKey:
		return "delete the deploy key"
	case policy.KindActionsSecret, policy.KindDependabotSecret, policy.KindCodespacesSecret:
		return "delete the secret"
	case policy.KindFineGrainedPAT:
		return "revoke the token's access to the organisation"
	case policy.KindSSOAuthorization:
		return "remove the SSO authorization"
	case policy.KindWebhook:
		return "delete the webhook"
	}
	return ""
}

var why = map[Type]map[policy.CredentialKind]string{
	Dormant: {
		policy.KindDeployKey:        "An unused deploy key is pure risk: whoever holds the private key can still read (or push to) the repository, and nobody will notice because nothing legitimate uses it.",
		policy.KindFineGrainedPAT:   "An unused token keeps its access to the organisation. If it leaks from an old laptop, CI variable or paste, it works, and its owner will not miss it.",
		policy.KindSSOAuthorization: "An SSO authorization that is never exercised still lets the credential reach the organisation's SAML-protected resources.",
	},
	Stale: {
		"":                        "A secret that is never rotated has had the longest possible time to be copied into logs, forks, laptops and former colleagues' notes; rotating bounds the damage of a leak nobody noticed.",
		policy.KindFineGrainedPAT: "A token without expiry (or an expired token still holding a grant) outlives the reason it was created; expiry is the only automatic clean-up tokens get.",
	},
	OverScoped: {
		policy.KindDeployKey:       "A write deploy key lets anyone holding the private key push code, tags and workflow changes, bypassing pull requests unless branch protection covers it.",
		"":                         "An organisation secret visible to all repositories is readable by the workflows of every repository, including new and less-protected ones.",
		policy.KindFineGrainedPAT:  "Administrative permissions let a leaked token change settings, protections and access, not just data.",
		policy.KindAppInstallation: "An App installed on all repositories, or with more permissions than needed, turns one compromised App key into access to everything it was installed on.",
	},
	Insecure: {
		policy.KindWebhook: "Without a secret, the receiver cannot tell GitHub's deliveries from forged ones; with SSL verification off, deliveries (and their payloads) can be intercepted.",
	},
}

func whyText(c inventory.Credential, t Type) string {
	m := why[t]
	if s, ok := m[c.Kind]; ok {
		return s
	}
	return m[""]
}

// rotate is the step for a secret that must be rotated: args are the
// secret's name and where it is, as gh secret takes them.
func rotate(args string) string {
	return fmt.Sprintf("Rotate the credential at its issuer, then %s with the new value; if it is no longer used, %s.",
		Code("gh secret set "+args), Code("gh secret delete "+args))
}

// advice returns why a finding matters and the exact steps to fix it.
func advice(c inventory.Credential, t Type, rem string) (string, []string) {
	var steps []string
	repoPath := url.PathEscape
	switch c.Kind {
	case policy.KindDeployKey:
		if t == OverScoped {
			steps = append(steps, fmt.Sprintf("Add a new read-only deploy key for the same purpose, update its user, then delete this one: %s.", Code(fmt.Sprintf("gh api -X DELETE repos/%s/keys/%d", c.Repo, c.RemoteID))))
		} else {
			steps = append(steps, fmt.Sprintf("Confirm nothing uses the key %s (added by %s), then delete it in Settings > Deploy keys or with %s.", Code(c.Name), Code(orNone(c.Owner)), Code(fmt.Sprintf("gh api -X DELETE repos/%s/keys/%d", c.Repo, c.RemoteID))))
		}
	case policy.KindActionsSecret, policy.KindDependabotSecret, policy.KindCodespacesSecret:
		area := map[policy.CredentialKind]string{policy.KindActionsSecret: "actions", policy.KindDependabotSecret: "dependabot", policy.KindCodespacesSecret: "codespaces"}[c.Kind]
		switch {
		case t == OverScoped:
			steps = append(steps, fmt.Sprintf("Limit the secret to the repositories that need it: %s (re-enter the value), or set its visibility to selected in the organisation settings.", Code(fmt.Sprintf("gh secret set %s --org %s --app %s --repos REPO1,REPO2", c.Name, c.Org, area))))
		case c.Scope == inventory.ScopeOrganization:
			steps = append(steps, rotate(fmt.Sprintf("%s --org %s --app %s", c.Name, c.Org, area)))
		case c.Scope == inventory.ScopeEnvironment:
			steps = append(steps, rotate(fmt.Sprintf("%s --repo %s --env %s", c.Name, c.Repo, repoPath(c.Environment))))
		default:
			steps = append(steps, rotate(fmt.Sprintf("%s --repo %s --app %s", c.Name, c.Repo, area)))
		}
	case policy.KindFineGrainedPAT:
		switch t {
		case Stale:
			steps = append(steps, fmt.Sprintf("Ask %s to replace the token with one that has an expiry date; then revoke this grant in Organisation settings > Personal access tokens > Active tokens.", Code(orNone(c.Owner))))
		case OverScoped:
			steps = append(steps, fmt.Sprintf("Ask %s to create a token with only the permissions the job needs (no administration), then revoke this one in Organisation settings > Personal access tokens.", Code(orNone(c.Owner))))
		default:
			steps = append(steps, fmt.Sprintf("Ask %s whether the token %s is still needed; if not, revoke it in Organisation settings > Personal access tokens > Active tokens.", Code(orNone(c.Owner)), Code(c.Name)))
		}
	case policy.KindSSOAuthorization:
		steps = append(steps, fmt.Sprintf("Ask %s whether the credential is still needed; if not, remove the authorization in Organisation settings > People > %s > SAML identity, or %s.", Code(orNone(c.Owner)), Code(orNone(c.Owner)), Code(fmt.Sprintf("gh api -X DELETE orgs/%s/credential-authorizations/%d", c.Org, c.RemoteID))))
	case policy.KindAppInstallation:
		steps = append(steps, fmt.Sprintf("In Organisation settings > GitHub Apps > %s > Configure, choose \"Only select repositories\" and the ones it needs; ask the App's owner for a version with fewer permissions. GitHub has no API to uninstall another App, so jitkey cannot do it for you.", Code(c.Name)))
	case policy.KindWebhook:
		where := "repos/" + c.Repo
		if c.Scope == inventory.ScopeOrganization {
			where = "orgs/" + c.Org
		}
		steps = append(steps, fmt.Sprintf("Set a random secret on the webhook and verify `X-Hub-Signature-256` in the receiver; turn SSL verification on: %s. If the hook is no longer needed, %s.",
			Code(fmt.Sprintf("gh api -X PATCH %s/hooks/%d/config -f secret=... -f insecure_ssl=0", where, c.RemoteID)), Code(fmt.Sprintf("gh api -X DELETE %s/hooks/%d", where, c.RemoteID))))
	}
	if rem != "" {
		who := "a collaborator with write access to " + Code(c.Repo)
		if c.Scope == inventory.ScopeOrganization {
			who = "an owner of the organisation " + Code(c.Org)
		}
		steps = append(steps, fmt.Sprintf("Or let jitkey do it: %s comments `/jitkey revoke` as a new comment on this issue (an edited comment does not count), and the next review will %s and close the issue.", who, rem))
	}
	steps = append(steps, "If the credential must stay as it is, add the exemption below to the review policy through a pull request; this issue closes on the next review.")
	return whyText(c, t), steps
}

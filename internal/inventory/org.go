package inventory

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/jitkey/jitkey/internal/policy"
)

// PAT is one fine-grained personal access token granted access to an
// organisation, as GET /orgs/{org}/personal-access-tokens returns it
// (go-github v62 has no type for it).
type PAT struct {
	ID    int64 `json:"id"`
	Owner struct {
		Login string `json:"login"`
	} `json:"owner"`
	RepositorySelection string `json:"repository_selection"`
	Permissions         struct {
		Organization map[string]string `json:"organization"`
		Repository   map[string]string `json:"repository"`
		Other        map[string]string `json:"other"`
	} `json:"permissions"`
	AccessGrantedAt *time.Time `json:"access_granted_at"`
	TokenID         int64      `json:"token_id"`
	TokenName       string     `json:"token_name"`
	TokenExpired    bool       `json:"token_expired"`
	TokenExpiresAt  *time.Time `json:"token_expires_at"`
	TokenLastUsedAt *time.Time `json:"token_last_used_at"`
}

// AppInstallation is one App installation of an organisation, with its
// permissions as a map: go-github v62's struct knows 38 permission names and
// drops the others.
type AppInstallation struct {
	ID                  int64             `json:"id"`
	AppSlug             string            `json:"app_slug"`
	RepositorySelection string            `json:"repository_selection"`
	Permissions         map[string]string `json:"permissions"`
	Events              []string          `json:"events"`
	CreatedAt           *time.Time        `json:"created_at"`
	UpdatedAt           *time.Time        `json:"updated_at"`
	SuspendedAt         *time.Time        `json:"suspended_at"`
}

type appInstallations struct {
	TotalCount    int               `json:"total_count"`
	Installations []AppInstallation `json:"installations"`
}

func (s *Scanner) scanOrg(ctx context.Context, org string) Result {
	c := newCollector(OrgTarget(org))
	if s.wants(policy.KindActionsSecret) {
		s.orgSecrets(ctx, c, s.c.Actions, policy.KindActionsSecret, permOrgSecrets, org)
	}
	if s.wants(policy.KindDependabotSecret) {
		s.orgSecrets(ctx, c, s.c.Dependabot, policy.KindDependabotSecret, permOrgDependabot, org)
	}
	if s.wants(policy.KindCodespacesSecret) {
		s.orgSecrets(ctx, c, s.c.Codespaces, policy.KindCodespacesSecret, permOrgCodespaces, org)
	}
	if s.wants(policy.KindFineGrainedPAT) {
		s.orgPATs(ctx, c, org)
	}
	if s.wants(policy.KindSSOAuthorization) {
		s.orgSSO(ctx, c, org)
	}
	if s.wants(policy.KindAppInstallation) {
		s.orgInstallations(ctx, c, org)
	}
	if s.wants(policy.KindWebhook) {
		hooks, err := paginate(ctx, s, func(lo github.ListOptions) ([]*github.Hook, *github.Response, error) {
			return s.c.Organizations.ListHooks(ctx, org, &lo)
		})
		for _, h := range hooks {
			c.creds = append(c.creds, webhook(org, "", ScopeOrganization, h))
		}
		if err != nil {
			c.fail(policy.KindWebhook, permOrgHooks, "webhooks of organisation "+org, err, len(hooks) > 0)
		} else {
			c.ok(policy.KindWebhook)
		}
	}
	return c.result()
}

func (s *Scanner) orgSecrets(ctx context.Context, c *collector, svc SecretsService, kind policy.CredentialKind, perm, org string) {
	secrets, err := paginate(ctx, s, func(lo github.ListOptions) ([]*github.Secret, *github.Response, error) {
		ss, resp, err := svc.ListOrgSecrets(ctx, org, &lo)
		if ss == nil {
			return nil, resp, err
		}
		return ss.Secrets, resp, err
	})
	if err != nil {
		c.fail(kind, perm, "organisation "+string(kind)+"s of "+org, err, len(secrets) > 0)
	} else {
		c.ok(kind)
	}
	for _, sec := range secrets {
		cr := Credential{
			Kind: kind, ID: org + ":" + string(kind) + ":" + sec.Name, Name: sec.Name, Org: org, Scope: ScopeOrganization,
			CreatedAt: sec.CreatedAt.Time.UTC(), UpdatedAt: sec.UpdatedAt.Time.UTC(), Visibility: sec.Visibility,
		}
		if sec.Visibility == "selected" {
			repos, err := paginate(ctx, s, func(lo github.ListOptions) ([]*github.Repository, *github.Response, error) {
				l, resp, err := svc.ListSelectedReposForOrgSecret(ctx, org, sec.Name, &lo)
				if l == nil {
					return nil, resp, err
				}
				return l.Repositories, resp, err
			})
			switch {
			case statusCode(err) == http.StatusConflict:
				// "not set to selected": the visibility changed since the
				// listing, so no repository is selected (GitHub's
				// description documents 200 with none; some answer 409).
			case err != nil:
				c.fail(kind, perm, "repositories of organisation secret "+sec.Name, err, true)
			}
			for _, r := range repos {
				cr.SelectedRepos = append(cr.SelectedRepos, r.GetFullName())
			}
		}
		c.creds = append(c.creds, cr)
	}
}

func (s *Scanner) orgPATs(ctx context.Context, c *collector, org string) {
	path := fmt.Sprintf("orgs/%s/personal-access-tokens", url.PathEscape(org))
	pats, err := paginate(ctx, s, func(lo github.ListOptions) ([]PAT, *github.Response, error) {
		var page []PAT
		resp, err := s.get(ctx, path, lo, &page)
		return page, resp, err
	})
	if err != nil {
		c.fail(policy.KindFineGrainedPAT, permOrgPATs, "fine-grained personal access tokens of "+org+" (only a GitHub App may list them)", err, len(pats) > 0)
	} else {
		c.ok(policy.KindFineGrainedPAT)
	}
	for _, p := range pats {
		perms := map[string]string{}
		for k, v := range p.Permissions.Repository {
			perms[k] = v
		}
		for k, v := range p.Permissions.Organization {
			if !strings.HasPrefix(k, "organization_") {
				k = "organization_" + k
			}
			perms[k] = v
		}
		for k, v := range p.Permissions.Other {
			perms[k] = v
		}
		cr := Credential{
			Kind: policy.KindFineGrainedPAT, ID: org + ":" + string(policy.KindFineGrainedPAT) + ":" + strconv.FormatInt(p.ID, 10),
			Name: p.TokenName, Org: org, Scope: ScopeOrganization, RemoteID: p.ID, Owner: p.Owner.Login,
			LastUsedAt: utc(p.TokenLastUsedAt), ExpiresAt: utc(p.TokenExpiresAt), Expired: p.TokenExpired,
			RepositorySelection: p.RepositorySelection, Permissions: perms,
		}
		if p.AccessGrantedAt != nil {
			cr.CreatedAt = p.AccessGrantedAt.UTC()
		}
		c.creds = append(c.creds, cr)
	}
}

func (s *Scanner) orgSSO(ctx context.Context, c *collector, org string) {
	auths, err := paginate(ctx, s, func(lo github.ListOptions) ([]*github.CredentialAuthorization, *github.Response, error) {
		return s.c.Organizations.ListCredentialAuthorizations(ctx, org, &lo)
	})
	if err != nil {
		c.fail(policy.KindSSOAuthorization, permOrgAdmin, "SAML SSO credential authorizations of "+org+" (GitHub Enterprise Cloud with SAML only)", err, len(auths) > 0)
	} else {
		c.ok(policy.KindSSOAuthorization)
	}
	for _, a := range auths {
		name := a.GetCredentialType()
		if n := a.GetAuthorizedCredentialNote(); n != "" {
			name = n
		} else if t := a.GetAuthorizedCredentialTitle(); t != "" {
			name = t
		}
		c.creds = append(c.creds, Credential{
			Kind: policy.KindSSOAuthorization, ID: org + ":" + string(policy.KindSSOAuthorization) + ":" + strconv.FormatInt(a.GetCredentialID(), 10),
			Name: name, Org: org, Scope: ScopeOrganization, RemoteID: a.GetCredentialID(), Owner: a.GetLogin(),
			CreatedAt: a.GetCredentialAuthorizedAt().Time.UTC(), LastUsedAt: tsPtr(a.CredentialAccessedAt),
			ExpiresAt: tsPtr(a.AuthorizedCredentialExpiresAt), Scopes: a.Scopes, CredentialType: a.GetCredentialType(),
		})
	}
}

func (s *Scanner) orgInstallations(ctx context.Context, c *collector, org string) {
	path := fmt.Sprintf("orgs/%s/installations", url.PathEscape(org))
	insts, err := paginate(ctx, s, func(lo github.ListOptions) ([]AppInstallation, *github.Response, error) {
		var page appInstallations
		resp, err := s.get(ctx, path, lo, &page)
		return page.Installations, resp, err
	})
	if err != nil {
		c.fail(policy.KindAppInstallation, permOrgAdmin, "App installations of "+org, err, len(insts) > 0)
	} else {
		c.ok(policy.KindAppInstallation)
	}
	for _, in := range insts {
		cr := Credential{
			Kind: policy.KindAppInstallation, ID: org + ":" + string(policy.KindAppInstallation) + ":" + in.AppSlug,
			Name: in.AppSlug, Org: org, Scope: ScopeOrganization, RemoteID: in.ID,
			RepositorySelection: in.RepositorySelection, Permissions: in.Permissions, Suspended: in.SuspendedAt != nil,
		}
		if in.CreatedAt != nil {
			cr.CreatedAt = in.CreatedAt.UTC()
		}
		if in.UpdatedAt != nil {
			cr.UpdatedAt = in.UpdatedAt.UTC()
		}
		c.creds = append(c.creds, cr)
	}
}

func utc(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	v := t.UTC()
	return &v
}

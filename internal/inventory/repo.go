package inventory

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/jitkey/jitkey/internal/policy"
)

// The permissions that let an App installation read each kind, named as in
// GitHub's app-permissions schema, for "not reviewed" messages.
const (
	permDeployKeys    = "administration: read"
	permSecrets       = "secrets: read"
	permDependabot    = "dependabot_secrets: read"
	permCodespaces    = "codespaces_secrets: read"
	permEnvironments  = "environments: read"
	permHooks         = "repository_hooks: read"
	permOrgSecrets    = "organization_secrets: read"
	permOrgDependabot = "organization_dependabot_secrets: read"
	permOrgCodespaces = "organization_codespaces_secrets: read"
	permOrgPATs       = "organization_personal_access_tokens: read"
	permOrgAdmin      = "organization_administration: read"
	permOrgHooks      = "organization_hooks: read"
)

// collector gathers one target's credentials and coverage.
type collector struct {
	target string
	creds  []Credential
	cov    map[policy.CredentialKind]*Coverage
	order  []policy.CredentialKind
}

func newCollector(target string) *collector {
	return &collector{target: target, cov: map[policy.CredentialKind]*Coverage{}}
}

func (c *collector) entry(k policy.CredentialKind) *Coverage {
	e, ok := c.cov[k]
	if !ok {
		e = &Coverage{Target: c.target, Kind: k, Status: StatusReviewed}
		c.cov[k] = e
		c.order = append(c.order, k)
	}
	return e
}

// ok records that one read of kind k succeeded.
func (c *collector) ok(k policy.CredentialKind) { c.entry(k) }

// fail records a failed read of kind k. partial says whether other reads of
// the same kind succeeded or may still succeed.
func (c *collector) fail(k policy.CredentialKind, perm, what string, err error, partial bool) {
	e := c.entry(k)
	status := StatusNotReviewed
	if partial {
		status = StatusPartial
	}
	if e.Status == StatusReviewed || status == StatusNotReviewed {
		e.Status = status
	}
	code := statusCode(err)
	switch code {
	case 403:
		e.Permission = perm
		e.Reason = fmt.Sprintf("%s: 403 forbidden; grant the App %q (or use a token that can read it)", what, perm)
	case 404:
		e.Permission = perm
		e.Reason = fmt.Sprintf("%s: 404 not found; the feature may be off for this account, or the token may not see it (grant %q)", what, perm)
	default:
		e.Reason = fmt.Sprintf("%s: %s; rerun to complete the scan", what, shortError(err))
	}
}

func (c *collector) result() Result {
	r := Result{Target: c.target, Credentials: c.creds}
	for _, k := range c.order {
		r.Coverage = append(r.Coverage, *c.cov[k])
	}
	return r
}

func statusCode(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0 // rate limits, network failures: not a permission problem
}

func shortError(err error) string {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return fmt.Sprintf("%d %s", er.Response.StatusCode, er.Message)
	}
	var rl *github.RateLimitError
	if errors.As(err, &rl) {
		return "rate limited until " + rl.Rate.Reset.UTC().Format(time.RFC3339)
	}
	var ab *github.AbuseRateLimitError
	if errors.As(err, &ab) {
		return "secondary rate limit"
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	return err.Error()
}

func (s *Scanner) scanRepo(ctx context.Context, owner, name string) Result {
	full := owner + "/" + name
	c := newCollector(full)
	if s.wants(policy.KindDeployKey) {
		keys, err := paginate(ctx, s, func(lo github.ListOptions) ([]*github.Key, *github.Response, error) {
			return s.c.Repositories.ListKeys(ctx, owner, name, &lo)
		})
		for _, k := range keys {
			c.creds = append(c.creds, deployKey(owner, full, k))
		}
		if err != nil {
			c.fail(policy.KindDeployKey, permDeployKeys, "deploy keys of "+full, err, len(keys) > 0)
		} else {
			c.ok(policy.KindDeployKey)
		}
	}
	if s.wants(policy.KindActionsSecret) {
		s.repoSecrets(ctx, c, s.c.Actions, policy.KindActionsSecret, permSecrets, owner, name)
		s.envSecrets(ctx, c, owner, name)
	}
	if s.wants(policy.KindDependabotSecret) {
		s.repoSecrets(ctx, c, s.c.Dependabot, policy.KindDependabotSecret, permDependabot, owner, name)
	}
	if s.wants(policy.KindCodespacesSecret) {
		s.repoSecrets(ctx, c, s.c.Codespaces, policy.KindCodespacesSecret, permCodespaces, owner, name)
	}
	if s.wants(policy.KindWebhook) {
		hooks, err := paginate(ctx, s, func(lo github.ListOptions) ([]*github.Hook, *github.Response, error) {
			return s.c.Repositories.ListHooks(ctx, owner, name, &lo)
		})
		for _, h := range hooks {
			c.creds = append(c.creds, webhook(owner, full, ScopeRepository, h))
		}
		if err != nil {
			c.fail(policy.KindWebhook, permHooks, "webhooks of "+full, err, len(hooks) > 0)
		} else {
			c.ok(policy.KindWebhook)
		}
	}
	return c.result()
}

func (s *Scanner) repoSecrets(ctx context.Context, c *collector, svc SecretsService, kind policy.CredentialKind, perm, owner, name string) {
	full := owner + "/" + name
	secrets, err := paginate(ctx, s, func(lo github.ListOptions) ([]*github.Secret, *github.Response, error) {
		ss, resp, err := svc.ListRepoSecrets(ctx, owner, name, &lo)
		if ss == nil {
			return nil, resp, err
		}
		return ss.Secrets, resp, err
	})
	for _, sec := range secrets {
		c.creds = append(c.creds, Credential{
			Kind: kind, ID: full + ":" + string(kind) + ":" + sec.Name, Name: sec.Name, Org: owner, Repo: full,
			Scope: ScopeRepository, CreatedAt: sec.CreatedAt.Time.UTC(), UpdatedAt: sec.UpdatedAt.Time.UTC(),
		})
	}
	if err != nil {
		c.fail(kind, perm, string(kind)+"s of "+full, err, len(secrets) > 0)
	} else {
		c.ok(kind)
	}
}

// envSecrets reads the Actions secrets of every environment, through
// /repos/{owner}/{repo}/environments/{env}/secrets (go-github v62 only has
// the older path by repository id, which would cost a call to learn the id).
func (s *Scanner) envSecrets(ctx context.Context, c *collector, owner, name string) {
	full := owner + "/" + name
	envs, err := paginate(ctx, s, func(lo github.ListOptions) ([]*github.Environment, *github.Response, error) {
		er, resp, err := s.c.Repositories.ListEnvironments(ctx, owner, name, &github.EnvironmentListOptions{ListOptions: lo})
		if er == nil {
			return nil, resp, err
		}
		return er.Environments, resp, err
	})
	if err != nil {
		c.fail(policy.KindActionsSecret, permEnvironments, "environments of "+full, err, true)
		return
	}
	for _, env := range envs {
		envName := env.GetName()
		path := fmt.Sprintf("repos/%s/%s/environments/%s/secrets", url.PathEscape(owner), url.PathEscape(name), url.PathEscape(envName))
		secrets, err := paginate(ctx, s, func(lo github.ListOptions) ([]*github.Secret, *github.Response, error) {
			var ss github.Secrets
			resp, err := s.get(ctx, path, lo, &ss)
			return ss.Secrets, resp, err
		})
		for _, sec := range secrets {
			c.creds = append(c.creds, Credential{
				Kind: policy.KindActionsSecret, ID: full + ":environment:" + envName + ":" + string(policy.KindActionsSecret) + ":" + sec.Name,
				Name: sec.Name, Org: owner, Repo: full, Environment: envName, Scope: ScopeEnvironment,
				CreatedAt: sec.CreatedAt.Time.UTC(), UpdatedAt: sec.UpdatedAt.Time.UTC(),
			})
		}
		if err != nil {
			c.fail(policy.KindActionsSecret, permSecrets, "secrets of environment "+envName+" of "+full, err, true)
		}
	}
}

// get sends a GET through the Requester with per_page and page.
func (s *Scanner) get(ctx context.Context, path string, lo github.ListOptions, v any) (*github.Response, error) {
	q := url.Values{}
	q.Set("per_page", strconv.Itoa(max(lo.PerPage, 1)))
	if lo.Page > 0 {
		q.Set("page", strconv.Itoa(lo.Page))
	}
	req, err := s.c.Raw.NewRequest("GET", path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	return s.c.Raw.Do(ctx, req, v)
}

func deployKey(owner, full string, k *github.Key) Credential {
	return Credential{
		Kind: policy.KindDeployKey, ID: full + ":" + string(policy.KindDeployKey) + ":" + strconv.FormatInt(k.GetID(), 10),
		Name: k.GetTitle(), Org: owner, Repo: full, Scope: ScopeRepository, RemoteID: k.GetID(),
		Owner: k.GetAddedBy(), CreatedAt: k.GetCreatedAt().Time.UTC(), LastUsedAt: tsPtr(k.LastUsed),
		Write: !k.GetReadOnly(),
	}
}

func webhook(org, full string, scope Scope, h *github.Hook) Credential {
	id := strconv.FormatInt(h.GetID(), 10)
	cid := full + ":" + string(policy.KindWebhook) + ":" + id
	if scope == ScopeOrganization {
		cid = org + ":" + string(policy.KindWebhook) + ":" + id
	}
	cr := Credential{
		Kind: policy.KindWebhook, ID: cid, Org: org, Repo: full, Scope: scope, RemoteID: h.GetID(),
		CreatedAt: h.GetCreatedAt().Time.UTC(), UpdatedAt: h.GetUpdatedAt().Time.UTC(), Active: h.GetActive(),
	}
	if cfg := h.Config; cfg != nil {
		cr.URL = redactURL(cfg.GetURL())
		cr.HasSecret = cfg.GetSecret() != ""
		cr.InsecureSSL = cfg.GetInsecureSSL() == "1"
	}
	cr.Name = cr.URL
	if cr.Name == "" {
		cr.Name = h.GetName() + " hook " + id
	}
	return cr
}

// redactURL keeps scheme and host: webhook URLs often carry tokens in their
// path or query (chat integrations), and userinfo may hold a password.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host
}

func tsPtr(t *github.Timestamp) *time.Time {
	if t == nil || t.Time.IsZero() {
		return nil
	}
	v := t.Time.UTC()
	return &v
}

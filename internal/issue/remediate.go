package issue

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/google/go-github/v62/github"

	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/policy"
)

// Remover removes a credential.
type Remover interface {
	Remove(ctx context.Context, c inventory.Credential) error
}

// ErrNotRemovable is returned for credentials the API cannot remove (App installations).
var ErrNotRemovable = errors.New("this kind of credential cannot be removed through the API")

type keyHookDeleter interface {
	DeleteKey(ctx context.Context, owner string, repo string, id int64) (*github.Response, error)
	DeleteHook(ctx context.Context, owner, repo string, id int64) (*github.Response, error)
}

type secretDeleter interface {
	DeleteRepoSecret(ctx context.Context, owner, repo, name string) (*github.Response, error)
	DeleteOrgSecret(ctx context.Context, org, name string) (*github.Response, error)
}

type orgDeleter interface {
	RemoveCredentialAuthorization(ctx context.Context, org string, credentialID int64) (*github.Response, error)
	DeleteHook(ctx context.Context, org string, id int64) (*github.Response, error)
}

// Requester sends requests go-github has no method for.
type Requester interface {
	NewRequest(method, urlStr string, body interface{}, opts ...github.RequestOption) (*http.Request, error)
	Do(ctx context.Context, req *http.Request, v interface{}) (*github.Response, error)
}

// APIRemover removes credentials through the GitHub API.
type APIRemover struct {
	Repositories                    keyHookDeleter
	Actions, Dependabot, Codespaces secretDeleter
	Organizations                   orgDeleter
	Raw                             Requester
}

// NewRemover adapts a go-github client.
func NewRemover(gh *github.Client) *APIRemover {
	return &APIRemover{Repositories: gh.Repositories, Actions: gh.Actions, Dependabot: gh.Dependabot,
		Codespaces: gh.Codespaces, Organizations: gh.Organizations, Raw: gh}
}

// Remove deletes the deploy key, secret or webhook, revokes the PAT's grant or
// removes the SSO authorization. A credential already gone counts as removed.
func (r *APIRemover) Remove(ctx context.Context, c inventory.Credential) error {
	owner, repo := splitRepo(c.Repo)
	var err error
	switch c.Kind {
	case policy.KindDeployKey:
		_, err = r.Repositories.DeleteKey(ctx, owner, repo, c.RemoteID)
	case policy.KindWebhook:
		if c.Scope == inventory.ScopeOrganization {
			_, err = r.Organizations.DeleteHook(ctx, c.Org, c.RemoteID)
		} else {
			_, err = r.Repositories.DeleteHook(ctx, owner, repo, c.RemoteID)
		}
	case policy.KindActionsSecret, policy.KindDependabotSecret, policy.KindCodespacesSecret:
		err = r.removeSecret(ctx, c, owner, repo)
	case policy.KindFineGrainedPAT:
		body := map[string]any{"action": "revoke", "pat_ids": []int64{c.RemoteID}}
		err = r.raw(ctx, "POST", "orgs/"+url.PathEscape(c.Org)+"/personal-access-tokens", body)
	case policy.KindSSOAuthorization:
		_, err = r.Organizations.RemoveCredentialAuthorization(ctx, c.Org, c.RemoteID)
	default:
		return ErrNotRemovable
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound {
		return nil // already gone
	}
	var accepted *github.AcceptedError
	if errors.As(err, &accepted) {
		return nil // 202: GitHub carries out the revocation asynchronously
	}
	if err != nil {
		return fmt.Errorf("remove %s %s: %w", c.Kind, c.ID, err)
	}
	return nil
}

func (r *APIRemover) removeSecret(ctx context.Context, c inventory.Credential, owner, repo string) error {
	svc := map[policy.CredentialKind]secretDeleter{policy.KindActionsSecret: r.Actions, policy.KindDependabotSecret: r.Dependabot, policy.KindCodespacesSecret: r.Codespaces}[c.Kind]
	var err error
	switch c.Scope {
	case inventory.ScopeOrganization:
		_, err = svc.DeleteOrgSecret(ctx, c.Org, c.Name)
	case inventory.ScopeEnvironment:
		err = r.raw(ctx, "DELETE", fmt.Sprintf("repos/%s/%s/environments/%s/secrets/%s",
			url.PathEscape(owner), url.PathEscape(repo), url.PathEscape(c.Environment), url.PathEscape(c.Name)), nil)
	default:
		_, err = svc.DeleteRepoSecret(ctx, owner, repo, c.Name)
	}
	return err
}

func (r *APIRemover) raw(ctx context.Context, method, path string, body any) error {
	req, err := r.Raw.NewRequest(method, path, body)
	if err != nil {
		return err
	}
	_, err = r.Raw.Do(ctx, req, nil)
	return err
}

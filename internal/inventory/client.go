package inventory

import (
	"context"
	"net/http"

	"github.com/google/go-github/v62/github"
)

// RepositoriesService is the part of go-github's RepositoriesService the scan uses.
type RepositoriesService interface {
	ListByOrg(ctx context.Context, org string, opts *github.RepositoryListByOrgOptions) ([]*github.Repository, *github.Response, error)
	ListKeys(ctx context.Context, owner string, repo string, opts *github.ListOptions) ([]*github.Key, *github.Response, error)
	ListHooks(ctx context.Context, owner, repo string, opts *github.ListOptions) ([]*github.Hook, *github.Response, error)
	ListEnvironments(ctx context.Context, owner, repo string, opts *github.EnvironmentListOptions) (*github.EnvResponse, *github.Response, error)
}

// SecretsService is what go-github's Actions, Dependabot and Codespaces
// services have in common for listing secrets.
type SecretsService interface {
	ListRepoSecrets(ctx context.Context, owner, repo string, opts *github.ListOptions) (*github.Secrets, *github.Response, error)
	ListOrgSecrets(ctx context.Context, org string, opts *github.ListOptions) (*github.Secrets, *github.Response, error)
	ListSelectedReposForOrgSecret(ctx context.Context, org, name string, opts *github.ListOptions) (*github.SelectedReposList, *github.Response, error)
}

// OrganizationsService is the part of go-github's OrganizationsService the scan uses.
type OrganizationsService interface {
	ListCredentialAuthorizations(ctx context.Context, org string, opts *github.ListOptions) ([]*github.CredentialAuthorization, *github.Response, error)
	ListHooks(ctx context.Context, org string, opts *github.ListOptions) ([]*github.Hook, *github.Response, error)
}

// Requester sends requests go-github has no method for (fine-grained PATs,
// App installations with every permission name, environment secrets by
// repository name), decoding into this package's own types.
type Requester interface {
	NewRequest(method, urlStr string, body interface{}, opts ...github.RequestOption) (*http.Request, error)
	Do(ctx context.Context, req *http.Request, v interface{}) (*github.Response, error)
}

// Client is everything the scan reads through.
type Client struct {
	Repositories  RepositoriesService
	Actions       SecretsService
	Dependabot    SecretsService
	Codespaces    SecretsService
	Organizations OrganizationsService
	Raw           Requester
}

// NewClient adapts a go-github client.
func NewClient(gh *github.Client) Client {
	return Client{
		Repositories:  gh.Repositories,
		Actions:       gh.Actions,
		Dependabot:    gh.Dependabot,
		Codespaces:    gh.Codespaces,
		Organizations: gh.Organizations,
		Raw:           gh,
	}
}

// Package ghsim is an in-memory GitHub served over real HTTP on loopback, for tests,
// benchmarks and `jitkey sandbox`. The real clients (go-github v62, ghinstallation
// v2.11.0) talk to it unchanged, at the api.github.com layout or under the GHES
// "/api/v3" prefix (Options.Prefix).
//
// # Using it
//
//	clk := ghsim.NewClock(time.Now())
//	sim := ghsim.New(ghsim.Options{Clock: clk})
//	if _, err := sim.Start(); err != nil { ... }
//	defer sim.Close()
//	app := sim.AddApp(ghsim.AppSpec{Slug: "jitkey"})
//	sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "api", Private: true})
//	inst := sim.Install(app.ID, "acme", ghsim.InstallSpec{Permissions: map[string]string{"contents": "write"}})
//	atr, _ := ghinstallation.NewAppsTransport(http.DefaultTransport, app.ID, app.PrivateKeyPEM)
//	atr.BaseURL = sim.BaseURL()
//	gh, _ := github.NewClient(&http.Client{Transport: atr}).WithEnterpriseURLs(sim.URL(), sim.URL())
//
// URL() is go-github's BaseURL (trailing slash), BaseURL() is ghinstallation's.
// ServerURL() is GITHUB_SERVER_URL; the OIDC issuer is ServerURL()+"_services/token".
// Handler() serves everything without a listener (links then use the request's Host).
// Routes() lists the served routes as "METHOD /template" (OpenAPI path templates).
//
// # Identity (OIDC)
//
// The issuer serves /.well-known/openid-configuration, /.well-known/jwks and the
// runner's token request endpoint. OIDCRequest(claims) returns the values of
// ACTIONS_ID_TOKEN_REQUEST_URL (ending in "?api-version=2.0") and
// ACTIONS_ID_TOKEN_REQUEST_TOKEN; a GET of URL+"&audience=A" with "Authorization:
// bearer TOKEN" answers {"value": JWT}. IssueOIDC(claims, audience) signs a job
// token directly. JobClaims("owner/repo") gives a complete claim set of a push job;
// SubjectLegacy and SubjectImmutable build both sub forms
// ("repo:OWNER/REPO:..." and "repo:OWNER@ID/REPO@ID:...").
//
// # Authentication and permissions
//
// An Authorization credential with two dots is an App JWT: RS256, signed with a
// registered App's key, iss the App ID or client ID, iat at most 60 s ahead, exp in
// the future and at most 10 minutes after iat; anything else answers 401 with
// GitHub's messages. Other credentials are tokens minted by
// POST /app/installations/{installation_id}/access_tokens (one hour, on the Clock)
// or by JobToken. Each API route checks the token's repositories (404 when the token
// cannot see the repository) and one permission (403 "Resource not accessible by
// integration"):
//
//	metadata:read           GET /repos/{owner}/{repo}, /orgs/{org}/repos, collaborators/{username}/permission, /environments
//	contents:read           GET /repos/{owner}/{repo}/contents/{path}
//	administration          GET (read) and DELETE (write) /repos/{owner}/{repo}/keys[/{key_id}]
//	secrets                 repository and environment Actions secrets
//	dependabot_secrets      repository Dependabot secrets
//	codespaces_secrets      repository Codespaces secrets
//	organization_secrets, organization_dependabot_secrets, organization_codespaces_secrets   organisation secrets
//	organization_administration   GET /orgs/{org}/installations, /orgs/{org}/credential-authorizations (write to DELETE)
//	organization_personal_access_tokens   GET (read) and POST (write) /orgs/{org}/personal-access-tokens
//	repository_hooks, organization_hooks  webhooks (read to list, write to PATCH and DELETE)
//	issues                  issues, comments, labels, assignees (read to list, write to change)
//
// Answers carry X-Accepted-GitHub-Permissions (the permission the route checks,
// e.g. "administration=read") and X-GitHub-Request-Id, as GitHub's do.
// Organisation routes need an installation token of an installation on that
// organisation. A public repository is not readable by tokens that do not cover it.
//
// # Faults, limits, accounting
//
// Fault injects failures per route (FaultSpec); Options sets a global latency, the
// primary rate limit, a concurrency cap and a points-per-minute secondary limit.
// Every answer carries x-ratelimit-* headers. Calls, WriteCalls, MaxInFlight,
// Ledger and ValidTokens report what clients did.
//
// # Running standalone
//
// ServeStandalone runs a seeded simulator on an address until its context ends,
// printing the API URL, the Apps with the paths of their private keys and the
// OIDC endpoints (jitkey sandbox --serve).
//
// # Seeding
//
// Seed with the builder methods (AddApp, AddRepo, Install, PutFile, AddDeployKey,
// AddSecret, AddEnvironment, AddPAT, AddSSOAuthorization, AddWebhook,
// AddCollaborator, AddIssue), with a scenario file (LoadScenario, Apply; see
// scenario.go for the format) or with Generate for large organisations.
package ghsim

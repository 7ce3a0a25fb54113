package issue_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/issue"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/review"
)

// reviewPerms are the App permissions a full review needs.
var reviewPerms = map[string]string{
	"administration": "write", "secrets": "write", "dependabot_secrets": "write", "codespaces_secrets": "write",
	"repository_hooks": "write", "issues": "write", "contents": "read", "metadata": "read",
	"organization_secrets": "read", "organization_dependabot_secrets": "read", "organization_codespaces_secrets": "read",
	"organization_personal_access_tokens": "write", "organization_administration": "write", "organization_hooks": "read", "members": "read",
}

// identity is the review App's login: install names it jitkey-review.
const identity = "jitkey-review[bot]"

// world is a simulated organisation with the review App installed.
type world struct {
	t     testing.TB
	sim   *ghsim.Sim
	gh    *github.Client
	now   time.Time // the review's clock
	perms map[string]string
	itr   *ghinstallation.Transport
}

func newWorld(t testing.TB, opts ghsim.Options, perms map[string]string) *world {
	if opts.Prefix == "" {
		opts.Prefix = "/api/v3" // any absolute-URL mistake fails loudly
	}
	sim := ghsim.New(opts)
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	if perms == nil {
		perms = reviewPerms
	}
	return &world{t: t, sim: sim, now: sim.Now(), perms: perms}
}

// install installs the App on the organisation and builds the client the way
// `jitkey review` does: App JWT, then installation token.
func (w *world) install(org string) {
	app := w.sim.AddApp(ghsim.AppSpec{Slug: "jitkey-review"})
	inst := w.sim.Install(app.ID, org, ghsim.InstallSpec{Permissions: w.perms})
	base := strings.TrimRight(w.sim.URL(), "/")
	atr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, app.ID, app.PrivateKeyPEM)
	require.NoError(w.t, err)
	atr.BaseURL = base
	itr := ghinstallation.NewFromAppsTransport(atr, inst.ID)
	itr.BaseURL = base
	w.gh = newClient(w.t, w.sim, &http.Client{Transport: itr, Timeout: 5 * time.Second})
	w.itr = itr
}

func newClient(t testing.TB, sim *ghsim.Sim, hc *http.Client) *github.Client {
	gh := github.NewClient(hc)
	u, err := gh.BaseURL.Parse(sim.URL())
	require.NoError(t, err)
	gh.BaseURL = u
	return gh
}

// run is one scheduled review: scan, evaluate, keep the issues.
func (w *world) run(ctx context.Context, scan inventory.Options, rv policy.Review, cfg issue.Config) (*inventory.Inventory, review.Report, *issue.Result) {
	w.t.Helper()
	scan.Now = func() time.Time { return w.now }
	inv, err := inventory.Scan(ctx, inventory.NewClient(w.gh), scan)
	require.NoError(w.t, err)
	rep := review.Evaluate(inv, rv, w.now)
	cfg.Review = rv
	cfg.Now = func() time.Time { return w.now }
	if cfg.Identity == "" {
		cfg.Identity = identity
	}
	tr := issue.New(w.gh.Issues, w.gh.Repositories, w.gh.Organizations, issue.NewRemover(w.gh), cfg)
	res, err := tr.Sync(ctx, inv, rep)
	require.NoError(w.t, err)
	return inv, rep, res
}

func (w *world) issues(owner, repo string) []ghsim.Issue {
	var out []ghsim.Issue
	for _, is := range w.sim.Issues(owner, repo) {
		if _, ok := issue.ParseMarker(is.Body); ok {
			out = append(out, is)
		}
	}
	return out
}

func ago(w *world, days int) time.Time { return w.now.AddDate(0, 0, -days) }
func agoPtr(w *world, days int) *time.Time {
	t := ago(w, days)
	return &t
}

package ghsim_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v62/github"

	"github.com/jitkey/jitkey/internal/ghsim"
)

// An App mints a token scoped to one repository, reads a file with it and
// revokes it; the ledger shows nothing left valid.
func Example() {
	clk := ghsim.NewClock(time.Now())
	sim := ghsim.New(ghsim.Options{Prefix: "/api/v3", Clock: clk})
	if _, err := sim.Start(); err != nil {
		panic(err)
	}
	defer sim.Close()
	app := sim.AddApp(ghsim.AppSpec{Slug: "jitkey"})
	sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "api", Private: true})
	inst := sim.Install(app.ID, "acme", ghsim.InstallSpec{Permissions: map[string]string{"contents": "write"}})
	sim.PutFile("acme", "api", "main", "README.md", []byte("hello\n"))

	atr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, app.ID, app.PrivateKeyPEM)
	if err != nil {
		panic(err)
	}
	atr.BaseURL = sim.BaseURL()
	gh, err := github.NewClient(&http.Client{Transport: atr}).WithEnterpriseURLs(sim.URL(), sim.URL())
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	tok, _, err := gh.Apps.CreateInstallationToken(ctx, inst.ID, &github.InstallationTokenOptions{
		Repositories: []string{"api"}, Permissions: &github.InstallationPermissions{Contents: github.String("read")}})
	if err != nil {
		panic(err)
	}
	c, _ := github.NewClient(nil).WithAuthToken(tok.GetToken()).WithEnterpriseURLs(sim.URL(), sim.URL())
	file, _, _, err := c.Repositories.GetContents(ctx, "acme", "api", "README.md", nil)
	if err != nil {
		panic(err)
	}
	body, _ := file.GetContent()
	fmt.Print(body)
	if _, err := c.Apps.RevokeInstallationToken(ctx); err != nil {
		panic(err)
	}
	rec := sim.Ledger()[0]
	fmt.Println(rec.State(), rec.Repositories, rec.Permissions["contents"], len(sim.ValidTokens()))
	// Output:
	// hello
	// revoked [api] read 0
}

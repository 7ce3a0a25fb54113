package ghsim

import (
	"fmt"
	"math/rand" //nolint:gosec // generated data must be reproducible from the seed
)

// GenSpec sizes a generated organisation. Zero counts take the defaults noted.
type GenSpec struct {
	Org            string // "acme"
	Repos          int    // 2,000
	KeysPerRepo    int    // 2
	SecretsPerRepo int    // 3 (actions, dependabot, codespaces in turn)
	EnvsPerRepo    int    // 1, each with EnvSecrets secrets
	EnvSecrets     int    // 1
	HooksPerRepo   int    // 1
	OrgSecrets     int    // 20
	OrgHooks       int    // 3
	PATs           int    // 50
	SSO            int    // 30
	OtherApps      int    // 3 other Apps installed on the organisation
	// DormantEvery makes every n-th credential dormant (last used over a year ago,
	// or never); 0 means 4.
	DormantEvery int
	Seed         int64 // for the spread of dates; 0 means 1
	// AppSlug is the App installed on every repository with review permissions; "jitkey".
	AppSlug string
}

func (g *GenSpec) defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if g.Org == "" {
		g.Org = "acme"
	}
	if g.AppSlug == "" {
		g.AppSlug = "jitkey"
	}
	def(&g.Repos, 2000)
	def(&g.KeysPerRepo, 2)
	def(&g.SecretsPerRepo, 3)
	def(&g.EnvsPerRepo, 1)
	def(&g.EnvSecrets, 1)
	def(&g.HooksPerRepo, 1)
	def(&g.OrgSecrets, 20)
	def(&g.OrgHooks, 3)
	def(&g.PATs, 50)
	def(&g.SSO, 30)
	def(&g.OtherApps, 3)
	def(&g.DormantEvery, 4)
	if g.Seed == 0 {
		g.Seed = 1
	}
}

// ReviewPermissions are the installation permissions a credential review needs.
var ReviewPermissions = map[string]string{
	"administration": "write", "secrets": "write", "dependabot_secrets": "write", "codespaces_secrets": "write",
	"repository_hooks": "write", "issues": "write", "contents": "read", "organization_administration": "write",
	"organization_secrets": "write", "organization_dependabot_secrets": "write", "organization_codespaces_secrets": "write",
	"organization_hooks": "write", "organization_personal_access_tokens": "write", "members": "read",
}

// Generate builds a large organisation for benchmarks; the same spec gives the same scenario.
func Generate(g GenSpec) *Scenario {
	g.defaults()
	rnd := rand.New(rand.NewSource(g.Seed)) //nolint:gosec // reproducible test data, not secrets
	n := 0
	// age gives a creation time and, every DormantEvery-th call, a dormant last use.
	age := func() (created, used string) {
		n++
		created = fmt.Sprintf("-%dd", 30+rnd.Intn(900))
		switch {
		case n%(g.DormantEvery*2) == 0:
			used = ""
		case n%g.DormantEvery == 0:
			used = fmt.Sprintf("-%dd", 400+rnd.Intn(300))
		default:
			used = fmt.Sprintf("-%dd", rnd.Intn(30))
		}
		return created, used
	}
	kinds := []string{"actions", "dependabot", "codespaces"}
	org := ScenarioOrg{Login: g.Org}
	for i := range g.Repos {
		r := ScenarioRepo{Name: fmt.Sprintf("repo-%04d", i), Private: i%3 != 0, Archived: i%50 == 49}
		for k := range g.KeysPerRepo {
			c, u := age()
			r.DeployKeys = append(r.DeployKeys, ScenarioKey{Title: fmt.Sprintf("key-%d", k), ReadOnly: k%2 == 1,
				Verified: true, AddedBy: "mona", CreatedAt: c, LastUsed: u})
		}
		for k := range g.SecretsPerRepo {
			c, _ := age()
			r.Secrets = append(r.Secrets, ScenarioSecret{Name: fmt.Sprintf("SECRET_%d", k), Kind: kinds[k%3], CreatedAt: c, UpdatedAt: c})
		}
		for e := range g.EnvsPerRepo {
			env := ScenarioEnv{Name: fmt.Sprintf("env-%d", e)}
			for k := range g.EnvSecrets {
				c, _ := age()
				env.Secrets = append(env.Secrets, ScenarioSecret{Name: fmt.Sprintf("ENV_SECRET_%d", k), CreatedAt: c, UpdatedAt: c})
			}
			r.Environments = append(r.Environments, env)
		}
		for h := range g.HooksPerRepo {
			c, _ := age()
			r.Hooks = append(r.Hooks, ScenarioHook{URL: fmt.Sprintf("https://hooks.example/%d/%d", i, h),
				InsecureSSL: n%g.DormantEvery == 0, Secret: n%2 == 0, CreatedAt: c})
		}
		org.Repos = append(org.Repos, r)
	}
	for k := range g.OrgSecrets {
		c, _ := age()
		sec := ScenarioSecret{Name: fmt.Sprintf("ORG_SECRET_%d", k), Kind: kinds[k%3], Visibility: []string{"all", "private", "selected"}[k%3], CreatedAt: c, UpdatedAt: c}
		if sec.Visibility == "selected" {
			sec.Repositories = []string{org.Repos[k%len(org.Repos)].Name}
		}
		org.Secrets = append(org.Secrets, sec)
	}
	for h := range g.OrgHooks {
		org.Hooks = append(org.Hooks, ScenarioHook{URL: fmt.Sprintf("https://org-hooks.example/%d", h), Secret: h%2 == 0})
	}
	for p := range g.PATs {
		c, u := age()
		pat := ScenarioPAT{Owner: fmt.Sprintf("user-%d", p%10), TokenName: fmt.Sprintf("pat-%d", p), AccessGrantedAt: c, LastUsedAt: u,
			Permissions: PATPermissions{Repository: map[string]string{"contents": []string{"read", "write"}[p%2]}}}
		if p%3 == 0 {
			pat.ExpiresAt = "+30d"
		}
		org.PATs = append(org.PATs, pat)
	}
	for x := range g.SSO {
		c, u := age()
		org.SSO = append(org.SSO, ScenarioSSO{Login: fmt.Sprintf("user-%d", x%10), AuthorizedAt: c, AccessedAt: u, Scopes: []string{"repo"}})
	}
	sc := &Scenario{Apps: []ScenarioApp{{Slug: g.AppSlug}}, Orgs: []ScenarioOrg{org},
		Installations: []ScenarioInstall{{App: g.AppSlug, Account: g.Org, Permissions: ReviewPermissions}}}
	for a := range g.OtherApps {
		slug := fmt.Sprintf("other-app-%d", a)
		sc.Apps = append(sc.Apps, ScenarioApp{Slug: slug})
		in := ScenarioInstall{App: slug, Account: g.Org, Permissions: map[string]string{"contents": "write", "administration": "write"}}
		if a%2 == 1 {
			in.Repositories = []string{org.Repos[0].Name}
		}
		sc.Installations = append(sc.Installations, in)
	}
	return sc
}

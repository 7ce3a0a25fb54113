package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/mint"
	"github.com/jitkey/jitkey/internal/mintstep"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/policytest"
	"github.com/jitkey/jitkey/internal/runstep"
	"github.com/jitkey/jitkey/policies"
)

// sandboxRepos are the repositories of the simulated acme, with the IDs
// the example organisation policy binds their names to.
var sandboxRepos = []ghsim.RepoSpec{
	{Owner: "acme", Name: ".github", Private: true}, {Owner: "acme", Name: "api", ID: 100200301, Private: true},
	{Owner: "acme", Name: "infra", ID: 100200302, Private: true}, {Owner: "acme", Name: "web", Private: true},
	{Owner: "acme", Name: "docs", Private: true}, {Owner: "acme", Name: "design-system", Private: true},
}

// sandboxWebPolicy is acme/web's own policy: it grants its deploy job write
// on acme/infra too, which acme/infra never agreed to.
const sandboxWebPolicy = `apiVersion: "jitkey.dev/v1"
rules: [{
	name:            "web-deploys-infra"
	requireVerified: true
	match: {repository: "acme/web", ref: "refs/heads/main", environment: "production"}
	grant: {repositories: ["caller", "acme/infra"], permissions: {contents: "read", deployments: "write"}}
}]
`

// runSandbox is `jitkey sandbox`: the whole lifecycle against the built-in
// simulator, narrated; or, with --serve, the simulator alone.
func runSandbox(ctx context.Context, env Env, args []string) int {
	fset := flag.NewFlagSet("jitkey sandbox", flag.ContinueOnError)
	fset.SetOutput(env.Stderr)
	serve := fset.String("serve", "", "serve the simulator on ADDR (e.g. 127.0.0.1:8080) until interrupted, instead of the tour")
	scenario := fset.String("scenario", "", "with --serve: seed the simulator from this scenario file (default: a small generated org)")
	brokerTour := fset.Bool("broker", false, "tour the broker instead: a job without a key mints through jitkey serve, its runner dies, the workflow_job webhook revokes the token")
	prefix := fset.String("prefix", "", "with --serve: serve the REST API under this path, /api/v3 for the GitHub Enterprise Server layout (default: the api.github.com layout, at the root)")
	fset.Usage = func() {
		fmt.Fprint(env.Stderr, "Usage: jitkey sandbox [--serve ADDR [--scenario FILE] [--prefix /api/v3]]\n\nRun jitkey's whole lifecycle against a simulated GitHub on loopback:\nvalidate the policies, mint for an allowed job, use the token, deny a job\nwith the explanation, review the organisation's credentials (open, keep\nand close issues), revoke, and prove the token dead. Exits 0 only if\nevery step behaved.\n\n")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil || fset.NArg() > 0 {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if *serve != "" {
		if !validPrefix(*prefix) {
			fmt.Fprintf(env.Stderr, "jitkey sandbox: --prefix %q: give a URL path such as /api/v3 (segments of letters, digits, '.', '_', '~' and '-')\n", *prefix)
			return ExitUsage
		}
		return serveSandbox(ctx, env, *serve, *scenario, *prefix)
	}
	for _, f := range []struct{ name, value string }{{"--scenario", *scenario}, {"--prefix", *prefix}} {
		if f.value != "" {
			fmt.Fprintf(env.Stderr, "jitkey sandbox: %s needs --serve\n", f.name)
			return ExitUsage
		}
	}
	if *brokerTour {
		return tour(ctx, env, brokerSandboxSteps())
	}
	return tour(ctx, env, sandboxSteps())
}

// prefixChars are the characters a --prefix segment may hold: URL path
// characters that need no escaping.
const prefixChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-"

// validPrefix reports whether p is empty or a URL path of plain segments
// ("/api/v3"), which the simulator can mount its routes under.
func validPrefix(p string) bool {
	if p == "" {
		return true
	}
	if !strings.HasPrefix(p, "/") {
		return false
	}
	for _, seg := range strings.Split(strings.TrimSuffix(p[1:], "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		if strings.Trim(seg, prefixChars) != "" {
			return false
		}
	}
	return true
}

// serveSandbox serves the simulator on addr until ctx ends, its REST API
// under prefix ("" for the api.github.com layout, "/api/v3" for GHES).
func serveSandbox(ctx context.Context, env Env, addr, scenario, prefix string) int {
	var sc *ghsim.Scenario
	if scenario != "" {
		f, err := os.Open(runstep.AbsPath(env, scenario))
		if err != nil {
			fmt.Fprintf(env.Stderr, "jitkey sandbox: %v\n", err)
			return ExitUsage
		}
		sc, err = ghsim.LoadScenario(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(env.Stderr, "jitkey sandbox: scenario %s: %v\n", scenario, err)
			return ExitUsage
		}
	}
	if err := ghsim.ServeStandalone(ctx, addr, sc, env.Stdout, ghsim.Options{Prefix: prefix}); err != nil {
		fmt.Fprintf(env.Stderr, "jitkey sandbox: %v\n", err)
		return ExitFindings
	}
	return ExitOK
}

// sandboxStep is one narrated step of the tour. Steps run in order and share
// the sandbox; a step that fails stops the tour when later steps depend on it.
type sandboxStep struct {
	title string
	run   func(sb *sandbox, ctx context.Context) error
	// required: the steps after this one make no sense without it.
	required bool
}

// sandboxSteps is the tour. The review steps slot in before "revoke"
// (they need no minted token) or at the end.
func sandboxSteps() []sandboxStep {
	steps := []sandboxStep{
		{title: "validate the policy tree in policies/ (the organisation's and each repository's) and run its tests", run: (*sandbox).validate, required: true},
		{title: "a simulated GitHub: organisation acme, each repository's policy committed to its .github/jitkey/, the jitkey App installed", run: (*sandbox).world, required: true},
		{title: "acme/api's production deploy job (OIDC verified by the simulator's issuer) runs `jitkey mint`: acme/infra consents", run: (*sandbox).mintAllowed, required: true},
		{title: "the job uses the token", run: (*sandbox).useToken},
		{title: "a pull-request job asks for the same token and is denied", run: (*sandbox).mintDenied},
		{title: "acme/web's own policy grants its deploy job acme/infra: acme/infra never consented, so it is denied", run: (*sandbox).mintNoConsent},
	}
	steps = append(steps, reviewSandboxSteps()...)
	return append(steps,
		sandboxStep{title: "the post step revokes (`jitkey revoke`, which the action runs as jitkey-post)", run: (*sandbox).revoke, required: true},
		sandboxStep{title: "the token is proven dead", run: (*sandbox).provenDead},
	)
}

// sandbox is the state the tour's steps share.
type sandbox struct {
	env   Env
	out   io.Writer
	dir   string
	tree  *policy.Policies
	sim   *ghsim.Sim
	app   *ghsim.App
	inst  ghsim.Installation
	token string // the allowed job's token
	job   map[string]string
	state map[string]string
	// broker is the broker tour's state (sandbox_broker.go).
	broker *brokerTour
}

func tour(ctx context.Context, env Env, steps []sandboxStep) int {
	dir, err := os.MkdirTemp("", "jitkey-sandbox-")
	if err != nil {
		fmt.Fprintf(env.Stderr, "jitkey sandbox: %v\n", err)
		return ExitUsage
	}
	defer os.RemoveAll(dir)
	sb := &sandbox{env: env, out: env.Stdout, dir: dir}
	defer sb.close()
	fmt.Fprintln(sb.out, "jitkey sandbox: the whole credential lifecycle against a simulated GitHub on loopback")
	failed := 0
	for i, s := range steps {
		fmt.Fprintf(sb.out, "\n[%d/%d] %s\n", i+1, len(steps), s.title)
		if err := s.run(sb, ctx); err != nil {
			failed++
			sb.sayf("FAIL: %s", github.Redact(err.Error()))
			if s.required {
				fmt.Fprintf(sb.out, "\njitkey sandbox: stopped: the remaining steps need this one\n")
				return ExitFindings
			}
			continue
		}
		sb.sayf("ok")
	}
	if failed > 0 {
		fmt.Fprintf(sb.out, "\njitkey sandbox: %d of %d steps misbehaved\n", failed, len(steps))
		return ExitFindings
	}
	fmt.Fprintf(sb.out, "\njitkey sandbox: every step behaved as expected\n")
	return ExitOK
}

func (sb *sandbox) close() {
	if sb.sim != nil {
		_ = sb.sim.Close()
	}
}

func (sb *sandbox) sayf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if sb.token != "" {
		msg = strings.ReplaceAll(msg, sb.token, "***")
	}
	for _, l := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
		fmt.Fprintf(sb.out, "      %s\n", l)
	}
}

func (sb *sandbox) validate(ctx context.Context) error {
	dirs, err := fs.ReadDir(policies.FS, "acme")
	if err != nil {
		return err
	}
	tree := &policy.Policies{Owner: "acme", Repos: map[string]*policy.Set{}}
	var sets []*policy.Set
	var tests []policy.TestCase
	files := 0
	for _, d := range dirs {
		names, err := fs.Glob(policies.FS, "acme/"+d.Name()+"/*.cue")
		if err != nil {
			return err
		}
		sort.Strings(names)
		set, err := policy.LoadContext(ctx, policies.FS, names)
		if err != nil {
			return fmt.Errorf("the policies of acme/%s do not validate:\n%w", d.Name(), err)
		}
		files += len(names)
		sets, tests = append(sets, set), append(tests, set.Tests...)
		if d.Name() == ".github" {
			tree.Org = set
			sb.sayf("acme/.github (organisation policy): %d files, %d rules, ceiling %s", len(names), len(set.Rules), ceilingText(set.Ceiling))
			continue
		}
		if err := policy.CheckRepositoryPolicy("acme/"+d.Name(), set); err != nil {
			return err
		}
		tree.Repos["acme/"+d.Name()] = set
		sb.sayf("acme/%s: %d files, %d rules", d.Name(), len(names), len(set.Rules))
	}
	res := policytest.RunScope(*tree, sets, tests)
	passed, failed := res.Counts()
	sb.sayf("%d policy tests passed, %d failed; %d of %d rules covered", passed, failed, len(res.Covered), len(res.Rules))
	if failed > 0 {
		return fmt.Errorf("%d policy tests failed: run 'jitkey test policies/'", failed)
	}
	sb.tree = tree
	return nil
}

func ceilingText(c *policy.Ceiling) string {
	if c == nil {
		return "none"
	}
	return github.FormatPermissions(c.Permissions)
}

func (sb *sandbox) world(context.Context) error {
	sb.sim = ghsim.New(ghsim.Options{})
	if _, err := sb.sim.Start(); err != nil {
		return fmt.Errorf("start the simulator: %w", err)
	}
	sb.app = sb.sim.AddApp(ghsim.AppSpec{Slug: "jitkey", Name: "jitkey sandbox"})
	for _, r := range sandboxRepos {
		sb.sim.AddRepo(r)
	}
	sb.inst = sb.sim.Install(sb.app.ID, "acme", ghsim.InstallSpec{Repositories: []string{".github", "api", "infra", "web"},
		Permissions: map[string]string{"contents": "write", "deployments": "write", "statuses": "write"}})
	files, err := fs.Glob(policies.FS, "acme/*/*.cue")
	if err != nil {
		return err
	}
	for _, f := range files {
		data, err := fs.ReadFile(policies.FS, f)
		if err != nil {
			return err
		}
		parts := strings.Split(f, "/")
		if parts[1] == ".github" {
			data = simulatorIssuers(data)
		}
		sb.sim.PutFile("acme", parts[1], "main", ".github/jitkey/"+parts[2], data)
	}
	sb.sim.PutFile("acme", "web", "main", ".github/jitkey/deploy.cue", []byte(sandboxWebPolicy))
	sb.sim.PutFile("acme", "infra", "main", "README.md", []byte("# acme/infra\n\nDeployment manifests.\n"))
	sb.sayf("API %s, OIDC issuer %s", sb.sim.URL(), sb.sim.OIDCIssuer())
	sb.sayf("App jitkey (id %d) installation %d: contents:write, deployments:write, statuses:write on .github, api, infra, web", sb.app.ID, sb.inst.ID)
	sb.sayf("policies/acme/REPO/*.cue committed to each acme/REPO's default branch under .github/jitkey/ (%d files); acme/web's own policy asks for acme/infra", len(files))
	sb.sayf("acme/.github's organization.issuers (github.com's) is left out: the jobs' tokens come from the simulator's issuer, which the default accepts (the issuer of the GitHub jitkey runs on)")
	return nil
}

// runnerEnv is the environment of a job on acme/api whose OIDC tokens carry claims.
func (sb *sandbox) runnerEnv(name string, claims map[string]any) (map[string]string, error) {
	dir := filepath.Join(sb.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	reqURL, reqTok := sb.sim.OIDCRequest(claims)
	return map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_API_URL": sb.sim.URL(), "GITHUB_SERVER_URL": sb.sim.ServerURL(),
		"GITHUB_REPOSITORY": "acme/api", "GITHUB_REPOSITORY_OWNER": "acme", "GITHUB_ACTOR": fmt.Sprint(claims["actor"]),
		"GITHUB_REF": fmt.Sprint(claims["ref"]), "GITHUB_EVENT_NAME": fmt.Sprint(claims["event_name"]),
		"GITHUB_OUTPUT": filepath.Join(dir, "output"), "GITHUB_STATE": filepath.Join(dir, "state"),
		"GITHUB_STEP_SUMMARY":          filepath.Join(dir, "summary"),
		"ACTIONS_ID_TOKEN_REQUEST_URL": reqURL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": reqTok,
		"INPUT_APP-ID": strconv.FormatInt(sb.app.ID, 10), "INPUT_PRIVATE-KEY": string(sb.app.PrivateKeyPEM),
		"INPUT_GITHUB-TOKEN": sb.sim.JobToken("acme/api"), "INPUT_REQUIRE-OIDC": "true",
	}, nil
}

// step runs a jitkey command as the runner would, and returns its exit code
// and its log without the mask commands.
func (sb *sandbox) step(ctx context.Context, vars map[string]string, run func(context.Context, Env, []string) int) (int, string) {
	var stdout, stderr bytes.Buffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Now: time.Now, Dir: sb.dir,
		Getenv: func(k string) string { return vars[k] }}
	code := run(ctx, env, nil)
	var log []string
	for _, l := range strings.Split(stdout.String()+stderr.String(), "\n") {
		switch {
		case l == "" || strings.HasPrefix(l, "::add-mask::"):
		case strings.HasPrefix(l, "::"):
			log = append(log, readableCommand(l))
		default:
			log = append(log, l)
		}
	}
	return code, strings.Join(log, "\n")
}

// readableCommand renders a workflow command ("::error title=T::msg") for a
// terminal: "error (T): msg".
func readableCommand(l string) string {
	cmd, msg, ok := strings.Cut(strings.TrimPrefix(l, "::"), "::")
	if !ok {
		return l
	}
	name, props, _ := strings.Cut(cmd, " ")
	unescape := strings.NewReplacer("%0A", "\n", "%0D", "", "%25", "%", "%3A", ":", "%2C", ",")
	if title, ok := strings.CutPrefix(props, "title="); ok {
		return fmt.Sprintf("%s (%s): %s", name, unescape.Replace(title), unescape.Replace(msg))
	}
	return name + ": " + unescape.Replace(msg)
}

func (sb *sandbox) deployClaims() map[string]any {
	c := sb.sim.JobClaims("acme/api")
	wf := "acme/api/.github/workflows/deploy.yml@refs/heads/main"
	c["workflow_ref"], c["job_workflow_ref"], c["workflow"] = wf, wf, "deploy"
	c["environment"] = "production"
	delete(c, "sub")
	return c
}

func (sb *sandbox) mintAllowed(ctx context.Context) error {
	vars, err := sb.runnerEnv("deploy", sb.deployClaims())
	if err != nil {
		return err
	}
	before := sb.sim.Calls()
	code, log := sb.step(ctx, vars, mintstep.Run)
	if code != ExitOK {
		return fmt.Errorf("jitkey mint exited %d:\n%s", code, log)
	}
	out := parseRunnerFile(vars["GITHUB_OUTPUT"])
	sb.token, sb.job, sb.state = out["token"], vars, parseRunnerFile(vars["GITHUB_STATE"])
	sb.sayf("%s", log)
	sb.sayf("outputs: rule=%s repositories=%s expires-at=%s token-sha256=%s… (the token itself is masked)",
		out["rule"], out["repositories"], out["expires-at"], mint.ShortSHA(out["token-sha256"]))
	sb.sayf("API calls: %d (installation lookup; a read token on acme/.github and acme/api, their policies; a read token on acme/infra, which the rule names, its policy; mint). The read tokens are left to the post step; a job naming both repositories needs 4", apiCallsSince(sb.sim, before))
	if out["rule"] != "deploy-production" || sb.token == "" {
		return fmt.Errorf("expected the deploy-production grant, got rule %q", out["rule"])
	}
	return nil
}

func (sb *sandbox) useToken(ctx context.Context) error {
	c, err := github.NewTokenClient(github.Options{BaseURL: sb.sim.URL()}, sb.token)
	if err != nil {
		return err
	}
	data, _, err := c.FileContents(ctx, "acme", "infra", "README.md", "")
	if err != nil {
		return fmt.Errorf("read acme/infra with the token: %w", err)
	}
	sb.sayf("read acme/infra/README.md (%d bytes): %q", len(data), firstLine(data))
	_, _, err = c.FileContents(ctx, "acme", "web", "README.md", "")
	if github.ClassOf(err) != github.ClassNotFound {
		return fmt.Errorf("the token should not see acme/web, got %v", err)
	}
	sb.sayf("acme/web is outside the grant: GitHub answers 404 to this token")
	return nil
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\n")
	return line
}

func (sb *sandbox) mintDenied(ctx context.Context) error {
	c := sb.sim.JobClaims("acme/api")
	c["event_name"], c["ref"], c["ref_protected"], c["actor"] = "pull_request", "refs/pull/7/merge", "false", "mallory"
	c["head_ref"], c["base_ref"] = "feature", "main"
	delete(c, "sub")
	vars, err := sb.runnerEnv("pull-request", c)
	if err != nil {
		return err
	}
	before, err := sb.mintRefused(ctx, vars, "denied", "a denial", "denied")
	if err != nil {
		return err
	}
	sb.sayf("nothing was minted: the simulator still holds %d valid token(s) (the policy-read token was revoked)", before)
	return nil
}

// mintRefused runs the mint step with vars and checks that it was refused
// (exit ExitFindings, its log holding want) and left no token valid; it
// returns the valid tokens before the step. expected and refused name the
// refusal in the errors.
func (sb *sandbox) mintRefused(ctx context.Context, vars map[string]string, want, expected, refused string) (int, error) {
	before := len(sb.sim.ValidTokens())
	code, log := sb.step(ctx, vars, mintstep.Run)
	sb.sayf("%s", log)
	if code != ExitFindings || !strings.Contains(log, want) {
		return before, fmt.Errorf("expected %s (exit %d), got exit %d", expected, ExitFindings, code)
	}
	if n := len(sb.sim.ValidTokens()) - before; n != 0 {
		return before, fmt.Errorf("a %s job left %d tokens valid", refused, n)
	}
	return before, nil
}

func (sb *sandbox) mintNoConsent(ctx context.Context) error {
	c := sb.sim.JobClaims("acme/web")
	c["environment"] = "production"
	delete(c, "sub")
	vars, err := sb.runnerEnv("web-deploy", c)
	if err != nil {
		return err
	}
	vars["GITHUB_REPOSITORY"] = "acme/web"
	if _, err := sb.mintRefused(ctx, vars, "acme/infra refuses", "acme/infra to refuse", "refused"); err != nil {
		return err
	}
	sb.sayf("nothing was minted for acme/web: its own policy cannot grant on acme/infra")
	return nil
}

func (sb *sandbox) revoke(ctx context.Context) error {
	vars := map[string]string{}
	for k, v := range sb.job {
		if !strings.HasPrefix(k, "ACTIONS_ID_TOKEN") {
			vars[k] = v
		}
	}
	for k, v := range sb.state {
		vars["STATE_"+k] = v
	}
	before := sb.sim.Calls()
	code, log := sb.step(ctx, vars, runRevoke)
	sb.sayf("%s", log)
	if code != ExitOK {
		return fmt.Errorf("jitkey revoke exited %d", code)
	}
	sb.sayf("API calls: %d (DELETE /installation/token with the job's token itself, and with each policy-read token)", apiCallsSince(sb.sim, before))
	return nil
}

func (sb *sandbox) provenDead(ctx context.Context) error {
	c, err := github.NewTokenClient(github.Options{BaseURL: sb.sim.URL(), Retry: github.RetryPolicy{Attempts: 1}}, sb.token)
	if err != nil {
		return err
	}
	_, _, err = c.FileContents(ctx, "acme", "infra", "README.md", "")
	e, ok := github.AsError(err)
	if !ok || e.Status != 401 {
		return fmt.Errorf("the revoked token still works or fails oddly: %v", err)
	}
	sb.sayf("the token now gets HTTP %d %q", e.Status, e.Message)
	rec, ok := sb.sim.TokenByValue(sb.token)
	if !ok || rec.State() != ghsim.StateRevoked {
		return errors.New("the ledger does not show the token revoked")
	}
	sb.sayf("ledger: token sha256 %s… minted %s, revoked %s; %d tokens still valid",
		mint.ShortSHA(rec.SHA256), rec.CreatedAt.Format(time.TimeOnly), rec.RevokedAt.Format(time.TimeOnly), len(sb.sim.ValidTokens()))
	if n := len(sb.sim.ValidTokens()); n != 0 {
		return fmt.Errorf("%d tokens are still valid", n)
	}
	return nil
}

func apiCallsSince(sim *ghsim.Sim, before map[string]int) int {
	n := 0
	for k, v := range sim.Calls() {
		if !strings.Contains(k, "/_services/") { // the OIDC issuer is not the REST API
			n += v - before[k]
		}
	}
	return n
}

// parseRunnerFile reads a $GITHUB_OUTPUT/$GITHUB_STATE file.
func parseRunnerFile(path string) map[string]string {
	out := map[string]string{}
	data, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			continue
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		out[name] = strings.Join(val, "\n")
	}
	return out
}

// issuersLine is organization.issuers in the example organisation policy.
var issuersLine = regexp.MustCompile(`(?m)^(\s*)issuers: \[[^\]]*\]$`)

// simulatorIssuers leaves organization.issuers out of an organisation
// policy file committed to the simulator: the list names github.com's
// issuer, the simulator signs as its own (http, which a list may not name),
// and without the list the issuer of the GitHub jitkey runs on is accepted.
func simulatorIssuers(data []byte) []byte {
	return issuersLine.ReplaceAll(data, []byte("${1}// issuers: left out on the simulator (the default accepts its issuer)"))
}

package ghsim

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ServeStandalone runs a simulator on addr (e.g. "127.0.0.1:8080") seeded with sc
// (nil: a small generated organisation "acme") until ctx is done. It writes each
// App's private key, mode 0600, into a fresh temporary directory (removed on
// return) and prints to w the API URL, the Apps with their IDs and key paths, the
// installations, the OIDC endpoints and the path of job.env, a 0600 file with the
// environment of a push job on the first repository (GITHUB_API_URL,
// GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_TOKEN, ACTIONS_ID_TOKEN_REQUEST_URL and
// ACTIONS_ID_TOKEN_REQUEST_TOKEN). Credentials go only into files, never to w. An optional Options (the first one
// given) sets the prefix ("/api/v3" for the GHES layout), latency, limits and so on.
func ServeStandalone(ctx context.Context, addr string, sc *Scenario, w io.Writer, opts ...Options) error {
	if sc == nil {
		sc = Generate(GenSpec{Repos: 5, PATs: 5, SSO: 3, OrgSecrets: 3, OtherApps: 1})
	}
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	sim := New(o)
	if err := sim.Apply(sc); err != nil {
		return err
	}
	if _, err := sim.Serve(addr); err != nil {
		return fmt.Errorf("listen on %s: %w (choose another --serve address)", addr, err)
	}
	defer sim.Close()
	dir, err := os.MkdirTemp("", "ghsim-keys-")
	if err != nil {
		return fmt.Errorf("make a directory for the App keys: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := sim.printStandalone(w, dir, sc); err != nil {
		return err
	}
	<-ctx.Done()
	fmt.Fprintln(w, "ghsim: stopped")
	return nil
}

func (s *Sim) printStandalone(w io.Writer, dir string, sc *Scenario) error {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("ghsim: GitHub simulator listening")
	p("  API URL (GITHUB_API_URL):       %s", s.URL())
	if s.prefix != "" {
		p("  the REST API is under %s, as on GitHub Enterprise Server; the OIDC issuer stays at the root", s.prefix)
	}
	p("  server URL (GITHUB_SERVER_URL): %s", s.ServerURL())
	for _, app := range s.Apps() {
		path := filepath.Join(dir, app.Slug+".pem")
		if err := os.WriteFile(path, app.PrivateKeyPEM, 0o600); err != nil {
			return fmt.Errorf("write the key of app %s: %w", app.Slug, err)
		}
		p("  %-31s id %d, client id %s, private key %s", "App "+app.Slug+":", app.ID, app.ClientID, path)
	}
	for _, in := range s.Installations() {
		p("  installation %d of app %d on %s", in.ID, in.AppID, in.Account)
	}
	iss := s.OIDCIssuer()
	p("  OIDC issuer:    %s", iss)
	p("  OIDC discovery: %s/.well-known/openid-configuration", iss)
	p("  OIDC JWKS:      %s/.well-known/jwks", iss)
	if len(sc.Orgs) > 0 && len(sc.Orgs[0].Repos) > 0 {
		full := sc.Orgs[0].Login + "/" + sc.Orgs[0].Repos[0].Name
		path, err := s.writeJobEnv(dir, full)
		if err != nil {
			return err
		}
		p("  a push job on %s: its environment (OIDC request URL and token, GITHUB_TOKEN) is in", full)
		p("    %s  (mode 0600; `set -a; . FILE; set +a` to use it)", path)
	}
	p("ghsim: serving until interrupted")
	return nil
}

// writeJobEnv writes the environment of a push job on repository full into dir/job.env.
func (s *Sim) writeJobEnv(dir, full string) (string, error) {
	reqURL, reqTok := s.OIDCRequest(s.JobClaims(full))
	env := fmt.Sprintf("GITHUB_API_URL=%s\nGITHUB_SERVER_URL=%s\nGITHUB_REPOSITORY=%s\nGITHUB_TOKEN=%s\n"+
		"ACTIONS_ID_TOKEN_REQUEST_URL=%s\nACTIONS_ID_TOKEN_REQUEST_TOKEN=%s\n",
		strings.TrimSuffix(s.URL(), "/"), strings.TrimSuffix(s.ServerURL(), "/"), full, s.JobToken(full), reqURL, reqTok)
	path := filepath.Join(dir, "job.env")
	if err := os.WriteFile(path, []byte(env), 0o600); err != nil {
		return "", fmt.Errorf("write the job environment: %w", err)
	}
	return path, nil
}

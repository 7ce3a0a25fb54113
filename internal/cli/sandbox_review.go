package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/issue"
)

// reviewSandbox is the state of the review part of `jitkey sandbox`.
type reviewSandbox struct {
	app    *ghsim.App
	hookID int64
	writes int // content writes before the current step
}

// reviewSandboxSteps are the review steps of the sandbox tour: they need the
// simulator of the "world" step and no minted token, so they can run before
// "revoke" or at the end. Each step checks what it shows and fails otherwise.
func reviewSandboxSteps() []sandboxStep {
	rs := &reviewSandbox{}
	return []sandboxStep{
		{title: "credentials to review in acme: a deploy key unused for 200 days, a write deploy key, a webhook without a secret, a secret not rotated for 400 days",
			run: ctxLast(rs.seed), required: true},
		{title: "`jitkey review --org acme` opens one issue per finding", run: ctxLast(rs.first), required: true},
		{title: "an unchanged re-run writes nothing", run: ctxLast(rs.unchanged)},
		{title: "the policy tightens dormant_days and exempts the webhook: issues are edited in place, the webhook's is closed with the reason", run: ctxLast(rs.changed)},
	}
}

// ctxLast adapts a step written context-first to sandboxStep.run, whose
// shape the sandbox's own method expressions fix.
func ctxLast(f func(context.Context, *sandbox) error) func(*sandbox, context.Context) error {
	return func(sb *sandbox, ctx context.Context) error { return f(ctx, sb) }
}

const sandboxReviewPolicy = `apiVersion: "jitkey.dev/v1"
review: {
	max_issues_per_run: 10
	kinds: app_installation: enabled: false
	kinds: deploy_key: dormant_days: %d
	exemptions: [%s]
}
`

func (rs *reviewSandbox) seed(_ context.Context, sb *sandbox) error {
	if sb.sim == nil {
		return fmt.Errorf("no simulator: the world step must run first")
	}
	s, now := sb.sim, sb.sim.Now()
	ago := func(d int) time.Time { return now.AddDate(0, 0, -d) }
	used := ago(200)
	recent := ago(1)
	s.AddDeployKey(ghsim.DeployKeySpec{Owner: "acme", Repo: "api", Title: "legacy-deploy", ReadOnly: true, CreatedAt: ago(400), LastUsed: &used, AddedBy: "octocat"})
	s.AddDeployKey(ghsim.DeployKeySpec{Owner: "acme", Repo: "infra", Title: "terraform", CreatedAt: ago(30), LastUsed: &recent})
	rs.hookID = s.AddWebhook(ghsim.WebhookSpec{Owner: "acme", Repo: "web", URL: "https://chat.example.com/hooks/T0/B0/c2VjcmV0"})
	s.AddSecret(ghsim.SecretSpec{Owner: "acme", Repo: "api", Name: "NPM_TOKEN", CreatedAt: ago(500), UpdatedAt: ago(400)})
	rs.app = s.AddApp(ghsim.AppSpec{Slug: "jitkey-review", Name: "jitkey review"})
	s.Install(rs.app.ID, "acme", ghsim.InstallSpec{Permissions: ghsim.ReviewPermissions})
	sb.sayf("App jitkey-review (id %d) installed on every repository of acme with access to its credentials (write, for reviewer commands) and issues: write", rs.app.ID)
	return rs.writePolicy(sb, 90, "")
}

func (rs *reviewSandbox) writePolicy(sb *sandbox, dormantDays int, exemptions string) error {
	return os.WriteFile(filepath.Join(sb.dir, "review.cue"), []byte(fmt.Sprintf(sandboxReviewPolicy, dormantDays, exemptions)), 0o600)
}

// review runs `jitkey review --org acme --policy review.cue` as a scheduled workflow would.
func (rs *reviewSandbox) review(ctx context.Context, sb *sandbox) (int, string, error) {
	vars := map[string]string{"JITKEY_APP_ID": strconv.FormatInt(rs.app.ID, 10), "JITKEY_APP_PRIVATE_KEY": string(rs.app.PrivateKeyPEM),
		"GITHUB_API_URL": sb.sim.URL()}
	var out, errb bytes.Buffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return vars[k] }, Now: time.Now, Dir: sb.dir}
	rs.writes = rs.contentWrites(sb)
	code := runReview(ctx, env, []string{"--org", "acme", "--policy", "review.cue"})
	if code != ExitOK {
		return code, out.String(), fmt.Errorf("jitkey review exited %d: %s", code, strings.TrimSpace(errb.String()))
	}
	return code, out.String(), nil
}

// contentWrites counts write calls other than the review token's mint and revoke.
func (rs *reviewSandbox) contentWrites(sb *sandbox) int {
	c := sb.sim.Calls()
	return sb.sim.WriteCalls() - c["POST /app/installations/{installation_id}/access_tokens"] - c["DELETE /installation/token"]
}

func (rs *reviewSandbox) issues(sb *sandbox) []ghsim.Issue {
	var out []ghsim.Issue
	for _, r := range []string{"api", "infra", "web", ".github"} {
		for _, is := range sb.sim.Issues("acme", r) {
			if _, ok := issue.ParseMarker(is.Body); ok {
				out = append(out, is)
			}
		}
	}
	return out
}

func (rs *reviewSandbox) first(ctx context.Context, sb *sandbox) error {
	_, out, err := rs.review(ctx, sb)
	if err != nil {
		return err
	}
	sb.sayf("%s", firstLines(out, 8))
	iss := rs.issues(sb)
	for _, is := range iss {
		sb.sayf("#%d %s", is.Number, is.Title)
	}
	if len(iss) != 4 {
		return fmt.Errorf("want 4 review issues (dormant key, write key, webhook, stale secret), got %d", len(iss))
	}
	return nil
}

func (rs *reviewSandbox) unchanged(ctx context.Context, sb *sandbox) error {
	_, out, err := rs.review(ctx, sb)
	if err != nil {
		return err
	}
	n := rs.contentWrites(sb) - rs.writes
	sb.sayf("%s", lastLine(out))
	sb.sayf("write calls besides the review token's own mint and revoke: %d", n)
	if n != 0 {
		return fmt.Errorf("an unchanged re-run made %d write calls", n)
	}
	return nil
}

func (rs *reviewSandbox) changed(ctx context.Context, sb *sandbox) error {
	ex := fmt.Sprintf(`{
		kind:       "webhook"
		credential: "acme/web:webhook:%d"
		finding:    "insecure"
		reason:     "the chat service cannot verify signatures; replaced in Q1"
		approver:   "octocat"
		expires:    %q
	}`, rs.hookID, time.Now().AddDate(0, 2, 0).Format("2006-01-02"))
	if err := rs.writePolicy(sb, 60, ex); err != nil {
		return err
	}
	_, out, err := rs.review(ctx, sb)
	if err != nil {
		return err
	}
	sb.sayf("%s", lastLine(out))
	for _, is := range rs.issues(sb) {
		if is.State == "closed" && len(is.Comments) > 0 {
			sb.sayf("#%d closed: %s", is.Number, is.Comments[len(is.Comments)-1].Body)
		}
	}
	if !strings.Contains(out, "update 2") || !strings.Contains(out, "close 1") {
		return fmt.Errorf("want 2 issues updated and 1 closed, got %q", lastLine(out))
	}
	return nil
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

package post

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/action"
	"github.com/jitkey/jitkey/internal/audit"
	"github.com/jitkey/jitkey/internal/brokerclient"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/runstep"
)

// exchangeAttempts bounds the exchange: a busy or restarting broker is
// asked again, each time with a fresh OIDC token (the broker exchanges a
// token once).
const exchangeAttempts = 4

// Exchange is the action's main step in broker mode (`jitkey-post
// exchange`): it requests the job's OIDC token for the broker's audience,
// exchanges it at the broker for a policy-scoped installation token, and
// hands the token over masked, with the outputs and state of `jitkey mint`.
// It needs no App key and reads no policy: the broker holds both.
func Exchange(ctx context.Context, env runstep.Env) int {
	st := runstep.New(env, env.Getenv)
	in, err := readBrokerInputs(st.Getenv)
	if err != nil {
		st.Annotate(action.Error, "jitkey inputs invalid", err.Error())
		return runstep.ExitUsage
	}
	for _, name := range []string{"app-id", "client-id", "private-key"} {
		if action.Input(st.Getenv, name) != "" {
			if name == "private-key" {
				st.A.AddMask(st.Getenv("INPUT_PRIVATE-KEY"))
			}
			st.Annotate(action.Warning, "jitkey input ignored", "input "+name+" is not used in broker mode: the broker holds the App key; remove it (and its secret) from the workflow")
		}
	}
	if !st.A.OIDCAvailable() {
		st.Annotate(action.Error, "jitkey broker mode needs OIDC", "the job offers no OIDC token: add 'permissions: id-token: write' to the job")
		return runstep.ExitFindings
	}
	client, err := brokerclient.New(in.broker, &http.Client{Transport: github.NewNetTransport(), Timeout: 30 * time.Second})
	if err != nil {
		st.Annotate(action.Error, "jitkey inputs invalid", "input broker: "+err.Error())
		return runstep.ExitUsage
	}
	if in.audience == "" {
		in.audience = client.Audience()
	}
	// A token minted while the step is cancelled is still handed over and
	// saved, so that the post step revokes it.
	xctx, stop := runstep.GraceContext(ctx, runstep.CancelGrace)
	defer stop()
	ans, err := exchange(xctx, st, client, in)
	if err != nil {
		return exchangeFailed(st, in, err)
	}
	return handOver(st, in, ans)
}

type brokerInputs struct {
	broker, audience, apiURL, auditFile string
	req                                 brokerclient.TokenRequest
}

func readBrokerInputs(getenv func(string) string) (brokerInputs, error) {
	get := func(name string) string { return action.Input(getenv, name) }
	in := brokerInputs{broker: get("broker"), auditFile: get("audit-file")}
	if aud := get("audience"); aud != action.DefaultAudience {
		in.audience = aud // the default "jitkey" names the in-job verifier; a broker is its own audience
	}
	in.apiURL = firstNonEmpty(get("github-api-url"), getenv("GITHUB_API_URL"), "https://api.github.com/")
	repos, rerr := action.ParseRepositories(get("repositories"))
	perms, perr := action.ParsePermissions(get("permissions"), nil)
	owner := firstNonEmpty(get("owner"), getenv("GITHUB_REPOSITORY_OWNER"))
	for i, r := range repos {
		if !strings.Contains(r, "/") && owner != "" {
			repos[i] = owner + "/" + r
		}
	}
	in.req = brokerclient.TokenRequest{Repositories: repos, Permissions: perms}
	return in, errors.Join(rerr, perr)
}

func exchange(ctx context.Context, st *runstep.Step, client *brokerclient.Client, in brokerInputs) (*brokerclient.TokenAnswer, error) {
	var last error
	for attempt := 1; attempt <= exchangeAttempts; attempt++ {
		raw, err := st.A.IDToken(ctx, in.audience) // masked before it returns
		if err != nil {
			return nil, fmt.Errorf("request the job's OIDC token: %w", err)
		}
		ans, err := client.Exchange(ctx, raw, in.req)
		if err == nil {
			return ans, nil
		}
		last = err
		if !retryable(err) || attempt == exchangeAttempts {
			break
		}
		wait := time.Duration(attempt) * 500 * time.Millisecond
		st.Infof("jitkey: the broker did not mint (attempt %d of %d): %s; asking again in %s with a fresh OIDC token", attempt, exchangeAttempts, github.Redact(err.Error()), wait)
		select {
		case <-ctx.Done():
			return nil, last
		case <-time.After(wait):
		}
	}
	return nil, last
}

// retryable: a busy or restarting broker, or one not reached.
func retryable(err error) bool {
	var p *brokerclient.Problem
	var unreachable *brokerclient.UnreachableError
	return errors.As(err, &p) && p.Retryable() || errors.As(err, &unreachable)
}

// handOver masks the token, saves the state the post step revokes from and
// sets the outputs, in that order and before anything else is printed.
func handOver(st *runstep.Step, in brokerInputs, a *brokerclient.TokenAnswer) int {
	st.A.AddMask(a.Token)
	exp := a.ExpiresAt.UTC().Format(time.RFC3339)
	steps := []struct{ state, output, value string }{
		{runstep.StateToken, "token", a.Token},
		{runstep.StateBroker, "", in.broker},
		{runstep.StateExpiresAt, "expires-at", exp},
		{runstep.StateSHA, "token-sha256", a.TokenSHA256},
		{runstep.StateAPIURL, "", in.apiURL},
		{runstep.StateRule, "rule", a.Rule},
		{runstep.StateVerified, "", "true"},
		{"", "installation-id", strconv.FormatInt(a.InstallationID, 10)},
		{"", "app-slug", a.AppSlug},
		{"", "repositories", strings.Join(a.Repositories, ",")},
		{"", "permissions", runstep.PermissionLines(a.Permissions)},
	}
	for _, s := range steps {
		if s.state != "" {
			if err := st.SaveState(s.state, s.value); err != nil {
				return handOverFailed(st, a, err)
			}
		}
	}
	for _, s := range steps {
		if s.output != "" {
			if err := st.Output(s.output, s.value); err != nil {
				return handOverFailed(st, a, err)
			}
		}
	}
	rec := audit.NewRecord(st.Env.Now(), "mint", audit.Who{Repository: st.Getenv("GITHUB_REPOSITORY"), Actor: st.Getenv("GITHUB_ACTOR"),
		Ref: st.Getenv("GITHUB_REF"), Verified: true})
	rec.Outcome, rec.Rule, rec.Repositories, rec.Permissions = "minted", a.Rule, a.Repositories, a.Permissions
	rec.InstallationID, rec.TokenSHA256, rec.PolicySHA, rec.ExpiresAt = a.InstallationID, audit.ShortSHA(a.TokenSHA256), a.PolicySHA, &a.ExpiresAt
	if err := st.Audit(rec, in.auditFile); err != nil {
		st.Annotate(action.Error, "jitkey audit failed", github.Redact(err.Error()))
	}
	st.Summary(fmt.Sprintf("### jitkey: token minted by the broker\n\n| | |\n|---|---|\n| Broker | %s |\n| Rule | `%s` |\n| Repositories | %s |\n| Permissions | %s |\n| Expires | %s |\n| Token SHA-256 | `%s…` |\n",
		runstep.MdEscape(in.broker), runstep.MdEscape(a.Rule), runstep.MdEscape(strings.Join(a.Repositories, ", ")),
		runstep.MdEscape(github.FormatPermissions(a.Permissions)), exp, audit.ShortSHA(a.TokenSHA256)))
	st.Infof("jitkey: the broker minted a token: rule %q, %s on %s, expires %s (sha256 %s); it is revoked when the job ends",
		a.Rule, github.FormatPermissions(a.Permissions), strings.Join(a.Repositories, ", "), exp, audit.ShortSHA(a.TokenSHA256))
	if !st.InActions {
		st.PrintOutputs()
	}
	return runstep.ExitOK
}

// handOverFailed revokes a token that could not be handed over.
func handOverFailed(st *runstep.Step, a *brokerclient.TokenAnswer, cause error) int {
	st.Annotate(action.Error, "jitkey mint aborted", "the token could not be handed over ("+github.Redact(cause.Error())+"); revoking it")
	ctx, cancel := context.WithTimeout(context.Background(), revokeBound)
	defer cancel()
	return revokeThroughBroker(ctx, st, github.Secret(a.Token), a.TokenSHA256, "", firstNonEmpty(st.Getenv("GITHUB_API_URL"), "https://api.github.com/"), "")
}

func exchangeFailed(st *runstep.Step, in brokerInputs, err error) int {
	var p *brokerclient.Problem
	rec := audit.NewRecord(st.Env.Now(), "mint", audit.Who{Repository: st.Getenv("GITHUB_REPOSITORY"), Actor: st.Getenv("GITHUB_ACTOR"), Ref: st.Getenv("GITHUB_REF")})
	rec = rec.WithError(err)
	switch {
	case errors.As(err, &p) && p.Denial != nil:
		rec.Outcome, rec.Reason = "denied", p.Denial.Reason
		st.Annotate(action.Error, "jitkey mint denied", "denied by policy: "+p.Denial.Reason)
		var b strings.Builder
		b.WriteString(p.Denial.Reason + "\n")
		for _, nm := range p.Denial.NearMisses {
			fmt.Fprintf(&b, "  rule %q did not match:\n", nm.Rule)
			for _, f := range nm.Failed {
				fmt.Fprintf(&b, "    - %s\n", f)
			}
		}
		st.Infof("%s", b.String())
		st.Summary("### jitkey: denied by the broker\n\n" + runstep.MdEscape(b.String()))
	case errors.As(err, &p):
		rec.ErrorClass = p.Class
		st.Annotate(action.Error, "jitkey mint failed ("+strings.ReplaceAll(p.Class, "_", " ")+")", github.Redact(err.Error()))
		st.Summary("### jitkey: mint failed\n\n" + runstep.MdEscape(github.Redact(err.Error())) + "\n")
	default:
		st.Annotate(action.Error, "jitkey mint failed", github.Redact(err.Error())+"; check the broker input and that the broker is up")
		st.Summary("### jitkey: mint failed\n\n" + runstep.MdEscape(github.Redact(err.Error())) + "\n")
	}
	if aerr := st.Audit(rec, in.auditFile); aerr != nil {
		st.Annotate(action.Error, "jitkey audit failed", github.Redact(aerr.Error()))
	}
	return runstep.ExitFindings
}

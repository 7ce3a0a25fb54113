package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/audit"
	"github.com/jitkey/jitkey/internal/identity"
	"github.com/jitkey/jitkey/internal/ledger"
	"github.com/jitkey/jitkey/internal/mint"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/source"
)

// mintBound is how long a mint may take once GitHub is asked, whatever
// happens to the request: cut short, a token could exist unrecorded.
const mintBound = 30 * time.Second

var (
	repoRE = regexp.MustCompile(`^([A-Za-z0-9-]+/)?[A-Za-z0-9._-]+$`)
	permRE = regexp.MustCompile(`^[a-z][a-z_]*$`)
)

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx := r.Context()
	raw, p := bearer(r)
	var id identity.Identity
	if p == nil {
		id, p = s.verify(ctx, raw)
	}
	if p != nil {
		s.m.Inc("jitkey_broker_exchanges_total", "invalid_token")
		writeProblem(w, p)
		return
	}
	rec := mint.NewRecord(s.o.Now(), "mint", id.Claims)
	if id.TokenID == "" {
		s.refuse(w, rec, &Problem{Status: http.StatusUnauthorized, Class: ClassInvalidToken, Message: "the OIDC token has no jti claim, so it could be replayed",
			Fix: "use GitHub's job OIDC tokens, which carry one"})
		return
	}
	req, p := s.admit(r, id)
	if p != nil {
		s.refuseOnce(ctx, w, rec, id, p)
		return
	}
	in := mint.Input{Claims: id.Claims, Issuer: id.Issuer, Request: policy.Request{Repositories: req.Repositories, Permissions: req.Permissions}}
	if s.o.OrgRepository != "" {
		in.OrgPolicy = source.Location{Repository: id.Claims.RepositoryOwner + "/" + s.o.OrgRepository, Path: source.DefaultPath}
	}
	d, err := s.o.Domain.Decide(ctx, in)
	if err != nil {
		s.refuseOnce(ctx, w, rec, id, policyProblem(err))
		return
	}
	if !d.Decision.Allowed {
		s.refuseOnce(ctx, w, mint.WithError(rec, &mint.DeniedError{Decision: d.Decision, Policies: d.Policies}), id, denialProblem(d.Decision))
		return
	}
	s.exchange(w, r, id, d, rec, start)
}

// replayed is the answer to an OIDC token exchanged before.
var replayed = &Problem{Status: http.StatusConflict, Class: ClassReplayed,
	Message: "this OIDC token was already exchanged; each job token is exchanged at most once",
	Fix:     "request a fresh OIDC token for each exchange"}

// admit refuses what must not reach the policy: a repository over its rate,
// a body that is not a request. The jti is consumed later, with the intent
// (or with the refusal).
func (s *Server) admit(r *http.Request, id identity.Identity) (TokenRequest, *Problem) {
	var req TokenRequest
	if !s.perRepo.allow(repoKey(id)) {
		return req, &Problem{Status: http.StatusTooManyRequests, Class: ClassRateLimited,
			Message: "repository " + id.Claims.Repository + " is over its exchange rate",
			Fix:     "retry after a few seconds with a fresh OIDC token; operators raise limits.repository_rate"}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && !errors.Is(err, errEOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return req, tooLarge(tooBig.Limit)
		}
		return req, &Problem{Status: http.StatusBadRequest, Class: ClassBadRequest, Message: "the body is not a token request: " + clip(err.Error(), 200),
			Fix: `send {"repositories": ["owner/name"], "permissions": {"contents": "read"}} (both optional)`}
	}
	return req, checkRequest(req, id.Claims.RepositoryOwner)
}

func repoKey(id identity.Identity) string { return strings.ToLower(id.Claims.Repository) }

// refuseOnce refuses a verified OIDC token, consuming its jti first: the
// token is not exchanged again whatever the refusal, and a replay is
// answered as one (its rate is given back: a replayed token does not spend
// its repository's rate).
func (s *Server) refuseOnce(ctx context.Context, w http.ResponseWriter, rec mint.Record, id identity.Identity, p *Problem) {
	first, err := s.o.Ledger.ExchangeOnce(ctx, id.Issuer, id.TokenID, id.Expiry)
	switch {
	case err != nil:
		p = ledgerProblem(err)
	case !first:
		if p.Class != ClassRateLimited {
			s.perRepo.refund(repoKey(id))
		}
		p = replayed
	}
	s.refuse(w, rec, p)
}
func checkRequest(req TokenRequest, owner string) *Problem {
	bad := func(msg string) *Problem {
		return &Problem{Status: http.StatusBadRequest, Class: ClassBadRequest, Message: msg,
			Fix: "name repositories as owner/name and permissions as GitHub App permission names with read, write or admin"}
	}
	if len(req.Repositories) > 500 || len(req.Permissions) > 64 {
		return bad("too many repositories (500 at most) or permissions")
	}
	for i, r := range req.Repositories {
		if len(r) > 140 || !repoRE.MatchString(r) {
			return bad(fmt.Sprintf("repository %q is not owner/name", clip(r, 140)))
		}
		if !strings.Contains(r, "/") {
			req.Repositories[i] = owner + "/" + r
		}
	}
	for k, v := range req.Permissions {
		if len(k) > 64 || !permRE.MatchString(k) || (v != "read" && v != "write" && v != "admin") {
			return bad(fmt.Sprintf("permission %q: %q is not a permission name with read, write or admin", clip(k, 64), clip(v, 16)))
		}
	}
	return nil
}

// exchange consumes the OIDC token's jti and records the intent (one
// transaction), mints, records the mint and answers. Past the intent
// nothing cuts it short: a client gone or a shutdown gets the token revoked
// instead of handed over.
func (s *Server) exchange(w http.ResponseWriter, r *http.Request, id identity.Identity, d mint.Decided, rec mint.Record, start time.Time) {
	s.inflight.Add(1)
	defer s.inflight.Done()
	mctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), mintBound)
	defer cancel()
	claims, _ := json.Marshal(claimsRecord(id))
	iid, first, err := s.o.Ledger.ExchangeIntent(mctx, ledger.OIDCToken{Issuer: id.Issuer, JTI: id.TokenID, Expires: id.Expiry},
		ledger.Intent{Job: jobOf(id), Claims: claims, Rule: d.Decision.Rule, PolicyRef: d.PolicySHA(),
			Installation: d.InstallationID, Repositories: d.Decision.Repositories, Permissions: d.Decision.Permissions, RequestedAt: s.o.Now()})
	switch {
	case err != nil:
		s.refuse(w, rec.WithError(err), ledgerProblem(err))
		return
	case !first:
		s.perRepo.refund(repoKey(id))
		s.refuse(w, rec, replayed)
		return
	}
	asked := time.Now()
	g, err := s.o.Domain.MintDecided(mctx, d)
	atGitHub := time.Since(asked)
	if err != nil {
		s.mintFailed(mctx, iid, err)
		s.refuse(w, mint.WithError(rec, err), mintProblem(err))
		return
	}
	rec = mint.WithGrant(rec, g)
	if err := s.o.Ledger.RecordMint(mctx, iid, ledger.Mint{Token: g.Token, MintedAt: s.o.Now(), ExpiresAt: g.ExpiresAt}); err != nil {
		// A token the ledger does not hold cannot be revoked when the job
		// ends: take it back now.
		out, rerr := s.o.Domain.Revoke(mctx, g.Token)
		s.log.Error("ledger refused the mint; the token was revoked", "token_sha256", audit.ShortSHA(g.SHA256), "revoke", string(out), "revoke_error", errText(rerr), "error", errText(err))
		s.refuse(w, rec.WithError(err), ledgerProblem(err))
		return
	}
	added := time.Since(start) - atGitHub
	s.m.Observe("jitkey_broker_exchange_added_seconds", added)
	w.Header().Set("Server-Timing", serverTiming(added, atGitHub))
	if r.Context().Err() != nil || s.answer(w, g) != nil {
		s.undelivered(mctx, g, rec)
		return
	}
	s.m.Inc("jitkey_broker_exchanges_total", "minted")
	s.audit(rec)
}

// serverTiming is the Server-Timing header of an exchange: the broker's own
// time and the mint's round trip to GitHub, in milliseconds.
func serverTiming(broker, github time.Duration) string {
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 3, 64) }
	return "broker;dur=" + ms(broker) + ", github;dur=" + ms(github)
}

func (s *Server) answer(w http.ResponseWriter, g *mint.Grant) error {
	return writeJSON(w, http.StatusOK, TokenAnswer{Token: g.Token.Reveal(), ExpiresAt: g.ExpiresAt.UTC(), InstallationID: g.InstallationID,
		AppSlug: g.AppSlug, Repositories: g.Repositories, Permissions: g.Permissions, Rule: g.Decision.Rule,
		TokenSHA256: g.SHA256, PolicySHA: g.PolicySHA()})
}

// undelivered revokes a token whose answer could not reach the job.
func (s *Server) undelivered(ctx context.Context, g *mint.Grant, rec mint.Record) {
	out, err := s.o.Domain.Revoke(ctx, g.Token)
	if err == nil {
		_, err = s.o.Ledger.MarkRevoked(ctx, g.SHA256, ledger.Revocation{By: "broker:undelivered", At: s.o.Now()})
		s.m.Inc("jitkey_broker_revocations_total", "broker")
	}
	s.m.Inc("jitkey_broker_exchanges_total", "undelivered")
	s.log.Warn("the job left before its token was handed over; the token was revoked", "token_sha256", audit.ShortSHA(g.SHA256), "revoke", string(out), "error", errText(err))
	rec.Outcome = "revoked_undelivered"
	s.audit(rec)
}

// mintFailed closes the intent of a mint that failed. A lost answer stays
// open (dangling) unless the token it held was recovered and revoked:
// GitHub may hold a token the ledger never saw, and the operator is told.
func (s *Server) mintFailed(ctx context.Context, iid ledger.IntentID, err error) {
	var lost *mint.LostTokenError
	if errors.As(err, &lost) && (!lost.Recovered || lost.RevokeErr != nil) {
		s.log.Error("mint answer lost: GitHub may hold a token the ledger never saw; the intent stays dangling", "intent", int64(iid), "error", errText(err))
		return
	}
	if ferr := s.o.Ledger.RecordFailure(ctx, iid, clip(errText(err), 500), s.o.Now()); ferr != nil {
		s.log.Error("record a failed mint", "intent", int64(iid), "error", errText(ferr))
	}
}

func (s *Server) refuse(w http.ResponseWriter, rec mint.Record, p *Problem) {
	outcome := map[string]string{ClassReplayed: "replayed", ClassRateLimited: "rate_limited", ClassBadRequest: "bad_request",
		ClassTooLarge: "bad_request", ClassDenied: "denied"}[p.Class]
	if outcome == "" {
		outcome = "error"
	}
	s.m.Inc("jitkey_broker_exchanges_total", outcome)
	if rec.Outcome == "" {
		rec.Outcome, rec.ErrorClass, rec.Error = outcome, p.Class, p.Message
	}
	s.audit(rec)
	writeProblem(w, p)
}

func (s *Server) audit(rec mint.Record) { s.log.Info("audit", "record", rec) }

// claimsRecord is what the ledger keeps of the job's identity.
func claimsRecord(id identity.Identity) map[string]any {
	c := id.Claims
	return map[string]any{"iss": id.Issuer, "sub": c.Subject, "repository": c.Repository, "repository_id": id.RepositoryID,
		"repository_owner": c.RepositoryOwner, "repository_owner_id": id.RepositoryOwnerID, "ref": c.Ref, "ref_protected": c.RefProtected,
		"workflow_ref": c.WorkflowRef, "job_workflow_ref": c.JobWorkflowRef, "environment": c.Environment, "event_name": c.EventName,
		"actor": c.Actor, "runner_environment": c.RunnerEnvironment, "run_id": id.RunID, "run_attempt": id.RunAttempt,
		"check_run_id": id.CheckRunID, "jti": id.TokenID}
}

func denialProblem(d policy.Decision) *Problem {
	den := &Denial{Reason: d.Reason}
	for _, nm := range d.NearMisses {
		den.NearMisses = append(den.NearMisses, NearMiss{Rule: nm.Rule, Failed: nm.Failed})
	}
	return &Problem{Status: http.StatusForbidden, Class: ClassDenied, Message: "denied by policy: " + d.Reason,
		Fix: "the near misses say which conditions failed; change the job or the policy on the default branch", Denial: den}
}

func policyProblem(err error) *Problem {
	var inv *mint.PolicyInvalidError
	if errors.As(err, &inv) {
		return &Problem{Status: http.StatusUnprocessableEntity, Class: ClassPolicy, Message: errText(err),
			Fix: "fix the policy on the default branch (jitkey validate shows each error)"}
	}
	var rd *mint.PolicyReadError
	if errors.As(err, &rd) {
		p := gitHubProblem(rd.Err)
		p.Message = errText(err)
		return p
	}
	return gitHubProblem(err)
}

func mintProblem(err error) *Problem {
	var lost *mint.LostTokenError
	var wide *mint.ScopeMismatchError
	switch {
	case errors.As(err, &lost):
		return &Problem{Status: http.StatusBadGateway, Class: ClassMintIncomplete, Message: errText(err), Fix: "retry the job; the operator is told of any token GitHub may hold"}
	case errors.As(err, &wide):
		return &Problem{Status: http.StatusBadGateway, Class: "scope_mismatch", Message: errText(err), Fix: "report this: GitHub granted more than the policy allowed"}
	}
	return gitHubProblem(err)
}

func ledgerProblem(err error) *Problem {
	return &Problem{Status: http.StatusServiceUnavailable, Class: ClassLedger, Message: "the ledger did not answer; nothing was minted: " + errText(err),
		Fix: "retry in a moment; operators check the ledger's database"}
}

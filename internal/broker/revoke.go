package broker

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"sync"

	"github.com/jitkey/jitkey/internal/audit"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/ledger"
	"github.com/jitkey/jitkey/internal/revocation"
)

var shaRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	cred, p := bearer(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	if looksJWT(cred) {
		s.revokeForJob(w, r, cred)
		return
	}
	// The bearer is the installation token itself: whoever holds it may
	// revoke it.
	tok := github.Secret(cred)
	sha := audit.SHA256Hex(cred)
	s.finishRevoke(r.Context(), w, tok, sha, "job")
}

// revokeForJob revokes one of the job's own tokens, named by its SHA-256,
// for a job that holds its OIDC token but no longer the token.
func (s *Server) revokeForJob(w http.ResponseWriter, r *http.Request, raw string) {
	ctx := r.Context()
	id, p := s.verify(ctx, raw)
	if p != nil {
		writeProblem(w, p)
		return
	}
	var req RevokeRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !shaRE.MatchString(req.TokenSHA256) {
		writeProblem(w, &Problem{Status: http.StatusBadRequest, Class: ClassBadRequest, Message: "the body does not name a token by its SHA-256",
			Fix: `send {"token_sha256": "<64 hex digits>"} (the token-sha256 output)`})
		return
	}
	job := jobOf(id)
	live, err := s.o.Ledger.LiveTokensForRun(ctx, job.Repository, job.RunID)
	if err != nil {
		writeProblem(w, ledgerProblem(err))
		return
	}
	for _, lt := range live {
		if lt.SHA256 == req.TokenSHA256 {
			s.finishRevoke(ctx, w, lt.Token, lt.SHA256, "job")
			return
		}
	}
	e, err := s.o.Ledger.Get(ctx, req.TokenSHA256)
	switch {
	case err == nil && e.Intent.Job.Repository == job.Repository && e.Intent.Job.RunID == job.RunID:
		_ = writeJSON(w, http.StatusOK, RevokeAnswer{Outcome: "already_revoked", TokenSHA256: req.TokenSHA256, Recorded: true})
	case err == nil || errors.Is(err, ledger.ErrNotFound):
		writeProblem(w, &Problem{Status: http.StatusNotFound, Class: ClassNotYours, Message: "this job's run holds no token with that SHA-256",
			Fix: "a job revokes only the tokens minted for its own run"})
	default:
		writeProblem(w, ledgerProblem(err))
	}
}

func (s *Server) finishRevoke(ctx context.Context, w http.ResponseWriter, tok github.Secret, sha, by string) {
	out, recorded, err := s.revokeOne(ctx, tok, sha, by)
	if err != nil {
		p := gitHubProblem(err)
		p.Message = "revoke the token (sha256 " + audit.ShortSHA(sha) + "): " + p.Message
		writeProblem(w, p)
		return
	}
	_ = writeJSON(w, http.StatusOK, RevokeAnswer{Outcome: string(out), TokenSHA256: sha, Recorded: recorded})
}

// revokeOne revokes a token at GitHub and records it; recorded is false when
// the ledger does not know the token.
func (s *Server) revokeOne(ctx context.Context, tok github.Secret, sha, by string) (revocation.Outcome, bool, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mintBound)
	defer cancel()
	out, err := s.o.Domain.Revoke(rctx, tok)
	rec := audit.NewRecord(s.o.Now(), "revoke", audit.Who{})
	rec.TokenSHA256, rec.Reason = audit.ShortSHA(sha), "by "+by
	if err != nil {
		s.audit(rec.WithError(err))
		return out, false, err
	}
	first, lerr := s.o.Ledger.MarkRevoked(rctx, sha, ledger.Revocation{By: by, At: s.o.Now()})
	recorded := lerr == nil
	if lerr != nil && !errors.Is(lerr, ledger.ErrNotFound) {
		s.log.Error("record a revocation", "token_sha256", audit.ShortSHA(sha), "error", errText(lerr))
	}
	if first {
		s.m.Inc("jitkey_broker_revocations_total", by)
	}
	rec.Outcome = string(out)
	if lerr != nil {
		rec.Error = "not in the ledger"
	}
	s.audit(rec)
	return out, recorded, nil
}

// revokeAll revokes live tokens concurrently (a run may hold many) and
// reports how many were revoked and the first error.
func (s *Server) revokeAll(ctx context.Context, live []ledger.LiveToken, by string) (int, error) {
	var (
		mu    sync.Mutex
		n     int
		first error
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, 8)
	for _, lt := range live {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, _, err := s.revokeOne(ctx, lt.Token, lt.SHA256, by)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				first = cmpErr(first, err)
				return
			}
			n++
		})
	}
	wg.Wait()
	return n, first
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// RevokeLive revokes live tokens and records who revoked them: the
// webhooks' path, which the sweeper shares.
func (s *Server) RevokeLive(ctx context.Context, live []ledger.LiveToken, by string) (int, error) {
	return s.revokeAll(ctx, live, by)
}

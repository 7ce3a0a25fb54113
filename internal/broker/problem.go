package broker

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/jitkey/jitkey/internal/brokerclient"
	"github.com/jitkey/jitkey/internal/github"
)

// The API's wire types are package brokerclient's, the job's side, which
// links no policy engine.
type (
	Problem       = brokerclient.Problem
	Denial        = brokerclient.Denial
	NearMiss      = brokerclient.NearMiss
	TokenRequest  = brokerclient.TokenRequest
	TokenAnswer   = brokerclient.TokenAnswer
	RevokeRequest = brokerclient.RevokeRequest
	RevokeAnswer  = brokerclient.RevokeAnswer
)

// The classes of the broker's own refusals; GitHub's come from package github.
const (
	ClassNoToken        = "missing_token"
	ClassInvalidToken   = "invalid_oidc_token"
	ClassIssuer         = "issuer_not_allowed"
	ClassReplayed       = "oidc_token_replayed"
	ClassRateLimited    = "rate_limited"
	ClassBadRequest     = "bad_request"
	ClassTooLarge       = "body_too_large"
	ClassDenied         = "denied"
	ClassPolicy         = "policy_error"
	ClassLedger         = "ledger_unavailable"
	ClassBadSignature   = "bad_signature"
	ClassNotYours       = "not_your_token"
	ClassUnknownToken   = "unknown_token"
	ClassShuttingDown   = "shutting_down"
	ClassInternal       = "internal"
	ClassTimeout        = "timeout"
	ClassMintIncomplete = "mint_incomplete"
)

func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if p.Status == http.StatusTooManyRequests || p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(map[string]*Problem{"error": p})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// gitHubProblem turns a GitHub error into a problem with its class and fix.
func gitHubProblem(err error) *Problem {
	p := &Problem{Status: http.StatusBadGateway, Class: ClassInternal, Message: github.Redact(err.Error())}
	if e, ok := github.AsError(err); ok {
		p.Class, p.Fix = string(e.Class), e.Fix
		if p.Fix == "" {
			p.Fix = github.FixFor(e.Class)
		}
		switch e.Class {
		case github.ClassPermissionNotGranted, github.ClassRepositoryNotAccessible, github.ClassNotInstalled, github.ClassValidation, github.ClassNotFound:
			p.Status = http.StatusUnprocessableEntity
		}
	}
	var pr *Problem
	if errors.As(err, &pr) {
		return pr
	}
	return p
}

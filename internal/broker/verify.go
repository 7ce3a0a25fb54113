package broker

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/identity"
	"github.com/jitkey/jitkey/internal/ledger"
)

// bearer is the Authorization header's bearer credential.
func bearer(r *http.Request) (string, *Problem) {
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(cred) == "" {
		return "", &Problem{Status: http.StatusUnauthorized, Class: ClassNoToken,
			Message: "no bearer credential in the Authorization header",
			Fix:     "send the job's OIDC token (requested with this broker's URL as audience) as 'Authorization: Bearer <token>'"}
	}
	return strings.TrimSpace(cred), nil
}

// looksJWT tells a JWT (three dot-separated parts) from an installation
// token, which a stateless one (ghs_APPID_JWT) also has.
func looksJWT(s string) bool { return !github.IsToken(s) && strings.Count(s, ".") == 2 }

// verify checks a job's OIDC token: an issuer on the allowlist, its
// signature, this broker as audience, expiry. It does not consume the jti.
// The token is read once: its issuer chooses the verifier, which checks it.
func (s *Server) verify(ctx context.Context, raw string) (identity.Identity, *Problem) {
	tok, err := identity.Parse(raw)
	if err != nil || tok.Issuer() == "" {
		msg := "the bearer credential is not a JWT with an issuer"
		if err != nil && looksJWT(raw) {
			msg = err.Error()
		}
		return identity.Identity{}, &Problem{Status: http.StatusUnauthorized, Class: ClassInvalidToken,
			Message: msg, Fix: "send the job's OIDC token"}
	}
	iss := tok.Issuer()
	v := s.verifierFor(iss)
	if v == nil {
		return identity.Identity{}, &Problem{Status: http.StatusUnauthorized, Class: ClassIssuer,
			Message: "issuer " + strconv.Quote(clip(iss, 200)) + " is not on this broker's allowlist",
			Fix:     "run the job on a GitHub this broker trusts, or have the operator add the issuer to issuers"}
	}
	id, err := v.VerifyToken(ctx, tok, s.o.Audience)
	if err != nil {
		return identity.Identity{}, &Problem{Status: http.StatusUnauthorized, Class: ClassInvalidToken, Message: err.Error(),
			Fix: "request the OIDC token with audience " + strconv.Quote(s.o.Audience) + " just before the exchange ('permissions: id-token: write')"}
	}
	return id, nil
}

func (s *Server) verifierFor(iss string) *identity.Verifier {
	if v := s.verifiers[iss]; v != nil {
		return v
	}
	// github.com's verifier also admits an enterprise's custom issuer.
	if v := s.verifiers[identity.GitHubIssuer]; v != nil && strings.HasPrefix(iss, identity.GitHubIssuer+"/") {
		return v
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// jobOf is the ledger's job for verified claims.
func jobOf(id identity.Identity) ledger.Job {
	n := func(s string) int64 {
		v, _ := strconv.ParseInt(s, 10, 64)
		return v
	}
	return ledger.Job{Repository: id.Claims.Repository, RunID: n(id.RunID), RunAttempt: n(id.RunAttempt), CheckRunID: n(id.CheckRunID)}
}

package broker

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/jitkey/jitkey/internal/ledger"
)

// hookEvent is the part of the webhook payloads the broker reads.
type hookEvent struct {
	Action string `json:"action"`
	Job    *struct {
		ID         int64 `json:"id"`
		RunID      int64 `json:"run_id"`
		RunAttempt int64 `json:"run_attempt"`
	} `json:"workflow_job"`
	Run *struct {
		ID         int64 `json:"id"`
		RunAttempt int64 `json:"run_attempt"`
	} `json:"workflow_run"`
	Repository struct {
		FullName      string `json:"full_name"`
		DefaultBranch string `json:"default_branch"`
	} `json:"repository"`
	Ref     string `json:"ref"`
	Commits []struct {
		Added    []string `json:"added"`
		Modified []string `json:"modified"`
		Removed  []string `json:"removed"`
	} `json:"commits"`
}

// HookAnswer says what a delivery did.
type HookAnswer struct {
	Event   string `json:"event"`
	Revoked int    `json:"revoked"`
	Note    string `json:"note,omitempty"`
}

func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	event := r.Header.Get("X-GitHub-Event")
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.m.Inc("jitkey_broker_webhooks_total", clip(event, 40), "too_large")
			writeProblem(w, tooLarge(tooBig.Limit))
			return
		}
		writeProblem(w, &Problem{Status: http.StatusBadRequest, Class: ClassBadRequest, Message: "read the body: " + errText(err)})
		return
	}
	signed, previous := s.signedByGitHub(r.Header.Get("X-Hub-Signature-256"), body)
	if !signed {
		s.m.Inc("jitkey_broker_webhooks_total", "", "bad_signature")
		s.log.Warn("webhook refused: bad signature", "delivery", clip(r.Header.Get("X-GitHub-Delivery"), 64), "event", clip(event, 40))
		writeProblem(w, &Problem{Status: http.StatusUnauthorized, Class: ClassBadSignature,
			Message: "X-Hub-Signature-256 is missing or does not match the body",
			Fix:     "set the same webhook secret on the GitHub App and in the broker's webhook_secret"})
		return
	}
	if previous {
		// Counted so the operator knows when GitHub stopped using it.
		s.m.Inc("jitkey_broker_webhooks_total", clip(event, 40), "previous_secret")
	}
	var ev hookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		writeProblem(w, &Problem{Status: http.StatusBadRequest, Class: ClassBadRequest, Message: "the payload is not JSON"})
		return
	}
	ans := HookAnswer{Event: event}
	switch {
	case event == "workflow_job" && ev.Action == "completed" && ev.Job != nil:
		job := ledger.Job{Repository: ev.Repository.FullName, RunID: ev.Job.RunID, RunAttempt: ev.Job.RunAttempt, CheckRunID: ev.Job.ID}
		live, lerr := s.o.Ledger.LiveTokensForJob(r.Context(), job)
		err = lerr
		if err == nil {
			ans.Revoked, err = s.revokeAll(r.Context(), live, "webhook:workflow_job")
		}
	case event == "workflow_run" && ev.Action == "completed" && ev.Run != nil:
		live, lerr := s.o.Ledger.LiveTokensForRun(r.Context(), ev.Repository.FullName, ev.Run.ID)
		err = lerr
		if err == nil {
			ans.Revoked, err = s.revokeAll(r.Context(), attemptsUpTo(live, ev.Run.RunAttempt), "webhook:workflow_run")
		}
	case event == "push":
		ans.Note = s.push(ev)
	default:
		ans.Note = "ignored"
	}
	result := "ok"
	if err != nil {
		result = "error"
		s.log.Error("webhook: revoke", "event", event, "delivery", clip(r.Header.Get("X-GitHub-Delivery"), 64), "error", errText(err))
	}
	s.m.Inc("jitkey_broker_webhooks_total", clip(event, 40), result)
	if err != nil {
		// GitHub does not redeliver on its own; the sweeper finds what is left.
		writeProblem(w, &Problem{Status: http.StatusInternalServerError, Class: ClassInternal, Message: "revoked " + itoa(ans.Revoked) + " token(s), then: " + errText(err),
			Fix: "the sweeper revokes what is left; check the broker's log"})
		return
	}
	_ = writeJSON(w, http.StatusOK, ans)
}

// signedByGitHub checks X-Hub-Signature-256 in constant time against the
// webhook secret and, while it is being rotated out, the previous one;
// previous reports that only the previous secret verified.
func (s *Server) signedByGitHub(sig string, body []byte) (ok, previous bool) {
	hexSig, found := strings.CutPrefix(sig, "sha256=")
	if !found {
		return false, false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false, false
	}
	current := hmacEqual(s.o.WebhookSecret, body, got)
	old := len(s.o.PreviousWebhookSecret) > 0 && hmacEqual(s.o.PreviousWebhookSecret, body, got)
	return current || old, old && !current
}

func hmacEqual(secret, body, sig []byte) bool {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(sig, mac.Sum(nil))
}

// attemptsUpTo keeps the tokens of a run's attempts up to n: a re-run's
// later attempt is not ended by an earlier one completing.
func attemptsUpTo(live []ledger.LiveToken, n int64) []ledger.LiveToken {
	var out []ledger.LiveToken
	for _, lt := range live {
		if n == 0 || lt.Job.RunAttempt <= n {
			out = append(out, lt)
		}
	}
	return out
}

// push invalidates a repository's cached policies when a push to its
// default branch touched a policy path.
func (s *Server) push(ev hookEvent) string {
	if s.o.Policies == nil || ev.Repository.FullName == "" {
		return "no policy cache"
	}
	if ev.Ref != "refs/heads/"+ev.Repository.DefaultBranch {
		return "not the default branch"
	}
	for _, c := range ev.Commits {
		for _, list := range [][]string{c.Added, c.Modified, c.Removed} {
			for _, p := range list {
				if s.policyPath(p) {
					s.o.Policies.Invalidate(ev.Repository.FullName)
					return "policy cache invalidated"
				}
			}
		}
	}
	return "no policy file changed"
}

func (s *Server) policyPath(p string) bool {
	for _, prefix := range s.o.PolicyPaths {
		if p == prefix || strings.HasPrefix(p, strings.TrimSuffix(prefix, "/")+"/") {
			return true
		}
	}
	return false
}

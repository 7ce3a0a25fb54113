package github

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
)

// RunStatus is where a workflow run attempt or a job is: "queued",
// "in_progress", "completed" (and GitHub's other waiting states), with the
// conclusion once completed.
type RunStatus struct {
	Status     string `json:"status"`
	Conclusion string `json:"conclusion"`
}

// Completed reports whether the run attempt or job has ended.
func (s RunStatus) Completed() bool { return s.Status == "completed" }

// WorkflowJob reads a job (actions:read): GET /repos/{owner}/{repo}/actions/jobs/{job_id}.
// A job's ID is its check run's ID, the check_run_id claim of its OIDC tokens.
func (c *Client) WorkflowJob(ctx context.Context, owner, repo string, jobID int64) (RunStatus, error) {
	var s RunStatus
	_, err := c.Do(ctx, fmt.Sprintf("read job %d of %s/%s", jobID, owner, repo), http.MethodGet,
		"repos/"+seg(owner)+"/"+seg(repo)+"/actions/jobs/"+strconv.FormatInt(jobID, 10), nil, &s)
	return s, err
}

// WorkflowRunAttempt reads one attempt of a workflow run (actions:read):
// GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}.
func (c *Client) WorkflowRunAttempt(ctx context.Context, owner, repo string, runID, attempt int64) (RunStatus, error) {
	var s RunStatus
	_, err := c.Do(ctx, fmt.Sprintf("read run %d attempt %d of %s/%s", runID, attempt, owner, repo), http.MethodGet,
		"repos/"+seg(owner)+"/"+seg(repo)+"/actions/runs/"+strconv.FormatInt(runID, 10)+"/attempts/"+strconv.FormatInt(attempt, 10), nil, &s)
	return s, err
}

// CreateReadToken mints a token on the whole installation with read-only
// permissions, for a service's own reads (a broker reading policies and
// asking whether jobs ended); it is never handed to a job. perms must all be
// "read".
func (c *Client) CreateReadToken(ctx context.Context, installationID int64, perms map[string]string) (*InstallationToken, error) {
	op := fmt.Sprintf("mint a read token on installation %d", installationID)
	for k, v := range perms {
		if v != "read" {
			return nil, &Error{Class: ClassValidation, Op: op, Message: "a read token asks only for read: " + k + " is " + v}
		}
	}
	if len(perms) == 0 {
		return nil, &Error{Class: ClassValidation, Op: op, Message: "a read token needs explicit permissions"}
	}
	var tok InstallationToken
	_, err := c.Do(RetrySafe(ctx), op, http.MethodPost, "app/installations/"+strconv.FormatInt(installationID, 10)+"/access_tokens",
		map[string]any{"permissions": perms}, &tok)
	if err != nil {
		return nil, err
	}
	if tok.Token == "" || tok.ExpiresAt.IsZero() {
		return nil, &Error{Class: ClassInvalidAnswer, Op: op, Message: "the answer has no token or expiry", Fix: fixes[ClassInvalidAnswer]}
	}
	return &tok, nil
}

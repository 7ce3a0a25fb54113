// Package broker is the HTTP edge of `jitkey serve`: it exchanges a job's
// OIDC token for a policy-scoped installation token, revokes tokens when
// their job ends (the job's post step, or GitHub's workflow_job and
// workflow_run webhooks), and serves health and Prometheus metrics.
//
// Handlers only translate: they verify and decode the request, call the one
// decision path the in-job mint also uses (decide, mint, check the answer),
// record in the ledger (the intent before GitHub is asked, the mint after),
// and encode the answer. Limits, timeouts, logging and metrics are
// middleware around them. A secret never reaches a log line, an error text
// or an answer other than the one that hands the token to its job.
//
// Routes:
//
//	POST /v1/token    Authorization: Bearer <job OIDC token>; {"repositories": [...], "permissions": {...}}
//	POST /v1/revoke   Authorization: Bearer <the installation token>, or Bearer <job OIDC token> with {"token_sha256": "..."}
//	POST /v1/webhook  GitHub App webhooks (X-Hub-Signature-256)
//	GET  /healthz     the process answers
//	GET  /readyz      the ledger answers and the server is not shutting down
//	GET  /metrics     Prometheus text exposition
package broker

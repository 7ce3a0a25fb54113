package ghsim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Workflow runs and their jobs, driven by the test: StartRun queues a run
// whose jobs are in progress, CompleteJob ends one job (and the run with its
// last job), RerunRun starts a new attempt. Each change delivers the
// workflow_job or workflow_run webhook GitHub would send to the App's
// webhook URL (see SetAppWebhook), and the runs/jobs API answers with the
// state. A job's ID is also its check run's ID, as on GitHub, and it is the
// check_run_id claim of the job's OIDC tokens (RunClaims).

// RunSpec describes a workflow run to start.
type RunSpec struct {
	Repo     string   // "owner/name"; must exist
	Workflow string   // file under .github/workflows; default "ci.yml"
	Event    string   // default "push"
	Branch   string   // head branch; default the repository's default branch
	Jobs     []string // job names; default one job "build"
}

// Run identifies a workflow run attempt and its jobs.
type Run struct {
	ID      int64
	Attempt int
	Repo    string
	Jobs    []Job
}

// Job identifies a job of a run attempt. ID is also its check run ID.
type Job struct {
	ID   int64
	Name string
}

type workflowRun struct {
	id         int64
	number     int64
	repo       *repo
	workflow   string
	event      string
	branch     string
	sha        string
	attempt    int
	status     string // queued, in_progress, completed
	conclusion string
	created    time.Time
	updated    time.Time
	started    time.Time
	jobs       map[int][]*workflowJob // by attempt
}

type workflowJob struct {
	id         int64
	run        *workflowRun
	attempt    int
	name       string
	status     string
	conclusion string
	started    time.Time
	completed  *time.Time
}

// actionsState holds the runs and jobs; guarded by Sim.mu, maps made on first use.
type actionsState struct {
	runs   map[int64]*workflowRun
	jobs   map[int64]*workflowJob
	number int64
}

func (s *Sim) actionsRoutes() {
	s.handle("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}", s.getRun)
	s.handle("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}", s.getRunAttempt)
	s.handle("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}/jobs", s.listAttemptJobs)
	s.handle("GET", "/repos/{owner}/{repo}/actions/jobs/{job_id}", s.getJob)
}

// StartRun starts a run (attempt 1) with its jobs in progress. It panics when
// the repository does not exist.
func (s *Sim) StartRun(spec RunSpec) Run {
	s.mu.Lock()
	owner, name, _ := strings.Cut(spec.Repo, "/")
	r := s.mustRepo(owner, name)
	if s.act.runs == nil {
		s.act.runs, s.act.jobs = map[int64]*workflowRun{}, map[int64]*workflowJob{}
	}
	s.act.number++
	now := s.Now()
	wr := &workflowRun{id: s.newID(), number: s.act.number, repo: r, workflow: or(spec.Workflow, "ci.yml"),
		event: or(spec.Event, "push"), branch: or(spec.Branch, r.DefaultBranch), sha: gitBlobSHA([]byte(r.FullName() + now.String())),
		created: now, jobs: map[int][]*workflowJob{}}
	s.act.runs[wr.id] = wr
	run := s.startAttempt(wr, spec.Jobs)
	s.mu.Unlock()
	return run
}

// RerunRun starts the next attempt of a completed run with the same jobs.
func (s *Sim) RerunRun(runID int64) (Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wr := s.act.runs[runID]
	if wr == nil {
		return Run{}, fmt.Errorf("ghsim: no run %d", runID)
	}
	if wr.status != "completed" {
		return Run{}, fmt.Errorf("ghsim: run %d is %s; only a completed run can be re-run", runID, wr.status)
	}
	var names []string
	for _, j := range wr.jobs[wr.attempt] {
		names = append(names, j.name)
	}
	return s.startAttempt(wr, names), nil
}

// startAttempt starts the next attempt of wr. Callers hold s.mu.
func (s *Sim) startAttempt(wr *workflowRun, names []string) Run {
	if len(names) == 0 {
		names = []string{"build"}
	}
	now := s.Now()
	wr.attempt++
	wr.status, wr.conclusion, wr.started, wr.updated = "in_progress", "", now, now
	out := Run{ID: wr.id, Attempt: wr.attempt, Repo: wr.repo.FullName()}
	for _, n := range names {
		j := &workflowJob{id: s.newID(), run: wr, attempt: wr.attempt, name: n, status: "in_progress", started: now}
		wr.jobs[wr.attempt] = append(wr.jobs[wr.attempt], j)
		s.act.jobs[j.id] = j
		out.Jobs = append(out.Jobs, Job{ID: j.id, Name: n})
	}
	return out
}

// CompleteJob ends a job with conclusion ("success", "failure", "cancelled",
// ...) and delivers the workflow_job "completed" webhook; when it was the
// attempt's last job, the run completes too and workflow_run "completed"
// follows. It returns the deliveries made (none when webhooks are dropped or
// no webhook URL is set).
func (s *Sim) CompleteJob(jobID int64, conclusion string) ([]Delivery, error) {
	s.mu.Lock()
	j := s.act.jobs[jobID]
	if j == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("ghsim: no job %d", jobID)
	}
	if j.status == "completed" {
		s.mu.Unlock()
		return nil, fmt.Errorf("ghsim: job %d already completed", jobID)
	}
	now := s.Now()
	j.status, j.conclusion, j.completed = "completed", or(conclusion, "success"), &now
	wr := j.run
	wr.updated = now
	events := []pendingEvent{{name: "workflow_job", payload: s.workflowJobEvent(j)}}
	if j.attempt == wr.attempt && allCompleted(wr.jobs[wr.attempt]) {
		wr.status, wr.conclusion = "completed", runConclusion(wr.jobs[wr.attempt])
		events = append(events, pendingEvent{name: "workflow_run", payload: s.workflowRunEvent(wr)})
	}
	s.mu.Unlock()
	var out []Delivery
	for _, e := range events {
		if d, ok := s.deliver(e.name, e.payload); ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// RunClaims is JobClaims for a job of a run: run_id, run_attempt,
// run_number, workflow, event and ref of the run, and check_run_id the job's ID.
func (s *Sim) RunClaims(run Run, job Job) map[string]any {
	c := s.JobClaims(run.Repo)
	s.mu.Lock()
	defer s.mu.Unlock()
	wr := s.act.runs[run.ID]
	if wr == nil {
		panic(fmt.Sprintf("ghsim: RunClaims: no run %d", run.ID))
	}
	ref := "refs/heads/" + wr.branch
	wf := wr.repo.FullName() + "/.github/workflows/" + wr.workflow + "@" + ref
	c["run_id"], c["run_attempt"], c["run_number"] = itoa(wr.id), strconv.Itoa(run.Attempt), itoa(wr.number)
	c["check_run_id"] = itoa(job.ID)
	c["ref"], c["event_name"], c["sha"] = ref, wr.event, wr.sha
	c["workflow"], c["workflow_ref"], c["job_workflow_ref"] = strings.TrimSuffix(wr.workflow, ".yml"), wf, wf
	c["sub"] = SubjectLegacy(c)
	return c
}

func allCompleted(jobs []*workflowJob) bool {
	for _, j := range jobs {
		if j.status != "completed" {
			return false
		}
	}
	return true
}

func runConclusion(jobs []*workflowJob) string {
	for _, j := range jobs {
		if j.conclusion != "success" && j.conclusion != "skipped" {
			return j.conclusion
		}
	}
	return "success"
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// findRun looks the run up in the path's repository for the calling token
// (actions:read). Callers must not hold s.mu.
func (c *call) findRun() (*workflowRun, bool) {
	r, ok := c.repoFor("actions", "read")
	if !ok {
		return nil, false
	}
	id, ok := c.pathInt("run_id")
	c.s.mu.Lock()
	wr := c.s.act.runs[id]
	c.s.mu.Unlock()
	if !ok || wr == nil || wr.repo != r {
		c.notFound()
		return nil, false
	}
	return wr, true
}

func (s *Sim) getRun(c *call) {
	wr, ok := c.findRun()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c.json(http.StatusOK, c.runJSON(wr, wr.attempt))
}

// findAttempt is findRun and the path's attempt, which must have run.
func (c *call) findAttempt() (*workflowRun, int, bool) {
	wr, ok := c.findRun()
	if !ok {
		return nil, 0, false
	}
	n, ok := c.pathInt("attempt_number")
	c.s.mu.Lock()
	ran := ok && wr.jobs[int(n)] != nil
	c.s.mu.Unlock()
	if !ran {
		c.notFound()
		return nil, 0, false
	}
	return wr, int(n), true
}

func (s *Sim) getRunAttempt(c *call) {
	wr, n, ok := c.findAttempt()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c.json(http.StatusOK, c.runJSON(wr, n))
}

func (s *Sim) listAttemptJobs(c *call) {
	wr, n, ok := c.findAttempt()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]obj, 0, len(wr.jobs[n]))
	for _, j := range wr.jobs[n] {
		list = append(list, c.jobJSON(j))
	}
	c.json(http.StatusOK, obj{"total_count": len(list), "jobs": list})
}

func (s *Sim) getJob(c *call) {
	r, ok := c.repoFor("actions", "read")
	if !ok {
		return
	}
	id, ok := c.pathInt("job_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.act.jobs[id]
	if !ok || j == nil || j.run.repo != r {
		c.notFound()
		return
	}
	c.json(http.StatusOK, c.jobJSON(j))
}

// attemptStatus is the status and conclusion of an attempt: the run's own
// for the latest, else what its jobs ended with. Callers hold s.mu.
func (wr *workflowRun) attemptStatus(n int) (string, any) {
	if n == wr.attempt {
		return wr.status, nullable(wr.conclusion)
	}
	return "completed", runConclusion(wr.jobs[n])
}

// runJSON renders a workflow-run. Callers hold s.mu.
func (c *call) runJSON(wr *workflowRun, attempt int) obj {
	base := "/repos/" + wr.repo.FullName() + "/actions/runs/" + itoa(wr.id)
	u := c.apiURL(base)
	status, conclusion := wr.attemptStatus(attempt)
	repo := c.repoJSON(wr.repo)
	return obj{
		"id": wr.id, "node_id": nodeID("WFR", wr.id), "name": strings.TrimSuffix(wr.workflow, ".yml"),
		"head_branch": wr.branch, "head_sha": wr.sha, "path": ".github/workflows/" + wr.workflow,
		"display_title": "simulated run " + itoa(wr.number), "run_number": wr.number, "run_attempt": attempt,
		"event": wr.event, "status": status, "conclusion": conclusion, "workflow_id": wr.repo.ID*10 + 1,
		"check_suite_id": wr.id + 1, "check_suite_node_id": nodeID("CS", wr.id+1),
		"url": u, "html_url": c.webURL("/" + wr.repo.FullName() + "/actions/runs/" + itoa(wr.id)),
		"pull_requests": []obj{}, "created_at": ts(wr.created), "updated_at": ts(wr.updated),
		"run_started_at": ts(wr.started), "actor": c.loginJSON("octocat"), "triggering_actor": c.loginJSON("octocat"),
		"jobs_url": u + "/jobs", "logs_url": u + "/logs", "check_suite_url": c.apiURL("/repos/" + wr.repo.FullName() + "/check-suites/" + itoa(wr.id+1)),
		"artifacts_url": u + "/artifacts", "cancel_url": u + "/cancel", "rerun_url": u + "/rerun",
		"previous_attempt_url": nil, "workflow_url": c.apiURL("/repos/" + wr.repo.FullName() + "/actions/workflows/" + itoa(wr.repo.ID*10+1)),
		"head_commit": obj{"id": wr.sha, "tree_id": wr.sha, "message": "simulated commit", "timestamp": ts(wr.created),
			"author": obj{"name": "octocat", "email": "octocat@example.com"}, "committer": obj{"name": "octocat", "email": "octocat@example.com"}},
		"repository": repo, "head_repository": repo,
	}
}

// jobJSON renders a job. Callers hold s.mu.
func (c *call) jobJSON(j *workflowJob) obj {
	full := j.run.repo.FullName()
	var completed any
	if j.completed != nil {
		completed = ts(*j.completed)
	}
	return obj{
		"id": j.id, "run_id": j.run.id, "run_attempt": j.attempt, "node_id": nodeID("CR", j.id),
		"run_url":  c.apiURL("/repos/" + full + "/actions/runs/" + itoa(j.run.id)),
		"head_sha": j.run.sha, "head_branch": j.run.branch, "workflow_name": strings.TrimSuffix(j.run.workflow, ".yml"),
		"name": j.name, "url": c.apiURL("/repos/" + full + "/actions/jobs/" + itoa(j.id)),
		"html_url": c.webURL("/" + full + "/actions/runs/" + itoa(j.run.id) + "/job/" + itoa(j.id)),
		"status":   j.status, "conclusion": nullable(j.conclusion), "created_at": ts(j.started),
		"started_at": ts(j.started), "completed_at": completed,
		"check_run_url": c.apiURL("/repos/" + full + "/check-runs/" + itoa(j.id)),
		"labels":        []string{"ubuntu-latest"}, "steps": []obj{},
		"runner_id": 1, "runner_name": "GitHub Actions 1", "runner_group_id": 2, "runner_group_name": "GitHub Actions",
	}
}

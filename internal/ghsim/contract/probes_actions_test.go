package contract_test

import (
	"fmt"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
)

// The runs/jobs routes the broker's sweeper reads, each probed in progress,
// completed, on another attempt and refused.
func init() {
	probes["GET /repos/{owner}/{repo}/actions/runs/{run_id}"] = func(e *env) {
		run := e.sim.StartRun(ghsim.RunSpec{Repo: "acme/api", Jobs: []string{"build", "deploy"}})
		got, resp, err := e.full.Actions.GetWorkflowRunByID(e.ctx, "acme", "api", run.ID)
		e.want("get run", 200, resp, err)
		assert.Equal(e.t, "in_progress", got.GetStatus())
		for _, j := range run.Jobs {
			_, err := e.sim.CompleteJob(j.ID, "success")
			require.NoError(e.t, err)
		}
		got, resp, err = e.full.Actions.GetWorkflowRunByID(e.ctx, "acme", "api", run.ID)
		e.want("get completed run", 200, resp, err)
		assert.Equal(e.t, "completed", got.GetStatus())
		assert.Equal(e.t, "success", got.GetConclusion())
		_, resp, err = e.full.Actions.GetWorkflowRunByID(e.ctx, "acme", "web", run.ID)
		e.want("run of another repository", 404, resp, err)
		_, resp, err = e.narrow.Actions.GetWorkflowRunByID(e.ctx, "acme", "api", run.ID)
		e.want("run without actions:read", 403, resp, err)
	}
	probes["GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}"] = func(e *env) {
		run := e.sim.StartRun(ghsim.RunSpec{Repo: "acme/api"})
		_, err := e.sim.CompleteJob(run.Jobs[0].ID, "failure")
		require.NoError(e.t, err)
		again, err := e.sim.RerunRun(run.ID)
		require.NoError(e.t, err)
		assert.Equal(e.t, 2, again.Attempt)
		first, resp, err := e.full.Actions.GetWorkflowRunAttempt(e.ctx, "acme", "api", run.ID, 1, nil)
		e.want("get first attempt", 200, resp, err)
		assert.Equal(e.t, "completed", first.GetStatus())
		assert.Equal(e.t, "failure", first.GetConclusion())
		second, resp, err := e.full.Actions.GetWorkflowRunAttempt(e.ctx, "acme", "api", run.ID, 2, nil)
		e.want("get second attempt", 200, resp, err)
		assert.Equal(e.t, "in_progress", second.GetStatus())
		_, resp, err = e.full.Actions.GetWorkflowRunAttempt(e.ctx, "acme", "api", run.ID, 3, nil)
		e.want("attempt that never ran", 404, resp, err)
	}
	probes["GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}/jobs"] = func(e *env) {
		run := e.sim.StartRun(ghsim.RunSpec{Repo: "acme/api", Jobs: []string{"build", "deploy"}})
		_, err := e.sim.CompleteJob(run.Jobs[0].ID, "success")
		require.NoError(e.t, err)
		jobs, resp, err := e.full.Actions.ListWorkflowJobsAttempt(e.ctx, "acme", "api", run.ID, 1, nil)
		e.want("list attempt jobs", 200, resp, err)
		require.Len(e.t, jobs.Jobs, 2)
		assert.Equal(e.t, "completed", jobs.Jobs[0].GetStatus())
		assert.Equal(e.t, "in_progress", jobs.Jobs[1].GetStatus())
		_, resp, err = e.full.Actions.ListWorkflowJobsAttempt(e.ctx, "acme", "api", 999999, 1, nil)
		e.want("jobs of a missing run", 404, resp, err)
	}
	probes["GET /repos/{owner}/{repo}/actions/jobs/{job_id}"] = func(e *env) {
		run := e.sim.StartRun(ghsim.RunSpec{Repo: "acme/api"})
		job, resp, err := e.full.Actions.GetWorkflowJobByID(e.ctx, "acme", "api", run.Jobs[0].ID)
		e.want("get job", 200, resp, err)
		assert.Equal(e.t, "in_progress", job.GetStatus())
		assert.Equal(e.t, run.ID, job.GetRunID())
		assert.Contains(e.t, job.GetCheckRunURL(), fmt.Sprintf("/check-runs/%d", run.Jobs[0].ID), "a job's ID is its check run's ID")
		_, err = e.sim.CompleteJob(run.Jobs[0].ID, "cancelled")
		require.NoError(e.t, err)
		job, resp, err = e.full.Actions.GetWorkflowJobByID(e.ctx, "acme", "api", run.Jobs[0].ID)
		e.want("get completed job", 200, resp, err)
		assert.Equal(e.t, "cancelled", job.GetConclusion())
		assert.NotNil(e.t, job.CompletedAt)
		_, resp, err = e.full.Actions.GetWorkflowJobByID(e.ctx, "acme", "web", run.Jobs[0].ID)
		e.want("job of another repository", 404, resp, err)
	}
}

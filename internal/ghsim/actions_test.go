package ghsim

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hookSink records the webhooks it receives.
type hookSink struct {
	mu   sync.Mutex
	got  []*http.Request
	body [][]byte
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.got, h.body = append(h.got, r), append(h.body, b)
	h.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func TestRunsJobsAndWebhooks(t *testing.T) {
	t.Parallel()
	for _, prefix := range prefixes {
		t.Run("prefix="+prefix, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, prefix)
			sink := &hookSink{}
			srv := httptest.NewServer(sink)
			t.Cleanup(srv.Close)
			secret := []byte("hook-secret")
			f.sim.SetAppWebhook(f.app.ID, srv.URL, secret)
			ctx := context.Background()
			gh := f.installClient(t)

			run := f.sim.StartRun(RunSpec{Repo: "acme/api", Jobs: []string{"build", "deploy"}})
			claims := f.sim.RunClaims(run, run.Jobs[1])
			assert.Equal(t, itoa(run.Jobs[1].ID), claims["check_run_id"])
			assert.Equal(t, itoa(run.ID), claims["run_id"])
			assert.Equal(t, "1", claims["run_attempt"])

			ds, err := f.sim.CompleteJob(run.Jobs[0].ID, "success")
			require.NoError(t, err)
			require.Len(t, ds, 1, "one job of two: workflow_job only")
			assert.Equal(t, http.StatusAccepted, ds[0].Status)
			r, _, err := gh.Actions.GetWorkflowRunByID(ctx, "acme", "api", run.ID)
			require.NoError(t, err)
			assert.Equal(t, "in_progress", r.GetStatus())

			ds, err = f.sim.CompleteJob(run.Jobs[1].ID, "failure")
			require.NoError(t, err)
			require.Len(t, ds, 2, "the last job ends the run")
			assert.Equal(t, []string{"workflow_job", "workflow_run"}, []string{ds[0].Event, ds[1].Event})
			_, err = f.sim.CompleteJob(run.Jobs[1].ID, "failure")
			assert.Error(t, err, "a job completes once")

			jobs, _, err := gh.Actions.ListWorkflowJobsAttempt(ctx, "acme", "api", run.ID, 1, nil)
			require.NoError(t, err)
			assert.Equal(t, 2, jobs.GetTotalCount())
			a, _, err := gh.Actions.GetWorkflowRunAttempt(ctx, "acme", "api", run.ID, 1, nil)
			require.NoError(t, err)
			assert.Equal(t, "failure", a.GetConclusion())
			j, _, err := gh.Actions.GetWorkflowJobByID(ctx, "acme", "api", run.Jobs[1].ID)
			require.NoError(t, err)
			assert.Equal(t, "completed", j.GetStatus())

			sink.mu.Lock()
			require.Len(t, sink.got, 3)
			req, body := sink.got[1], sink.body[1]
			sink.mu.Unlock()
			assert.Equal(t, "workflow_job", req.Header.Get("X-GitHub-Event"))
			assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, req.Header.Get("X-GitHub-Delivery"))
			assert.True(t, hmac.Equal([]byte(SignWebhook(secret, body)), []byte(req.Header.Get("X-Hub-Signature-256"))))
			assert.NotEqual(t, SignWebhook([]byte("other"), body), req.Header.Get("X-Hub-Signature-256"))
			assert.Equal(t, itoa(f.app.ID), req.Header.Get("X-GitHub-Hook-Installation-Target-ID"))
			var ev struct {
				Action string `json:"action"`
				Job    struct {
					ID         int64  `json:"id"`
					RunID      int64  `json:"run_id"`
					RunAttempt int    `json:"run_attempt"`
					Conclusion string `json:"conclusion"`
				} `json:"workflow_job"`
				Repo struct {
					FullName string `json:"full_name"`
				} `json:"repository"`
				Inst struct {
					ID int64 `json:"id"`
				} `json:"installation"`
			}
			require.NoError(t, json.Unmarshal(body, &ev))
			assert.Equal(t, "completed", ev.Action)
			assert.Equal(t, run.Jobs[1].ID, ev.Job.ID)
			assert.Equal(t, run.ID, ev.Job.RunID)
			assert.Equal(t, 1, ev.Job.RunAttempt)
			assert.Equal(t, "failure", ev.Job.Conclusion)
			assert.Equal(t, "acme/api", ev.Repo.FullName)
			assert.Equal(t, f.inst.ID, ev.Inst.ID)

			again, err := f.sim.RerunRun(run.ID)
			require.NoError(t, err)
			f.sim.DropWebhooks(true)
			ds, err = f.sim.CompleteJob(again.Jobs[0].ID, "success")
			require.NoError(t, err)
			require.Len(t, ds, 1)
			assert.True(t, ds[0].Dropped)
			assert.Zero(t, ds[0].Status)
			f.sim.DropWebhooks(false)
			d, ok := f.sim.Push("acme/api", "", map[string][]byte{".github/jitkey/policy.cue": []byte("package jitkey\n// v2\n"), "README.md": []byte("hi")})
			require.True(t, ok)
			assert.Equal(t, "push", d.Event)
			sink.mu.Lock()
			assert.Len(t, sink.got, 4, "the dropped delivery never arrived; the push did")
			sink.mu.Unlock()
			assert.Len(t, f.sim.Deliveries(), 5)
			data, _, _, err := gh.Repositories.GetContents(ctx, "acme", "api", ".github/jitkey/policy.cue", nil)
			require.NoError(t, err)
			content, _ := data.GetContent()
			assert.Contains(t, content, "v2")

			_, resp, err := f.client(t, f.mint(t, &github.InstallationTokenOptions{Permissions: &github.InstallationPermissions{Contents: github.String("read")}})).
				Actions.GetWorkflowJobByID(ctx, "acme", "api", run.Jobs[0].ID)
			require.Error(t, err)
			assert.Equal(t, http.StatusForbidden, statusOf(t, resp), "actions:read is needed")
		})
	}
}

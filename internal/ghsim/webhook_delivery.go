package ghsim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// App webhook deliveries, as GitHub makes them: a POST of the event's JSON to
// the App's webhook URL with X-GitHub-Event, X-GitHub-Delivery (a UUID),
// X-GitHub-Hook-ID, X-GitHub-Hook-Installation-Target-Type/-ID and
// X-Hub-Signature-256 ("sha256=" + hex HMAC-SHA256 of the body with the
// webhook secret), and User-Agent "GitHub-Hookshot/…". GitHub waits 10 s for
// an answer and does not retry; neither does the simulator. Deliveries are
// made from the caller's goroutine, so a test knows that an event was
// answered when CompleteJob or Push returns.

// Delivery is one webhook delivery attempt.
type Delivery struct {
	ID       string // X-GitHub-Delivery
	Event    string // X-GitHub-Event
	Action   string // the payload's "action", if any
	Status   int    // the receiver's answer; 0 when it could not be reached
	Err      string // why the delivery failed, if it did
	Dropped  bool   // DropWebhooks was on: never sent
	Sent     time.Time
	Duration time.Duration // until the receiver answered (real time)
}

type hookState struct {
	mu         sync.Mutex
	url        string
	secret     []byte
	appID      int64
	drop       bool
	client     *http.Client
	deliveries []Delivery
}

type pendingEvent struct {
	name    string
	payload obj
}

// SetAppWebhook points the App's webhook at url, signed with secret. An
// empty url turns deliveries off.
func (s *Sim) SetAppWebhook(appID int64, url string, secret []byte) {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	s.hooks.url, s.hooks.secret, s.hooks.appID = url, append([]byte(nil), secret...), appID
	if s.hooks.client == nil {
		s.hooks.client = &http.Client{Timeout: 10 * time.Second}
	}
}

// DropWebhooks makes the simulator lose every delivery from now on (true)
// or deliver again (false): GitHub does not guarantee delivery, and the
// broker's sweeper must find what a lost webhook would have told it.
// Dropped deliveries are still listed by Deliveries.
func (s *Sim) DropWebhooks(drop bool) {
	s.hooks.mu.Lock()
	s.hooks.drop = drop
	s.hooks.mu.Unlock()
}

// Deliveries lists every delivery attempt, oldest first.
func (s *Sim) Deliveries() []Delivery {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	return append([]Delivery(nil), s.hooks.deliveries...)
}

// SignWebhook is the X-Hub-Signature-256 value of body under secret.
func SignWebhook(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// deliver sends one event; ok is false when no webhook URL is set.
func (s *Sim) deliver(event string, payload obj) (Delivery, bool) {
	s.hooks.mu.Lock()
	url, secret, appID, drop, client := s.hooks.url, s.hooks.secret, s.hooks.appID, s.hooks.drop, s.hooks.client
	s.hooks.mu.Unlock()
	if url == "" {
		return Delivery{}, false
	}
	d := Delivery{ID: newUUID(), Event: event, Dropped: drop, Sent: time.Now()}
	if a, ok := payload["action"].(string); ok {
		d.Action = a
	}
	if !drop {
		d.Status, d.Err = post(client, url, secret, appID, d, payload)
		d.Duration = time.Since(d.Sent)
	}
	s.hooks.mu.Lock()
	s.hooks.deliveries = append(s.hooks.deliveries, d)
	s.hooks.mu.Unlock()
	return d, true
}

func post(client *http.Client, url string, secret []byte, appID int64, d Delivery, payload obj) (int, string) {
	body, err := json.Marshal(payload)
	if err != nil {
		return 0, "encode payload: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/ghsim")
	h.Set("X-GitHub-Event", d.Event)
	h.Set("X-GitHub-Delivery", d.ID)
	h.Set("X-GitHub-Hook-ID", "1")
	h.Set("X-GitHub-Hook-Installation-Target-Type", "integration")
	h.Set("X-GitHub-Hook-Installation-Target-ID", itoa(appID))
	h.Set("X-Hub-Signature-256", SignWebhook(secret, body))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, ""
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// hookCall renders payload parts as the API would for the simulator's own
// address. Callers hold s.mu.
func (s *Sim) hookCall() *call {
	return &call{s: s, r: &http.Request{Host: strings.TrimPrefix(s.root(), "http://")}, header: http.Header{}}
}

// installationRef is the payload's "installation" for the App on r's owner.
// Callers hold s.mu.
func (s *Sim) installationRef(r *repo) any {
	s.hooks.mu.Lock()
	appID := s.hooks.appID
	s.hooks.mu.Unlock()
	for _, in := range s.installs {
		if in.App.ID == appID && in.covers(r) {
			return obj{"id": in.ID, "node_id": nodeID("MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u", in.ID)}
		}
	}
	return nil
}

// workflowJobEvent is the workflow_job payload for j's latest change. Callers hold s.mu.
func (s *Sim) workflowJobEvent(j *workflowJob) obj {
	c := s.hookCall()
	job := c.jobJSON(j)
	job["workflow_name"] = strings.TrimSuffix(j.run.workflow, ".yml")
	return obj{"action": j.status, "workflow_job": job, "repository": c.repoJSON(j.run.repo),
		"organization": c.accountJSON(j.run.repo.Owner), "sender": c.loginJSON("octocat"),
		"installation": s.installationRef(j.run.repo)}
}

// workflowRunEvent is the workflow_run payload for wr's latest change. Callers hold s.mu.
func (s *Sim) workflowRunEvent(wr *workflowRun) obj {
	c := s.hookCall()
	return obj{"action": wr.status, "workflow_run": c.runJSON(wr, wr.attempt), "repository": c.repoJSON(wr.repo),
		"organization": c.accountJSON(wr.repo.Owner), "sender": c.loginJSON("octocat"),
		"installation": s.installationRef(wr.repo)}
}

// Push stores files on a branch of repository "owner/name" (nil content
// deletes a file) and delivers the push webhook listing them as added,
// modified or removed in one commit.
func (s *Sim) Push(fullName, branch string, files map[string][]byte) (Delivery, bool) {
	s.mu.Lock()
	owner, name, _ := strings.Cut(fullName, "/")
	r := s.mustRepo(owner, name)
	if branch == "" {
		branch = r.DefaultBranch
	}
	if r.Files[branch] == nil {
		r.Files[branch] = map[string][]byte{}
	}
	added, modified, removed := []string{}, []string{}, []string{}
	for p, data := range files {
		p = strings.TrimPrefix(p, "/")
		_, had := r.Files[branch][p]
		switch {
		case data == nil:
			delete(r.Files[branch], p)
			removed = append(removed, p)
		case had:
			modified = append(modified, p)
		default:
			added = append(added, p)
		}
		if data != nil {
			r.Files[branch][p] = append([]byte(nil), data...)
		}
	}
	now := s.Now()
	r.PushedAt = now
	c := s.hookCall()
	sha := gitBlobSHA([]byte(fmt.Sprint(r.FullName(), now.UnixNano(), len(files))))
	commit := obj{"id": sha, "tree_id": sha, "distinct": true, "message": "simulated push", "timestamp": ts(now),
		"url": c.webURL("/" + r.FullName() + "/commit/" + sha), "author": obj{"name": "octocat", "email": "octocat@example.com"},
		"committer": obj{"name": "octocat", "email": "octocat@example.com"}, "added": added, "modified": modified, "removed": removed}
	payload := obj{"ref": "refs/heads/" + branch, "before": strings.Repeat("0", 40), "after": sha,
		"created": false, "deleted": false, "forced": false, "commits": []obj{commit}, "head_commit": commit,
		"repository": c.repoJSON(r), "organization": c.accountJSON(r.Owner), "sender": c.loginJSON("octocat"),
		"pusher": obj{"name": "octocat", "email": "octocat@example.com"}, "installation": s.installationRef(r)}
	s.mu.Unlock()
	return s.deliver("push", payload)
}

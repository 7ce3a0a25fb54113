package ghsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

func (s *Sim) issueRoutes() {
	s.handle("GET", "/repos/{owner}/{repo}/issues", s.listIssues)
	s.handle("POST", "/repos/{owner}/{repo}/issues", s.createIssue)
	s.handle("GET", "/repos/{owner}/{repo}/issues/{issue_number}", s.getIssue)
	s.handle("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}", s.editIssue)
	s.handle("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments", s.listComments)
	s.handle("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", s.createComment)
	s.handle("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", s.editComment)
	s.handle("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels", s.addLabels)
	s.handle("POST", "/repos/{owner}/{repo}/issues/{issue_number}/assignees", s.changeAssignees(true))
	s.handle("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/assignees", s.changeAssignees(false))
	s.handle("GET", "/repos/{owner}/{repo}/labels", s.listLabels)
	s.handle("POST", "/repos/{owner}/{repo}/labels", s.createLabel)
	s.handle("GET", "/repos/{owner}/{repo}/labels/{name}", s.getLabel)
	s.handle("PATCH", "/repos/{owner}/{repo}/labels/{name}", s.editLabel)
	s.handle("DELETE", "/repos/{owner}/{repo}/labels/{name}", s.deleteLabel)
	s.handle("GET", "/repos/{owner}/{repo}/assignees", s.listAssignees)
	s.handle("GET", "/repos/{owner}/{repo}/assignees/{assignee}", s.checkAssignee)
}

// Issue is a snapshot of an issue, for tests.
type Issue struct {
	Number      int
	Title       string
	Body        string
	State       string
	StateReason string
	User        string
	Labels      []string
	Assignees   []string
	Comments    []Comment
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Comment is a snapshot of an issue comment.
type Comment struct {
	ID        int64
	User      string
	Body      string
	CreatedAt time.Time
	UpdatedAt time.Time // after CreatedAt once edited
}

// IssueSpec describes an issue to seed.
type IssueSpec struct {
	Title     string
	Body      string
	State     string // open when empty
	User      string // octocat when empty
	Labels    []string
	Assignees []string
	Comments  []string
	CreatedAt time.Time
}

// AddIssue adds an issue (creating its labels) and returns its number.
func (s *Sim) AddIssue(owner, repoName string, spec IssueSpec) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(owner, repoName)
	user := spec.User
	if user == "" {
		user = "octocat"
	}
	is := s.newIssue(r, user, spec.Title, spec.Body, spec.Labels, spec.Assignees)
	is.CreatedAt = orNow(spec.CreatedAt, s.Now())
	is.UpdatedAt = is.CreatedAt
	if spec.State == "closed" {
		s.setState(is, "closed", "completed")
	}
	for _, b := range spec.Comments {
		s.newComment(r, is, "octocat", b)
	}
	return is.Number
}

// AddComment comments on an issue as user and returns the comment's ID.
func (s *Sim) AddComment(owner, repoName string, number int, user, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(owner, repoName)
	if number < 1 || number > len(r.Issues) {
		panic("ghsim: no issue " + r.FullName() + "#" + strconv.Itoa(number))
	}
	s.addAccount(user, "User")
	return s.newComment(r, r.Issues[number-1], user, body).ID
}

// Issues returns a snapshot of a repository's issues in number order.
func (s *Sim) Issues(owner, repoName string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(owner, repoName)
	var out []Issue
	for _, is := range r.Issues {
		i := Issue{Number: is.Number, Title: is.Title, Body: is.Body, State: is.State, StateReason: is.StateReason,
			User: is.User, Labels: slices.Clone(is.Labels), Assignees: slices.Clone(is.Assignees),
			CreatedAt: is.CreatedAt, UpdatedAt: is.UpdatedAt}
		for _, cm := range r.Comments {
			if cm.Issue == is.Number {
				i.Comments = append(i.Comments, Comment{ID: cm.ID, User: cm.User, Body: cm.Body, CreatedAt: cm.CreatedAt, UpdatedAt: cm.UpdatedAt})
			}
		}
		out = append(out, i)
	}
	return out
}

// newIssue creates an issue. Callers hold s.mu.
func (s *Sim) newIssue(r *repo, user, title, body string, labels, assignees []string) *issue {
	now := s.Now()
	is := &issue{ID: s.newID(), Number: len(r.Issues) + 1, Title: title, Body: body, State: "open", User: user,
		Assignees: nonNil(assignees), CreatedAt: now, UpdatedAt: now}
	s.setLabels(r, is, labels)
	r.Issues = append(r.Issues, is)
	return is
}

func (s *Sim) setLabels(r *repo, is *issue, names []string) {
	is.Labels = []string{}
	for _, n := range names {
		l := s.ensureLabel(r, n)
		if !slices.Contains(is.Labels, l.Name) {
			is.Labels = append(is.Labels, l.Name)
		}
	}
}

func (s *Sim) ensureLabel(r *repo, name string) *label {
	if l := findLabel(r, name); l != nil {
		return l
	}
	l := &label{ID: s.newID(), Name: name, Color: "ededed"}
	r.Labels = append(r.Labels, l)
	return l
}

func findLabel(r *repo, name string) *label {
	for _, l := range r.Labels {
		if strings.EqualFold(l.Name, name) {
			return l
		}
	}
	return nil
}

func (s *Sim) setState(is *issue, state, reason string) {
	if state == is.State && reason == "" {
		return
	}
	now := s.Now()
	is.State = state
	if state == "closed" {
		if reason == "" {
			reason = "completed"
		}
		is.StateReason = reason
		if is.ClosedAt == nil {
			is.ClosedAt = &now
		}
		return
	}
	is.ClosedAt = nil
	is.StateReason = ""
	if reason == "reopened" {
		is.StateReason = "reopened"
	}
}

func (s *Sim) newComment(r *repo, is *issue, user, body string) *comment {
	now := s.Now()
	cm := &comment{ID: s.newID(), Issue: is.Number, Body: body, User: user, CreatedAt: now, UpdatedAt: now}
	r.Comments = append(r.Comments, cm)
	is.Comments++
	is.UpdatedAt = now
	return cm
}

// actor is the login the calling token acts as.
func (c *call) actor() string {
	if c.id.tok != nil && c.id.tok.inst != nil {
		return c.id.tok.inst.App.Slug + "[bot]"
	}
	return "github-actions[bot]"
}

func (c *call) labelJSON(r *repo, l *label) obj {
	return obj{"id": l.ID, "node_id": nodeID("LA", l.ID), "url": c.apiURL("/repos/" + r.FullName() + "/labels/" + url.PathEscape(l.Name)),
		"name": l.Name, "description": nullable(l.Description), "color": l.Color, "default": false}
}

// issueJSON renders an issue. Callers hold s.mu.
func (c *call) issueJSON(r *repo, is *issue) obj {
	u := c.apiURL("/repos/" + r.FullName() + "/issues/" + strconv.Itoa(is.Number))
	labels := []obj{}
	for _, n := range is.Labels {
		if l := findLabel(r, n); l != nil {
			labels = append(labels, c.labelJSON(r, l))
		}
	}
	assignees := []obj{}
	for _, a := range is.Assignees {
		assignees = append(assignees, c.loginJSON(a))
	}
	var assignee any
	if len(assignees) > 0 {
		assignee = assignees[0]
	}
	return obj{"id": is.ID, "node_id": nodeID("I", is.ID), "url": u, "repository_url": c.apiURL("/repos/" + r.FullName()),
		"labels_url": u + "/labels{/name}", "comments_url": u + "/comments", "events_url": u + "/events",
		"html_url": c.webURL("/" + r.FullName() + "/issues/" + strconv.Itoa(is.Number)), "number": is.Number,
		"state": is.State, "state_reason": nullable(is.StateReason), "title": is.Title, "body": nullable(is.Body),
		"user": c.loginJSON(is.User), "labels": labels, "assignee": assignee, "assignees": assignees,
		"milestone": nil, "locked": false, "active_lock_reason": nil, "comments": is.Comments,
		"closed_at": tsPtr(is.ClosedAt), "created_at": ts(is.CreatedAt), "updated_at": ts(is.UpdatedAt),
		"author_association": "NONE", "timeline_url": u + "/timeline", "reactions": reactionRollup(u)}
}

// reactionRollup is the reactions summary GitHub puts on issues and comments
// (url is the item's own API URL); the simulator keeps no reactions.
func reactionRollup(u string) obj {
	return obj{"url": u + "/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
		"confused": 0, "heart": 0, "rocket": 0, "eyes": 0}
}

func (s *Sim) findIssue(c *call, level string) (*repo, *issue, bool) {
	r, ok := c.repoFor("issues", level)
	if !ok {
		return nil, nil, false
	}
	n, _ := strconv.Atoi(c.path("issue_number"))
	s.mu.Lock()
	defer s.mu.Unlock()
	if n < 1 || n > len(r.Issues) {
		c.notFound()
		return nil, nil, false
	}
	return r, r.Issues[n-1], true
}

func (s *Sim) listIssues(c *call) {
	r, ok := c.repoFor("issues", "read")
	if !ok {
		return
	}
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var want []string
	if l := q.Get("labels"); l != "" {
		want = strings.Split(l, ",")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*issue
	for _, is := range r.Issues {
		if (state != "all" && is.State != state) || !hasLabels(is, want) ||
			(q.Get("creator") != "" && !strings.EqualFold(q.Get("creator"), is.User)) ||
			(q.Get("assignee") != "" && q.Get("assignee") != "*" && !slices.Contains(is.Assignees, q.Get("assignee"))) {
			continue
		}
		list = append(list, is)
	}
	asc := q.Get("direction") == "asc"
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if q.Get("sort") == "updated" && !a.UpdatedAt.Equal(b.UpdatedAt) {
			return a.UpdatedAt.Before(b.UpdatedAt) == asc
		}
		return (a.Number < b.Number) == asc
	})
	var out []obj
	for _, is := range pageOf(c, list) {
		out = append(out, c.issueJSON(r, is))
	}
	c.json(http.StatusOK, nonNil(out))
}

func hasLabels(is *issue, want []string) bool {
	for _, w := range want {
		if !slices.ContainsFunc(is.Labels, func(l string) bool { return strings.EqualFold(l, strings.TrimSpace(w)) }) {
			return false
		}
	}
	return true
}

type issueRequest struct {
	Title       *string  `json:"title"`
	Body        *string  `json:"body"`
	State       *string  `json:"state"`
	StateReason *string  `json:"state_reason"`
	Labels      []any    `json:"labels"`
	Assignees   []string `json:"assignees"`
	Assignee    *string  `json:"assignee"`
}

// labelNames accepts labels as names or as objects with a name.
func labelNames(v []any) []string {
	var out []string
	for _, l := range v {
		switch x := l.(type) {
		case string:
			out = append(out, x)
		case map[string]any:
			if n, ok := x["name"].(string); ok {
				out = append(out, n)
			}
		}
	}
	return out
}

func (s *Sim) createIssue(c *call) {
	r, ok := c.repoFor("issues", "write")
	if !ok {
		return
	}
	var req issueRequest
	if !c.decode(&req) {
		return
	}
	if req.Title == nil || *req.Title == "" {
		c.validation("Validation Failed", obj{"resource": "Issue", "field": "title", "code": "missing_field"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	body := ""
	if req.Body != nil {
		body = *req.Body
	}
	is := s.newIssue(r, c.actor(), *req.Title, body, labelNames(req.Labels), req.Assignees)
	c.json(http.StatusCreated, c.issueJSON(r, is))
}

func (s *Sim) getIssue(c *call) {
	if r, is, ok := s.findIssue(c, "read"); ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		c.json(http.StatusOK, c.issueJSON(r, is))
	}
}

func (s *Sim) editIssue(c *call) {
	r, is, ok := s.findIssue(c, "write")
	if !ok {
		return
	}
	var req issueRequest
	if !c.decode(&req) {
		return
	}
	if req.State != nil && *req.State != "open" && *req.State != "closed" {
		c.validation("Validation Failed", obj{"resource": "Issue", "field": "state", "code": "invalid"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.Title != nil {
		is.Title = *req.Title
	}
	if req.Body != nil {
		is.Body = *req.Body
	}
	if req.Labels != nil {
		s.setLabels(r, is, labelNames(req.Labels))
	}
	if req.Assignees != nil {
		is.Assignees = req.Assignees
	}
	if req.State != nil || req.StateReason != nil {
		state, reason := is.State, ""
		if req.State != nil {
			state = *req.State
		}
		if req.StateReason != nil {
			reason = *req.StateReason
		}
		if state == "open" && is.State == "closed" && reason == "" {
			reason = "reopened"
		}
		s.setState(is, state, reason)
	}
	is.UpdatedAt = s.Now()
	c.json(http.StatusOK, c.issueJSON(r, is))
}

func (c *call) commentJSON(r *repo, cm *comment) obj {
	u := c.apiURL("/repos/" + r.FullName() + "/issues/comments/" + itoa(cm.ID))
	return obj{"id": cm.ID, "node_id": nodeID("IC", cm.ID), "url": u, "body": cm.Body,
		"html_url":  c.webURL("/" + r.FullName() + "/issues/" + strconv.Itoa(cm.Issue) + "#issuecomment-" + itoa(cm.ID)),
		"issue_url": c.apiURL("/repos/" + r.FullName() + "/issues/" + strconv.Itoa(cm.Issue)),
		"user":      c.loginJSON(cm.User), "created_at": ts(cm.CreatedAt), "updated_at": ts(cm.UpdatedAt),
		"author_association": "NONE", "reactions": reactionRollup(u)}
}

func (s *Sim) listComments(c *call) {
	r, is, ok := s.findIssue(c, "read")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*comment
	for _, cm := range r.Comments {
		if cm.Issue == is.Number {
			list = append(list, cm)
		}
	}
	var out []obj
	for _, cm := range pageOf(c, list) {
		out = append(out, c.commentJSON(r, cm))
	}
	c.json(http.StatusOK, nonNil(out))
}

func (s *Sim) createComment(c *call) {
	r, is, ok := s.findIssue(c, "write")
	if !ok {
		return
	}
	body, ok := c.commentBody()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c.json(http.StatusCreated, c.commentJSON(r, s.newComment(r, is, c.actor(), body)))
}

// commentBody reads a comment's body from the request, answering 422 when
// it has none.
func (c *call) commentBody() (string, bool) {
	var req struct {
		Body *string `json:"body"`
	}
	if !c.decode(&req) {
		return "", false
	}
	if req.Body == nil || *req.Body == "" {
		c.validation("Validation Failed", obj{"resource": "IssueComment", "field": "body", "code": "missing_field"})
		return "", false
	}
	return *req.Body, true
}

// editComment replaces a comment's body, as anyone with issues: write may do
// to any comment, and moves its updated_at; the REST answer does not say who
// edited it.
func (s *Sim) editComment(c *call) {
	r, ok := c.repoFor("issues", "write")
	if !ok {
		return
	}
	body, ok := c.commentBody()
	if !ok {
		return
	}
	id, _ := c.pathInt("comment_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cm := range r.Comments {
		if cm.ID == id {
			cm.Body, cm.UpdatedAt = body, s.Now()
			c.json(http.StatusOK, c.commentJSON(r, cm))
			return
		}
	}
	c.notFound()
}

func (s *Sim) addLabels(c *call) {
	r, is, ok := s.findIssue(c, "write")
	if !ok {
		return
	}
	var raw json.RawMessage
	if !c.decode(&raw) {
		return
	}
	names, ok := addLabelsBody(raw)
	if !ok {
		c.validation("Invalid request.\n\nSend the labels as {\"labels\": [\"name\", ...]} or as a bare array of names.",
			obj{"resource": "Label", "field": "labels", "code": "invalid"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setLabels(r, is, append(slices.Clone(is.Labels), names...))
	out := []obj{}
	for _, n := range is.Labels {
		out = append(out, c.labelJSON(r, findLabel(r, n)))
	}
	c.json(http.StatusOK, out)
}

// addLabelsBody reads the body of "add labels to an issue" in the forms
// GitHub accepts: {"labels": [...]} (the form its description gives) or the
// bare array (which its description's prose allows and go-github sends),
// each label a name or an object with a name. An empty body adds nothing.
func addLabelsBody(raw json.RawMessage) ([]string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, true
	}
	var list []any
	if err := json.Unmarshal(raw, &list); err != nil {
		var wrapped struct {
			Labels []any `json:"labels"`
		}
		if json.Unmarshal(raw, &wrapped) != nil {
			return nil, false
		}
		list = wrapped.Labels
	}
	names := labelNames(list)
	return names, len(names) == len(list)
}

func (s *Sim) changeAssignees(add bool) handlerFunc {
	return func(c *call) {
		r, is, ok := s.findIssue(c, "write")
		if !ok {
			return
		}
		var req struct {
			Assignees []string `json:"assignees"`
		}
		if !c.decode(&req) {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, a := range req.Assignees {
			if add && !slices.Contains(is.Assignees, a) {
				is.Assignees = append(is.Assignees, a)
			}
		}
		if !add {
			is.Assignees = slices.DeleteFunc(is.Assignees, func(a string) bool { return slices.Contains(req.Assignees, a) })
		}
		status := http.StatusOK
		if add {
			status = http.StatusCreated
		}
		c.json(status, c.issueJSON(r, is))
	}
}

func (s *Sim) listLabels(c *call) {
	r, ok := c.repoFor("issues", "read")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []obj
	for _, l := range pageOf(c, r.Labels) {
		out = append(out, c.labelJSON(r, l))
	}
	c.json(http.StatusOK, nonNil(out))
}

func (s *Sim) createLabel(c *call) {
	r, ok := c.repoFor("issues", "write")
	if !ok {
		return
	}
	var req struct {
		Name        string `json:"name"`
		Color       string `json:"color"`
		Description string `json:"description"`
	}
	if !c.decode(&req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.Name == "" || findLabel(r, req.Name) != nil {
		code := "missing_field"
		if req.Name != "" {
			code = "already_exists"
		}
		c.validation("Validation Failed", obj{"resource": "Label", "field": "name", "code": code})
		return
	}
	if req.Color != "" && !validColor(req.Color) {
		c.labelColorInvalid("create-a-label")
		return
	}
	l := s.ensureLabel(r, req.Name)
	l.Description = req.Description
	if req.Color != "" {
		l.Color = req.Color
	}
	c.header.Set("Location", c.apiURL("/repos/"+r.FullName()+"/labels/"+url.PathEscape(l.Name)))
	c.json(http.StatusCreated, c.labelJSON(r, l))
}

// validColor reports whether s is a label colour GitHub accepts: six
// hexadecimal digits. GitHub's description says to leave out the leading "#",
// and GitHub refuses a colour that has it (Financial-Times/github-label-sync#135).
func validColor(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, b := range []byte(s) {
		if strings.IndexByte("0123456789abcdefABCDEF", b) < 0 {
			return false
		}
	}
	return true
}

// labelColorInvalid answers GitHub's 422 for a label colour that is not six
// hexadecimal digits, as recorded in @octokit/fixtures (scenario "errors").
func (c *call) labelColorInvalid(anchor string) {
	b, _ := json.Marshal(obj{"message": "Validation Failed", "status": "422",
		"documentation_url": "https://docs.github.com/rest/issues/labels#" + anchor,
		"errors":            []obj{{"resource": "Label", "field": "color", "code": "invalid"}}})
	c.status, c.body = http.StatusUnprocessableEntity, b
}

func (s *Sim) getLabel(c *call) {
	r, ok := c.repoFor("issues", "read")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := findLabel(r, c.path("name")); l != nil {
		c.json(http.StatusOK, c.labelJSON(r, l))
		return
	}
	c.notFound()
}

func (s *Sim) editLabel(c *call) {
	r, ok := c.repoFor("issues", "write")
	if !ok {
		return
	}
	var req struct {
		NewName     *string `json:"new_name"`
		Name        *string `json:"name"` // the older field, which go-github's EditLabel sends
		Color       *string `json:"color"`
		Description *string `json:"description"`
	}
	if !c.decode(&req) {
		return
	}
	if req.NewName == nil {
		req.NewName = req.Name
	}
	if req.Color != nil && !validColor(*req.Color) {
		c.labelColorInvalid("update-a-label")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := findLabel(r, c.path("name"))
	if l == nil {
		c.notFound()
		return
	}
	if req.NewName != nil && *req.NewName != l.Name {
		if *req.NewName == "" {
			c.validation("Validation Failed", obj{"resource": "Label", "field": "name", "code": "missing_field"})
			return
		}
		if other := findLabel(r, *req.NewName); other != nil && other != l {
			c.validation("Validation Failed", obj{"resource": "Label", "field": "name", "code": "already_exists"})
			return
		}
		renameOnIssues(r, l.Name, *req.NewName)
		l.Name = *req.NewName
	}
	if req.Color != nil {
		l.Color = *req.Color
	}
	if req.Description != nil {
		l.Description = *req.Description
	}
	c.json(http.StatusOK, c.labelJSON(r, l))
}

// renameOnIssues replaces label from with to on every issue. Callers hold s.mu.
func renameOnIssues(r *repo, from, to string) {
	for _, is := range r.Issues {
		for i, n := range is.Labels {
			if n == from {
				is.Labels[i] = to
			}
		}
	}
}

func (s *Sim) deleteLabel(c *call) {
	r, ok := c.repoFor("issues", "write")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := findLabel(r, c.path("name"))
	if l == nil {
		c.notFound()
		return
	}
	r.Labels = slices.DeleteFunc(r.Labels, func(x *label) bool { return x == l })
	for _, is := range r.Issues {
		is.Labels = slices.DeleteFunc(is.Labels, func(n string) bool { return n == l.Name })
	}
	c.noContent()
}

// assignable lists the logins that may be assigned: collaborators with write or more.
func assignable(r *repo) []string {
	var out []string
	for _, login := range sortedKeys(r.Collaborators) {
		if role := r.Collaborators[login]; role == "admin" || role == "maintain" || role == "write" || role == "triage" {
			out = append(out, login)
		}
	}
	return out
}

func (s *Sim) listAssignees(c *call) {
	r, ok := c.repoFor("issues", "read")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []obj
	for _, login := range pageOf(c, assignable(r)) {
		out = append(out, c.loginJSON(login))
	}
	c.json(http.StatusOK, nonNil(out))
}

func (s *Sim) checkAssignee(c *call) {
	r, ok := c.repoFor("issues", "read")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.ContainsFunc(assignable(r), func(l string) bool { return strings.EqualFold(l, c.path("assignee")) }) {
		c.noContent()
		return
	}
	c.notFound()
}

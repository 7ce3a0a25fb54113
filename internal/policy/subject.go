package policy

import (
	"fmt"
	"sort"
	"strings"
)

// Subject is a parsed sub claim of the form repo:OWNER/REPO:CONTEXT (the
// name form) or repo:OWNER@OWNER_ID/REPO@REPO_ID:CONTEXT (the immutable ID
// form GitHub uses for repositories created or renamed since July 2026).
type Subject struct {
	Owner, Repo     string
	OwnerID, RepoID string // set in the immutable form only
	Context         string // "ref:refs/heads/main", "environment:prod", "pull_request", ...
}

// ParseSubject parses a repo: subject. ok is false for a subject that does
// not start with "repo:" (an organisation's custom subject template).
func ParseSubject(sub string) (s Subject, ok bool, err error) {
	rest, ok := strings.CutPrefix(sub, "repo:")
	if !ok {
		return Subject{}, false, nil
	}
	repo, ctx, found := strings.Cut(rest, ":")
	if !found || ctx == "" {
		return Subject{}, true, fmt.Errorf("subject %q has no context after the repository", sub)
	}
	owner, name, found := strings.Cut(repo, "/")
	if !found || owner == "" || name == "" {
		return Subject{}, true, fmt.Errorf("subject %q does not name owner/repository", sub)
	}
	s = Subject{Owner: owner, Repo: name, Context: ctx}
	if strings.Contains(owner, "@") || strings.Contains(name, "@") {
		var ok1, ok2 bool
		s.Owner, s.OwnerID, ok1 = strings.Cut(owner, "@")
		s.Repo, s.RepoID, ok2 = strings.Cut(name, "@")
		if !ok1 || !ok2 || !digits(s.OwnerID) || !digits(s.RepoID) || s.Owner == "" || s.Repo == "" {
			return Subject{}, true, fmt.Errorf("subject %q: want the form repo:OWNER@OWNER_ID/REPO@REPO_ID:CONTEXT", sub)
		}
	}
	return s, true, nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// NameForm is the subject without IDs: repo:OWNER/REPO:CONTEXT.
func (s Subject) NameForm() string { return "repo:" + s.Owner + "/" + s.Repo + ":" + s.Context }

// IDForm is the subject with IDs, repo:OWNER@OWNER_ID/REPO@REPO_ID:CONTEXT,
// or "" when an ID is unknown.
func (s Subject) IDForm() string {
	if s.OwnerID == "" || s.RepoID == "" {
		return ""
	}
	return "repo:" + s.Owner + "@" + s.OwnerID + "/" + s.Repo + "@" + s.RepoID + ":" + s.Context
}

// subjectHolds reports whether a sub condition admits the job's subject in
// either form: as the token carries it, in its name form, or in its
// immutable ID form (IDs from the subject or from the repository_owner_id
// and repository_id claims, which a verified token carries and identity
// checks against the subject). A rule written in either form thus matches
// whichever form the token uses; a rule in the ID form only ever matches a
// job whose IDs are those.
func (c *Claims) subjectHolds(cond *Condition) bool {
	if cond.Admits(c.Subject) {
		return true
	}
	s, ok, err := ParseSubject(c.Subject)
	if !ok || err != nil {
		return false
	}
	if s.OwnerID == "" && digits(c.RepositoryOwnerID) && digits(c.RepositoryID) {
		s.OwnerID, s.RepoID = c.RepositoryOwnerID, c.RepositoryID
	}
	for _, form := range [2]string{s.NameForm(), s.IDForm()} {
		if form != "" && form != c.Subject && cond.Admits(form) {
			return true
		}
	}
	return false
}

// Complete fills in the claims every real token carries that follow from
// the others, so that a policy test or an explain run with thin claims is
// decided as the real job would be: repository_owner from repository,
// ref_type from ref, job_workflow_ref from workflow_ref (the job's own
// workflow, not a reusable one), and sub in the name form from repository
// and the environment, event or ref. It returns the names of the claims it
// filled, sorted; claims already set are kept.
func (c *Claims) Complete() []string {
	var filled []string
	set := func(name string, dst *string, v string) {
		if *dst == "" && v != "" {
			*dst = v
			filled = append(filled, name)
		}
	}
	owner, _, ok := strings.Cut(c.Repository, "/")
	if ok {
		set("repository_owner", &c.RepositoryOwner, owner)
	}
	switch {
	case strings.HasPrefix(c.Ref, "refs/heads/"):
		set("ref_type", &c.RefType, "branch")
	case strings.HasPrefix(c.Ref, "refs/tags/"):
		set("ref_type", &c.RefType, "tag")
	}
	set("job_workflow_ref", &c.JobWorkflowRef, c.WorkflowRef)
	if ctx := c.subjectContext(); ok && ctx != "ref:" {
		set("sub", &c.Subject, "repo:"+c.Repository+":"+ctx)
	}
	sort.Strings(filled)
	return filled
}

// subjectContext is the context of GitHub's default subject: the
// environment, else pull_request for pull request events, else the ref.
func (c *Claims) subjectContext() string {
	switch {
	case c.Environment != "":
		return "environment:" + c.Environment
	case c.EventName == "pull_request" || c.EventName == "pull_request_target":
		return "pull_request"
	}
	return "ref:" + c.Ref
}

package issue

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-github/v62/github"

	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/review"
)

// Command is the reviewer command, alone on the first line of a comment.
const Command = "/jitkey revoke"

var answeredRE = regexp.MustCompile(`<!-- jitkey:(?:refused|unremovable)=(\d+) -->`)

// IsCommand reports whether a comment body is the reviewer command.
func IsCommand(body string) bool {
	first, _, _ := strings.Cut(strings.TrimSpace(body), "\n")
	return strings.TrimSpace(first) == Command
}

// allowed reports whether login may order the removal of c: write (or
// maintain, or admin) on the credential's repository; for an organisation's
// credential, admin on the repository holding the issue.
func (s *syncer) allowed(ctx context.Context, c inventory.Credential, login string) (bool, error) {
	repo, need := c.Repo, "write"
	if c.Scope == inventory.ScopeOrganization {
		repo, need = s.st.repo, "admin"
	}
	key := repo + "\x00" + login
	s.t.mu.Lock()
	p, ok := s.t.perms[key]
	s.t.mu.Unlock()
	if !ok {
		owner, name := splitRepo(repo)
		var lvl *github.RepositoryPermissionLevel
		err := s.t.retry(ctx, func() error {
			var err error
			lvl, _, err = s.t.repos.GetPermissionLevel(ctx, owner, name, login)
			return err
		})
		if err != nil && statusOf(err) != 404 {
			return false, err
		}
		p = lvl.GetPermission()
		s.t.mu.Lock()
		s.t.perms[key] = p
		s.t.mu.Unlock()
	}
	if need == "admin" {
		return p == "admin", nil
	}
	return p == "admin" || p == "write" || p == "maintain", nil
}

// command carries out the first authorised `/jitkey revoke` on the issue and
// answers every unauthorised one once. It reports whether the issue is done.
func (s *syncer) command(ctx context.Context, f review.Finding, x tracked) bool {
	cs := s.st.comments[x.number]
	answered := map[int64]bool{}
	for _, c := range cs {
		for _, m := range answeredRE.FindAllStringSubmatch(c.GetBody(), -1) {
			id, _ := strconv.ParseInt(m[1], 10, 64)
			answered[id] = true
		}
	}
	for _, c := range cs {
		if !IsCommand(c.GetBody()) || answered[c.GetID()] {
			continue
		}
		login := c.GetUser().GetLogin()
		ok, err := s.allowed(ctx, f.Credential, login)
		if err != nil {
			s.t.record(Action{Op: OpFailed, Repo: s.st.repo, Number: x.number, Reason: "check the commenter's permission (retried next run): " + err.Error()})
			return false
		}
		if !ok {
			need := "write access to " + f.Credential.Repo
			if f.Credential.Scope == inventory.ScopeOrganization {
				need = "admin access to " + s.st.repo
			}
			s.t.record(Action{Op: OpRefuse, Repo: s.st.repo, Number: x.number, Fingerprint: f.Fingerprint, Reason: "command by " + login + " refused"})
			s.comment(ctx, x.number, fmt.Sprintf("@%s, `%s` needs %s; nothing was removed. A collaborator with that access can post the command, or the credential can be exempted in the review policy.\n<!-- jitkey:refused=%d -->",
				login, Command, need, c.GetID()))
			continue
		}
		return s.revoke(ctx, f, x, login, c)
	}
	return false
}

func (s *syncer) revoke(ctx context.Context, f review.Finding, x tracked, by string, c *github.IssueComment) bool {
	issueRef := fmt.Sprintf("%s#%d", s.st.repo, x.number)
	if f.Remediation == "" || s.t.remover == nil {
		s.t.record(Action{Op: OpRefuse, Repo: s.st.repo, Number: x.number, Fingerprint: f.Fingerprint, Reason: "not removable through the API"})
		id := int64(0)
		if c != nil {
			id = c.GetID()
		}
		s.comment(ctx, x.number, fmt.Sprintf("jitkey cannot remove a %s through the GitHub API; follow the steps under \"How to fix it\".\n<!-- jitkey:unremovable=%d -->", review.KindName(f.Kind), id))
		return false
	}
	rec := Remediation{Credential: f.Credential.ID, Kind: string(f.Kind), By: by, Issue: issueRef, At: s.t.cfg.Now().UTC()}
	if s.t.cfg.DryRun {
		s.t.record(Action{Op: OpRevoke, Repo: s.st.repo, Number: x.number, Fingerprint: f.Fingerprint, Reason: "would " + f.Remediation + " for " + by})
		return true
	}
	err := s.t.remover.Remove(ctx, f.Credential)
	if err != nil {
		rec.Error = err.Error()
		s.addRemediation(rec)
		s.t.record(Action{Op: OpFailed, Repo: s.st.repo, Number: x.number, Fingerprint: f.Fingerprint, Reason: "revoke (retried next run): " + err.Error()})
		return true
	}
	s.addRemediation(rec)
	s.t.record(Action{Op: OpRevoke, Repo: s.st.repo, Number: x.number, Fingerprint: f.Fingerprint, Reason: f.Remediation + " for " + by})
	who := "@" + by
	if c == nil {
		who = "the review policy (`auto_remediate: true`)"
	}
	s.close(ctx, x, fmt.Sprintf("Done: jitkey did %s (%s), as asked by %s, on %s. The removal is recorded in the review's output.",
		f.Remediation, code(f.Credential.ID), who, rec.At.Format("2006-01-02 15:04 UTC")), "completed", OpClose)
	return true
}

func (s *syncer) addRemediation(r Remediation) {
	s.t.mu.Lock()
	s.t.result.Remediations = append(s.t.result.Remediations, r)
	s.t.mu.Unlock()
}

// autoRemediate removes the credential of an already open issue when the
// policy opts in with auto_remediate: the issue gave one review period of notice.
func (s *syncer) autoRemediate(ctx context.Context, f review.Finding, x tracked) bool {
	if !s.t.cfg.Review.AutoRemediate || f.Remediation == "" {
		return false
	}
	return s.revoke(ctx, f, x, "policy auto_remediate", nil)
}

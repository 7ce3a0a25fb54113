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
// credential, an owner of the organisation (membership role admin), since a
// repository's admins have no say over the organisation's secrets, PAT
// grants or SSO authorizations.
func (s *syncer) allowed(ctx context.Context, c inventory.Credential, login string) (bool, error) {
	if c.Scope == inventory.ScopeOrganization {
		role, err := s.cached(ctx, "org:"+c.Org, login, func() (string, error) {
			m, _, err := s.t.orgs.GetOrgMembership(ctx, login, c.Org)
			if err != nil {
				return "", err
			}
			if m.GetState() != "active" {
				return "", nil
			}
			return m.GetRole(), nil
		})
		if err != nil {
			return false, fmt.Errorf("%w (reading an organisation member's role needs the organisation permission members: read)", err)
		}
		return role == "admin", nil
	}
	p, err := s.cached(ctx, c.Repo, login, func() (string, error) {
		owner, name := splitRepo(c.Repo)
		lvl, _, err := s.t.repos.GetPermissionLevel(ctx, owner, name, login)
		return lvl.GetPermission(), err
	})
	return p == "admin" || p == "write" || p == "maintain", err
}

// cached looks up login's standing in scope once per run; a 404 (no such
// member or collaborator) is no standing.
func (s *syncer) cached(ctx context.Context, scope, login string, look func() (string, error)) (string, error) {
	key := scope + "\x00" + login
	s.t.mu.Lock()
	p, ok := s.t.perms[key]
	s.t.mu.Unlock()
	if ok {
		return p, nil
	}
	err := s.t.retry(ctx, func() error {
		var err error
		p, err = look()
		return err
	})
	if err != nil && statusOf(err) != 404 {
		return "", err
	}
	if err != nil {
		p = ""
	}
	s.t.mu.Lock()
	s.t.perms[key] = p
	s.t.mu.Unlock()
	return p, nil
}

// need says what access the command needs for f.
func need(f review.Finding) string {
	if f.Credential.Scope == inventory.ScopeOrganization {
		return "an owner of the organisation " + f.Credential.Org
	}
	return "write access to " + f.Credential.Repo
}

// answered lists the comments jitkey already answered: the markers in the
// review's own comments only, since anyone can post a copy.
func (s *syncer) answered(cs []*github.IssueComment) map[int64]bool {
	out := map[int64]bool{}
	for _, c := range cs {
		if !s.t.mine(c.GetUser()) {
			continue
		}
		for _, m := range answeredRE.FindAllStringSubmatch(c.GetBody(), -1) {
			id, _ := strconv.ParseInt(m[1], 10, 64)
			out[id] = true
		}
	}
	return out
}

// edited reports whether a comment changed after it was posted. GitHub's
// REST API does not say who edited it, and anyone with write access to the
// issues may edit anyone's comment, so an edited command is never credited
// to its author.
func edited(c *github.IssueComment) bool {
	return !c.GetUpdatedAt().Equal(c.GetCreatedAt())
}

// command carries out the first authorised `/jitkey revoke` on the issue and
// answers every refused one once. It reports whether the issue is done.
func (s *syncer) command(ctx context.Context, f review.Finding, x tracked) bool {
	cs := s.st.comments[x.number]
	answered := s.answered(cs)
	for _, c := range cs {
		if !IsCommand(c.GetBody()) || answered[c.GetID()] || s.t.mine(c.GetUser()) {
			continue
		}
		login := c.GetUser().GetLogin()
		if edited(c) {
			s.refuse(ctx, f, x, c, "edited command refused", fmt.Sprintf("@%s, this `%s` was edited after it was posted, and GitHub does not say by whom, "+
				"so jitkey does not act on it; nothing was removed. To ask for the removal, post the command as a new comment.", login, Command))
			continue
		}
		ok, err := s.allowed(ctx, f.Credential, login)
		if err != nil {
			s.t.record(Action{Op: OpFailed, Repo: s.st.repo, Number: x.number, Reason: "check the commenter's permission (retried next run): " + err.Error()})
			return false
		}
		if !ok {
			s.refuse(ctx, f, x, c, "command by "+login+" refused", fmt.Sprintf("@%s, `%s` needs %s; nothing was removed. "+
				"Someone with that access can post the command, or the credential can be exempted in the review policy.", login, Command, need(f)))
			continue
		}
		return s.revoke(ctx, f, x, login, c)
	}
	return false
}

// refuse records a refused command and answers it, marking the answer so
// that it is given once.
func (s *syncer) refuse(ctx context.Context, f review.Finding, x tracked, c *github.IssueComment, reason, reply string) {
	s.t.record(Action{Op: OpRefuse, Repo: s.st.repo, Number: x.number, Fingerprint: f.Fingerprint, Reason: reason})
	s.comment(ctx, x.number, fmt.Sprintf("%s\n<!-- jitkey:refused=%d -->", reply, c.GetID()))
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

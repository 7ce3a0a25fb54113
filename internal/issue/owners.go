package issue

import (
	"bufio"
	"context"
	"regexp"
	"strings"

	"github.com/jitkey/jitkey/internal/review"
)

// resolveOwners returns the assignees of new issues in the repository: the
// policy's owners that are logins, else the owners of `*` in CODEOWNERS.
// Teams cannot be assigned; they are mentioned in the body instead.
func (s *syncer) resolveOwners(ctx context.Context) []string {
	if s.ownersDone {
		return s.owners
	}
	s.ownersDone = true
	if len(s.t.cfg.Review.Owners) > 0 {
		s.owners = logins(s.t.cfg.Review.Owners)
		s.mention = s.t.cfg.Review.Owners
		return s.owners
	}
	owner, name := splitRepo(s.st.repo)
	for _, p := range []string{".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"} {
		fc, _, _, err := s.t.repos.GetContents(ctx, owner, name, p, nil)
		if err != nil || fc == nil {
			continue
		}
		text, err := fc.GetContent()
		if err != nil {
			continue
		}
		s.owners = logins(CodeOwners(text))
		s.mention = CodeOwners(text)
		return s.owners
	}
	return nil
}

// CodeOwners returns the owners of the catch-all `*` pattern of a CODEOWNERS
// file (the last such line wins, as in GitHub).
func CodeOwners(text string) []string {
	var owners []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) >= 1 && f[0] == "*" {
			owners = f[1:]
		}
	}
	return owners
}

// GitHub's shapes of a user's login and of an organisation's team.
var (
	loginRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
	teamRE  = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// logins keeps the users among owners (no teams, no e-mail addresses, nothing
// that is not a login), without "@".
func logins(owners []string) []string {
	var out []string
	for _, o := range owners {
		if o = strings.TrimPrefix(o, "@"); loginRE.MatchString(o) {
			out = append(out, o)
		}
	}
	return out
}

// mentions renders the owners line of the body: every owner that is a user
// or a team is mentioned; anything else a CODEOWNERS file or the policy holds
// is shown as code (review.Code), never as Markdown; e-mail addresses are left out.
func mentions(owners []string) []string {
	var out []string
	for _, o := range owners {
		if strings.Contains(o, "@") && !strings.HasPrefix(o, "@") && !strings.ContainsAny(o, "[]()<>`") {
			continue // e-mail address
		}
		if name := strings.TrimPrefix(o, "@"); loginRE.MatchString(name) || teamRE.MatchString(name) {
			out = append(out, "@"+name)
			continue
		}
		out = append(out, review.Code(o))
	}
	return out
}

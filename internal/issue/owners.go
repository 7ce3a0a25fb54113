package issue

import (
	"bufio"
	"context"
	"strings"
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
		s.mention = mentions(s.t.cfg.Review.Owners)
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
		s.mention = mentions(CodeOwners(text))
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

// logins keeps the users among owners (no teams, no e-mail addresses), without "@".
func logins(owners []string) []string {
	var out []string
	for _, o := range owners {
		o = strings.TrimPrefix(o, "@")
		if o == "" || strings.Contains(o, "/") || strings.Contains(o, "@") {
			continue
		}
		out = append(out, o)
	}
	return out
}

// mentions renders the owners line of the body: every owner, teams included.
func mentions(owners []string) []string {
	var out []string
	for _, o := range owners {
		if strings.Contains(o, "@") && !strings.HasPrefix(o, "@") {
			continue // e-mail address
		}
		out = append(out, "@"+strings.TrimPrefix(o, "@"))
	}
	return out
}

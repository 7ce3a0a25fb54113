package policy

import (
	"slices"
	"sort"
	"strings"
)

// assemble joins the files into one Set and runs the checks that span
// files: duplicate rule names, one ceiling, one review, grants within the
// ceiling.
func assemble(results []fileResult) (*Set, error) {
	s := &Set{APIVersion: APIVersion}
	var diags Errors
	var pols []*filePolicy
	var ceilingAt, reviewAt *Pos
	for _, r := range results {
		s.Files = append(s.Files, r.name)
		diags = append(diags, r.diags...)
		s.Tests = append(s.Tests, r.tests...)
		if r.pol == nil {
			continue
		}
		pols = append(pols, r.pol)
		s.Rules = append(s.Rules, r.pol.rules...)
		s.Waivers = append(s.Waivers, r.pol.waivers...)
		if c := r.pol.ceiling; c != nil {
			if ceilingAt != nil {
				diags = append(diags, c.Pos.diag(CodeDuplicateSection, "", "a ceiling is already defined at %s; keep one ceiling per policy set", ceilingAt))
			} else {
				s.Ceiling, ceilingAt = c, &c.Pos
			}
		}
		if o := r.pol.org; o != nil {
			if s.Organization != nil {
				diags = append(diags, o.Pos.diag(CodeDuplicateSection, "", "an organization section is already defined at %s; keep one per policy set", s.Organization.Pos))
			} else {
				s.Organization = o
			}
		}
		if rv := r.pol.review; rv != nil {
			p := r.pol.reviewAt
			if reviewAt != nil {
				diags = append(diags, p.diag(CodeDuplicateSection, "", "a review section is already defined at %s; keep one per policy set", reviewAt))
			} else {
				s.Review, reviewAt = rv, &p
			}
		}
	}
	diags = append(diags, duplicateNames(pols)...)
	if s.Ceiling != nil {
		for _, fp := range pols {
			diags = append(diags, aboveCeiling(fp, s.Ceiling, s.Organization)...)
		}
	}
	if len(diags) > 0 {
		fillEnds(results, diags)
		sortDiags(diags, s.Files)
		return nil, diags
	}
	return s, nil
}

func duplicateNames(pols []*filePolicy) []Diagnostic {
	var out []Diagnostic
	first := map[string]Pos{}
	for _, fp := range pols {
		for i, r := range fp.rules {
			if p, ok := first[r.Name]; ok {
				out = append(out, fp.namePos[i].diag(CodeDuplicateName, r.Name,
					"rule name %q is already used at %s; rule names identify decisions, tests and audit records, so rename one", r.Name, p))
				continue
			}
			first[r.Name] = fp.namePos[i]
		}
	}
	return out
}

// aboveCeiling reports every grant of fp beyond the ceiling c; org binds
// names to IDs, for {id: N} grants.
func aboveCeiling(fp *filePolicy, c *Ceiling, org *Organization) []Diagnostic {
	var out []Diagnostic
	for i, r := range fp.rules {
		for _, name := range permissionsAbove(r.Grant.Permissions, c) {
			level, limit := r.Grant.Permissions[name], c.Permissions[name]
			if limit == "" {
				out = append(out, fp.permPos[i][name].diag(CodeAboveCeiling, r.Name,
					"rule %q grants %s: %s, but the ceiling at %s does not allow %s; remove it or add it to the ceiling", r.Name, name, level, c.Pos, name))
				continue
			}
			out = append(out, fp.permPos[i][name].diag(CodeAboveCeiling, r.Name,
				"rule %q grants %s: %s, but the ceiling at %s allows at most %s; lower the grant or raise the ceiling", r.Name, name, level, c.Pos, limit))
		}
		if c.Repositories == nil {
			continue
		}
		if r.Grant.AllRepositories {
			out = append(out, fp.repoPos[i]["*"].diag(CodeAboveCeiling, r.Name,
				"rule %q grants every repository, but the ceiling at %s limits repositories; name the repositories", r.Name, c.Pos))
		}
		for _, repo := range r.Grant.Repositories {
			if !repoAllowed(repo, c.Repositories) && !slices.Contains(c.RepositoryIDs, org.idOf(repo)) {
				out = append(out, fp.repoPos[i][repo].diag(CodeAboveCeiling, r.Name,
					"rule %q grants repository %s, which the ceiling at %s does not list; remove it or add it to the ceiling", r.Name, repo, c.Pos))
			}
		}
		for _, id := range r.Grant.RepositoryIDs {
			if !idAllowed(id, c, org) {
				out = append(out, fp.repoPos[i][IDName(id)].diag(CodeAboveCeiling, r.Name,
					"rule %q grants repository ID %d, which the ceiling at %s does not list; remove it, or add {id: %d} to the ceiling", r.Name, id, c.Pos, id))
			}
		}
	}
	return out
}

// repoAllowed reports whether "owner/name" is listed, exactly or by an
// "owner/*" entry; owners and names compare case-insensitively, as GitHub's do.
func repoAllowed(repo string, allowed []string) bool {
	owner, _, _ := strings.Cut(repo, "/")
	for _, a := range allowed {
		if strings.EqualFold(a, repo) || strings.EqualFold(a, owner+"/*") {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortDiags(ds []Diagnostic, files []string) {
	order := map[string]int{}
	for i, f := range files {
		if _, ok := order[f]; !ok {
			order[f] = i
		}
	}
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.File != b.File {
			return order[a.File] < order[b.File]
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// idAllowed reports whether the ceiling c may allow repository ID id: it
// lists the ID, the organisation binds it to a name the ceiling lists, or
// the ceiling lists an "owner/*" entry (which repository of the owner has
// the ID is known only when deciding, where the ceiling applies again).
func idAllowed(id int64, c *Ceiling, org *Organization) bool {
	if slices.Contains(c.RepositoryIDs, id) {
		return true
	}
	if org != nil {
		for name, bound := range org.RepositoryIDs {
			if bound == id && repoAllowed(name, c.Repositories) {
				return true
			}
		}
	}
	for _, entry := range c.Repositories {
		if strings.HasSuffix(entry, "/*") {
			return true
		}
	}
	return false
}

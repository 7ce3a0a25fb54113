package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"sort"
	"strings"

	"github.com/jitkey/jitkey/internal/lint"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/policyfile"
	"github.com/jitkey/jitkey/internal/source"
)

// A policy tree holds an organisation's policies as they live on GitHub,
// one directory per repository, so that authors can validate, test and
// explain consent across repositories before merging:
//
//	DIR/OWNER/.github/   the organisation policy (OWNER/.github's .github/jitkey/)
//	DIR/OWNER/NAME/      repository OWNER/NAME's policy (its .github/jitkey/)
type policyTree struct {
	root  string
	owner string
	org   string            // the organisation policy's directory
	repos map[string]string // "owner/name" -> directory
}

// findTree reports whether root is a policy tree: it holds exactly one
// OWNER directory with a .github directory in it.
func findTree(fsys fs.FS, root string) (*policyTree, bool, error) {
	entries, err := fs.ReadDir(fsys, root)
	if err != nil {
		return nil, false, nil // not a directory: a file or an error Find reports
	}
	var t *policyTree
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		owner := e.Name()
		org := path.Join(root, owner, source.DefaultOrgRepository)
		if st, err := fs.Stat(fsys, org); err != nil || !st.IsDir() {
			continue
		}
		if t != nil {
			return nil, false, fmt.Errorf("%s holds the policies of two owners (%s and %s): give one owner's tree at a time", root, t.owner, owner)
		}
		t = &policyTree{root: root, owner: owner, org: org, repos: map[string]string{}}
		repos, err := fs.ReadDir(fsys, path.Join(root, owner))
		if err != nil {
			return nil, false, err
		}
		for _, r := range repos {
			if r.IsDir() && r.Name() != source.DefaultOrgRepository {
				t.repos[owner+"/"+r.Name()] = path.Join(root, owner, r.Name())
			}
		}
	}
	return t, t != nil, nil
}

// treeSet is one directory of a tree, loaded.
type treeSet struct {
	repo string // "owner/name"; the organisation's is OWNER/.github
	dir  string
	l    *loaded
}

// loadedTree is a tree with every directory loaded.
type loadedTree struct {
	t     *policyTree
	sets  []treeSet // the organisation's first, then the repositories by name
	files []string
	diags []policy.Diagnostic
}

// loadTree loads each directory of the tree as its own policy set and
// checks what spans them: a repository policy may hold no ceiling and no
// organization section, and every grant lies within the organisation's
// ceiling.
func loadTree(ctx context.Context, env Env, lim policy.Limits, t *policyTree) (*loadedTree, func(), error) {
	lt := &loadedTree{t: t}
	var closers []func()
	done := func() {
		for _, c := range closers {
			c()
		}
	}
	names := make([]string, 0, len(t.repos))
	for r := range t.repos {
		names = append(names, r)
	}
	sort.Strings(names)
	dirs := append([]treeSet{{repo: t.owner + "/" + source.DefaultOrgRepository, dir: t.org}}, func() []treeSet {
		var out []treeSet
		for _, n := range names {
			out = append(out, treeSet{repo: n, dir: t.repos[n]})
		}
		return out
	}()...)
	for _, ts := range dirs {
		l, c, err := loadPolicies(ctx, env, lim, []string{ts.dir})
		if err != nil {
			var pe *policyfile.Error
			if errors.As(err, &pe) && ts.repo != dirs[0].repo {
				continue // a repository directory without policies: no policy of its own
			}
			done()
			return nil, nil, err
		}
		closers = append(closers, c)
		ts.l = l
		lt.sets = append(lt.sets, ts)
		lt.files = append(lt.files, l.files.All()...)
		lt.diags = append(lt.diags, l.diags...)
	}
	lt.diags = append(lt.diags, lt.crossChecks()...)
	return lt, done, nil
}

// crossChecks are the checks between the directories of a tree.
func (lt *loadedTree) crossChecks() []policy.Diagnostic {
	var out []policy.Diagnostic
	org := lt.sets[0].l.set
	for _, ts := range lt.sets[1:] {
		s := ts.l.set
		if s == nil {
			continue
		}
		if err := policy.CheckRepositoryPolicy(ts.repo, s); err != nil {
			at := policy.Pos{File: ts.dir}
			if s.Ceiling != nil {
				at = s.Ceiling.Pos
			} else if s.Organization != nil {
				at = s.Organization.Pos
			}
			out = append(out, policy.Diagnostic{File: at.File, Line: at.Line, Col: at.Col, EndLine: at.Line, EndCol: at.Col,
				Severity: "error", Code: policy.CodeRepositoryCeiling, Message: err.Error()})
		}
		if org != nil {
			out = append(out, policy.AboveCeiling(s, org.Ceiling)...)
		}
	}
	return out
}

// policies is the tree as the decision reads it; nil when any directory
// failed to load. GitHub is not asked for repository IDs: the IDs the
// organisation binds names to (organization.repository_ids) stand for
// its answers, and the job's repository_id claim for its own.
func (lt *loadedTree) policies() *policy.Policies {
	p := &policy.Policies{Owner: lt.t.owner, Repos: map[string]*policy.Set{}}
	for i, ts := range lt.sets {
		if ts.l.set == nil {
			return nil
		}
		if i == 0 {
			p.Org = ts.l.set
			continue
		}
		p.Repos[strings.ToLower(ts.repo)] = ts.l.set
	}
	if o := p.Org.Organization; o != nil && len(o.RepositoryIDs) > 0 {
		p.IDs = maps.Clone(o.RepositoryIDs)
	}
	return p
}

// orgRepository is the organisation policy's repository: the location its
// organization section configures, else OWNER/.github.
func (lt *loadedTree) orgRepository() string {
	if org := lt.sets[0].l.set; org != nil && org.Organization != nil && org.Organization.PolicyRepository != "" {
		if repo := org.Organization.PolicyRepository; strings.Contains(repo, "/") {
			return repo
		}
		return lt.t.owner + "/" + org.Organization.PolicyRepository
	}
	return lt.t.owner + "/" + source.DefaultOrgRepository
}

// tests are the test cases of every directory, in directory order.
func (lt *loadedTree) tests() []policy.TestCase {
	var out []policy.TestCase
	for _, ts := range lt.sets {
		if ts.l.set != nil {
			out = append(out, ts.l.set.Tests...)
		}
	}
	return out
}

// sets are the loaded sets, the organisation's first.
func (lt *loadedTree) loadedSets() []*policy.Set {
	var out []*policy.Set
	for _, ts := range lt.sets {
		if ts.l.set != nil {
			out = append(out, ts.l.set)
		}
	}
	return out
}

// treeArg returns the tree when paths name exactly one directory that is
// a policy tree (no path: the default directory, as the commands look it up).
func treeArg(env Env, paths []string) (*policyTree, error) {
	fsys, done, err := repoFS(env.Dir)
	if err != nil {
		return nil, err
	}
	defer done()
	if len(paths) == 0 {
		if paths, err = defaultPaths(fsys, env.Dir); err != nil {
			return nil, nil // the command says where it looked
		}
	}
	rel := relPaths(env, paths)
	if len(rel) != 1 {
		return nil, nil
	}
	t, ok, err := findTree(fsys, rel[0])
	if err != nil || !ok {
		return nil, err
	}
	return t, nil
}

// holder says where set i of the tree lives, for the lint's guards and
// the grant diff: its repository, the organisation policy's repository and
// the IDs the organisation binds.
func (lt *loadedTree) holder(i int) lint.Holder {
	var ids map[string]int64
	if org := lt.sets[0].l.set; org != nil && org.Organization != nil {
		ids = org.Organization.RepositoryIDs
	}
	return lint.Holder{Repository: lt.sets[i].repo, OrgRepository: lt.orgRepository(), Org: i == 0, IDs: ids}
}

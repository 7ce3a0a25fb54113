package mint

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing/fstest"

	"github.com/jitkey/jitkey/internal/audit"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/source"
)

// Evaluator turns the files of one policy directory into a Set;
// InProcess is the default.
type Evaluator interface {
	Evaluate(ctx context.Context, files []source.File) (*policy.Set, error)
}

// InProcess evaluates in this process under policy.DefaultLimits; when ctx
// ends it returns at once, leaving the evaluation to finish in the
// background (see policy.Limits).
type InProcess struct{}

// Evaluate loads the files with policy.LoadContext.
func (InProcess) Evaluate(ctx context.Context, files []source.File) (*policy.Set, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fsys := fstest.MapFS{}
	names := make([]string, len(files))
	for i, f := range files {
		fsys[f.Name] = &fstest.MapFile{Data: f.Data}
		names[i] = f.Name
	}
	return policy.LoadContext(ctx, fsys, names)
}

// PolicyRead is one policy directory a decision read.
type PolicyRead = audit.PolicyRead

// Decided is a decision with the facts it was made on.
type Decided struct {
	Decision       policy.Decision
	Owner          string
	InstallationID int64
	AppSlug        string
	// Policies lists every policy directory read, the organisation's first.
	Policies []PolicyRead
	// PolicyRef is the ref the caller's policy was read at ("" = default branch).
	PolicyRef string
	// IDs are the IDs of the repositories read, lower-case "owner/name" -> ID.
	IDs map[string]int64
}

// PolicySHA is the organisation policy's commit, for one-line summaries.
func (d Decided) PolicySHA() string {
	if len(d.Policies) == 0 {
		return ""
	}
	return d.Policies[0].Commit
}

// Decide finds the installation, reads the policies that apply (the
// organisation policy, the caller's and each target repository's, in one
// read) and decides. A refused policy-ref, a missing organisation policy or
// an installation of another owner is an error; a denial is a Decision.
func (m *Minter) Decide(ctx context.Context, in Input) (Decided, error) {
	owner, repo, err := source.Split(in.Claims.Repository)
	if err != nil {
		return Decided{}, fmt.Errorf("the job's %w: run inside GitHub Actions or pass --repository", err)
	}
	d := Decided{Owner: owner, PolicyRef: in.PolicyRef, IDs: map[string]int64{}}
	inst, err := m.installation(ctx, owner, repo, in)
	if err != nil {
		return Decided{}, err
	}
	d.InstallationID, d.AppSlug = inst.ID, inst.AppSlug
	orgLoc := in.OrgPolicy
	if orgLoc.Repository == "" {
		orgLoc = source.OrgLocation(owner)
	}
	pols := policy.Policies{Owner: owner, Repos: map[string]*policy.Set{}, IDs: d.IDs, OrgRepository: orgLoc.Repository}
	if err := sameOwner(orgLoc.Repository, owner); err != nil {
		return Decided{}, fmt.Errorf("organisation policy: %w", err)
	}
	want := []source.Location{orgLoc}
	callerLoc := source.Location{Repository: in.Claims.Repository, Path: source.DefaultPath, Ref: in.PolicyRef}
	if in.PolicyRef == "" {
		want = append(want, callerLoc)
	}
	for _, r := range in.Request.Repositories {
		// Another owner's repository is refused by the decision, unread; the
		// organisation policy's repository has that policy as its own.
		full := qualifyRepo(r, owner)
		o, _, _ := strings.Cut(full, "/")
		if strings.EqualFold(o, owner) && !strings.EqualFold(full, in.Claims.Repository) && !strings.EqualFold(full, orgLoc.Repository) {
			want = append(want, source.Location{Repository: full, Path: source.DefaultPath})
		}
	}
	if err := m.read(ctx, &d, &pols, want, true); err != nil {
		return Decided{}, err
	}
	if pols.Org.Organization != nil && pols.Org.Organization.PolicyRepository != "" {
		if err := m.moved(ctx, &d, &pols); err != nil {
			return Decided{}, err
		}
	}
	if reason := m.issuerRefusal(pols.Org.Organization, d.Policies[0].Repository, in.Claims, in.Issuer); reason != "" {
		d.Decision = policy.Decision{Refused: d.Policies[0].Repository, Reason: reason}
		return d, nil
	}
	if !pols.Org.Organization.AllowsRef(in.PolicyRef) {
		// Refused before the policy at that ref is even evaluated.
		d.Decision = policy.Decision{Refused: in.Claims.Repository, Reason: fmt.Sprintf("policy-ref %q is refused: policies are read at the default branch unless the organisation policy names the ref in organization.policy_refs (for testing policies); remove policy-ref", in.PolicyRef)}
		return d, nil
	}
	if in.PolicyRef != "" {
		if err := m.read(ctx, &d, &pols, []source.Location{callerLoc}, false); err != nil {
			return Decided{}, err
		}
	}
	if reason := ownerIDMismatch(in.Claims, pols.OwnerID); reason != "" {
		d.Decision = policy.Decision{Refused: in.Claims.Repository, Reason: reason}
		return d, nil
	}
	if more := unread(policy.Targets(pols, in.Claims, in.Request), pols); len(more) > 0 {
		// The caller's rule names repositories the request did not: their
		// policies must consent too (one more read).
		if err := m.read(ctx, &d, &pols, more, false); err != nil {
			return Decided{}, err
		}
	}
	d.Decision = policy.DecideScope(pols, in.Claims, in.Request)
	return d, nil
}

// installation finds the App's installation on owner and checks that it
// is one: a given installation-id is read once and its account compared.
func (m *Minter) installation(ctx context.Context, owner, repo string, in Input) (*github.Installation, error) {
	var inst *github.Installation
	var err error
	if in.InstallationID != 0 {
		inst, err = m.app.AppInstallation(ctx, in.InstallationID)
	} else {
		inst, err = m.app.RepoInstallation(ctx, owner, repo)
	}
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(inst.Account.Login, owner) {
		return nil, &github.Error{Class: github.ClassOwnerMismatch, Op: fmt.Sprintf("check installation %d", inst.ID),
			Message: fmt.Sprintf("installation %d belongs to %s, not to %s, the owner of the repositories the policy grants on; nothing was minted", inst.ID, inst.Account.Login, owner),
			Fix:     github.FixFor(github.ClassOwnerMismatch)}
	}
	if id := in.Claims.RepositoryOwnerID; id != "" && inst.Account.ID != 0 && strconv.FormatInt(inst.Account.ID, 10) != id {
		return nil, &github.Error{Class: github.ClassOwnerMismatch, Op: fmt.Sprintf("check installation %d", inst.ID),
			Message: fmt.Sprintf("installation %d belongs to account ID %d, but the job's repository_owner_id is %s (the owner was renamed or re-created); nothing was minted", inst.ID, inst.Account.ID, id),
			Fix:     github.FixFor(github.ClassOwnerMismatch)}
	}
	return inst, nil
}

// read reads locations and evaluates them into pols; the first location
// of the first read is the organisation policy.
func (m *Minter) read(ctx context.Context, d *Decided, pols *policy.Policies, locs []source.Location, withOrg bool) error {
	snaps, err := m.src.Read(ctx, d.InstallationID, locs)
	var tme *source.TokenMintError
	if errors.As(err, &tme) {
		if lost := m.lost(ctx, &Grant{InstallationID: tme.InstallationID}, tme.Err); lost != tme.Err {
			return lost
		}
	}
	if err != nil {
		if withOrg {
			return &github.Error{Class: classOr(err, github.ClassPolicyUnavailable), Op: "read the policies",
				Message: fmt.Sprintf("the policies (organisation policy at %s) could not be read, so nothing is minted: %v", locs[0], github.Redact(err.Error())),
				Fix:     github.FixFor(github.ClassPolicyUnavailable), Err: err}
		}
		return err
	}
	for i, s := range snaps {
		if withOrg && i == 0 {
			if err := m.org(ctx, d, pols, s); err != nil {
				return err
			}
			continue
		}
		if err := m.repo(ctx, d, pols, s); err != nil {
			return err
		}
	}
	return nil
}

func (m *Minter) org(ctx context.Context, d *Decided, pols *policy.Policies, s source.Snapshot) error {
	if !s.Found || len(s.Files) == 0 {
		what := "has no policy files"
		if !s.Found {
			what = "does not exist or the App cannot read it"
		}
		return &github.Error{Class: github.ClassPolicyUnavailable, Op: "read the organisation policy",
			Message: fmt.Sprintf("the organisation policy at %s %s, so nothing is minted (jitkey fails closed)", s.Location, what),
			Fix:     github.FixFor(github.ClassPolicyUnavailable)}
	}
	set, err := m.eval.Evaluate(ctx, s.Files)
	if err != nil {
		return &PolicyInvalidError{Path: s.Location.String(), Ref: s.Ref, Err: err}
	}
	pols.Org, pols.OwnerID = set, s.OwnerID
	d.Policies = append([]PolicyRead{readOf(s)}, d.Policies...)
	d.IDs[strings.ToLower(s.Repository)] = s.RepositoryID
	return nil
}

func (m *Minter) repo(ctx context.Context, d *Decided, pols *policy.Policies, s source.Snapshot) error {
	name := s.Location.Repository
	if !s.Found {
		return &github.Error{Class: github.ClassNotInstalled, Op: "read the policy of " + name,
			Message: fmt.Sprintf("the App cannot read %s: it does not exist, or the App is not installed on it, so it cannot consent", name),
			Fix:     fmt.Sprintf("add %s to the App installation (organisation Settings → GitHub Apps → Configure), or leave it out of the request", name)}
	}
	d.IDs[strings.ToLower(name)] = s.RepositoryID
	if len(s.Files) == 0 {
		return nil
	}
	set, err := m.eval.Evaluate(ctx, s.Files)
	if err != nil {
		return &PolicyInvalidError{Path: s.Location.String(), Ref: s.Ref, Err: err}
	}
	if err := policy.CheckRepositoryPolicy(name, set); err != nil {
		return &PolicyInvalidError{Path: s.Location.String(), Ref: s.Ref, Err: err}
	}
	pols.Repos[strings.ToLower(name)] = set
	d.Policies = append(d.Policies, readOf(s))
	return nil
}

// moved follows the organisation policy to the location it names.
func (m *Minter) moved(ctx context.Context, d *Decided, pols *policy.Policies) error {
	o := pols.Org.Organization
	loc := source.Location{Repository: o.PolicyRepository, Path: o.PolicyPath}
	if loc.Path == "" {
		loc.Path = source.DefaultPath
	}
	if err := sameOwner(loc.Repository, d.Owner); err != nil {
		return fmt.Errorf("organization.policy in the organisation policy: %w", err)
	}
	d.Policies = d.Policies[1:]
	return m.read(ctx, d, pols, []source.Location{loc}, true)
}

func readOf(s source.Snapshot) PolicyRead {
	return PolicyRead{Repository: s.Location.Repository, Path: s.Location.Path, Ref: s.Ref, Commit: s.Commit, Files: len(s.Files)}
}

// unread lists the repositories whose policies were not read.
func unread(repos []string, pols policy.Policies) []source.Location {
	var out []source.Location
	for _, r := range repos {
		if _, ok := pols.IDs[strings.ToLower(r)]; !ok {
			out = append(out, source.Location{Repository: r, Path: source.DefaultPath})
		}
	}
	return out
}

func ownerIDMismatch(c policy.Claims, ownerID int64) string {
	if c.RepositoryOwnerID == "" || ownerID == 0 || strconv.FormatInt(ownerID, 10) == c.RepositoryOwnerID {
		return ""
	}
	return fmt.Sprintf("the organisation policy belongs to account ID %d, but the job's repository_owner_id is %s: the owner was renamed or re-created, so no policy of it applies", ownerID, c.RepositoryOwnerID)
}

func sameOwner(repo, owner string) error {
	o, _, err := source.Split(repo)
	if err != nil {
		return err
	}
	if !strings.EqualFold(o, owner) {
		return fmt.Errorf("%s belongs to another owner than %s: the organisation policy lives in a repository of the organisation", repo, owner)
	}
	return nil
}

func qualifyRepo(r, owner string) string {
	if strings.Contains(r, "/") {
		return r
	}
	return owner + "/" + r
}

func classOr(err error, def github.Class) github.Class {
	if c := github.ClassOf(err); c != "" && c != github.ClassOther {
		return c
	}
	return def
}

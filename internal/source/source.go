// Package source reads the policies a decision needs from GitHub: the
// organisation policy and each repository's policy directory
// (.github/jitkey/), at the default branch unless told otherwise, with the
// commit read and the repository's and owner's IDs. It hands bytes to
// internal/policy and never decides.
//
// GitHub reads through the App: an installation token with contents: read
// on exactly the repositories of a read, recorded through Hooks before it
// is used (the action's post step revokes it) or revoked once read
// (RevokeAfterRead, the broker), and one GraphQL query for every directory
// of a decision. Cache keeps what was
// read for a while, for a long-running broker, and forgets a repository when
// told (a push webhook to its default branch).
package source

import (
	"context"
	"fmt"
	"strings"
)

// DefaultPath is the policy directory of every repository, and of the
// organisation policy unless the organisation moves it.
const DefaultPath = ".github/jitkey"

// DefaultOrgRepository is the organisation policy's repository name.
const DefaultOrgRepository = ".github"

// Location is a policy directory: repository "owner/name", path, and ref
// ("" = the repository's default branch).
type Location struct {
	Repository string
	Path       string
	Ref        string
}

func (l Location) String() string {
	s := l.Repository + ":" + l.Path
	if l.Ref != "" {
		s += "@" + l.Ref
	}
	return s
}

// OrgLocation is the default organisation policy of owner.
func OrgLocation(owner string) Location {
	return Location{Repository: owner + "/" + DefaultOrgRepository, Path: DefaultPath}
}

// File is one policy file of a directory.
type File struct {
	Name string // path within the repository, e.g. .github/jitkey/deploy.cue
	Data []byte
}

// Snapshot is a policy directory as read: Found is false when the
// repository does not exist or the App cannot see it; Files is empty when
// the repository has no policy there.
type Snapshot struct {
	Location     Location
	Found        bool
	Repository   string // "owner/name" as GitHub spells it
	RepositoryID int64
	OwnerID      int64
	Ref          string // the branch read (the default branch's name when Location.Ref is "")
	Commit       string // the commit SHA read
	Files        []File
}

// Reader reads policy directories through an App installation.
type Reader interface {
	Read(ctx context.Context, installationID int64, locs []Location) ([]Snapshot, error)
}

// Split returns owner and name of "owner/name", or an error saying what is wrong.
func Split(repo string) (owner, name string, err error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("repository %q is not owner/name", repo)
	}
	return owner, name, nil
}

package github

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// DirQuery names a directory to read from a repository at a ref ("" = the
// repository's default branch).
type DirQuery struct {
	Owner, Repo, Path, Ref string
}

// DirFile is one file of a directory read through DirsAt.
type DirFile struct {
	Name string
	Data []byte
}

// Dir is a directory as DirsAt read it, with the facts that identify it:
// the repository's and owner's IDs (IDs survive renames), the ref read and
// its commit. Found is false when the repository does not exist or the
// token cannot see it; Files is empty when the directory does not exist.
type Dir struct {
	Query         DirQuery
	Found         bool
	FullName      string // as GitHub spells it
	RepositoryID  int64
	OwnerID       int64
	DefaultBranch string
	Ref           string // the branch or ref read
	Commit        string // its commit SHA
	Files         []DirFile
}

// dirFragment is the selection on a commit: the directory's blobs.
const dirFragment = `oid ... on Commit { file(path: %s) { object { ... on Tree { entries { name type object { ... on Blob { text isTruncated isBinary } } } } } } }`

// DirsAt reads several directories, each from its repository at its ref,
// in one GraphQL query (one API call), each at one commit. Files are the
// directory's own blobs (no subdirectories), sorted by name.
func (c *Client) DirsAt(ctx context.Context, qs []DirQuery) ([]Dir, error) {
	var q strings.Builder
	q.WriteString("query {")
	for i, d := range qs {
		fmt.Fprintf(&q, " r%d: repository(owner: %s, name: %s) { databaseId nameWithOwner owner { ... on Organization { databaseId } ... on User { databaseId } } defaultBranchRef { name target { %s } }",
			i, gqlString(d.Owner), gqlString(d.Repo), fmt.Sprintf(dirFragment, gqlString(d.Path)))
		if d.Ref != "" {
			fmt.Fprintf(&q, " ref(qualifiedName: %s) { name target { %s } }", gqlString(qualifiedRef(d.Ref)), fmt.Sprintf(dirFragment, gqlString(d.Path)))
		}
		q.WriteString(" }")
	}
	q.WriteString(" }")
	var ans struct {
		Data   map[string]*gqlRepo `json:"data"`
		Errors []struct {
			Type    string   `json:"type"`
			Message string   `json:"message"`
			Path    []string `json:"path"`
		} `json:"errors"`
	}
	op := "read the policy directories"
	// A query changes nothing: safe to repeat after a failure.
	if _, err := c.Do(RetrySafe(ctx), op, http.MethodPost, c.graphqlPath(), map[string]string{"query": q.String()}, &ans); err != nil {
		return nil, err
	}
	for _, e := range ans.Errors {
		if e.Type != "NOT_FOUND" {
			return nil, &Error{Class: ClassInvalidAnswer, Op: op, Message: "GraphQL error: " + c.scrub(e.Message), Fix: fixes[ClassInvalidAnswer]}
		}
	}
	out := make([]Dir, len(qs))
	for i, d := range qs {
		out[i] = Dir{Query: d}
		r := ans.Data["r"+strconv.Itoa(i)]
		if r == nil {
			continue
		}
		if err := r.fill(&out[i]); err != nil {
			return nil, &Error{Class: ClassInvalidAnswer, Op: op, Message: err.Error(), Fix: "keep policy files small UTF-8 text (under 1 MB)"}
		}
	}
	return out, nil
}

type gqlRef struct {
	Name   string `json:"name"`
	Target struct {
		OID  string `json:"oid"`
		File *struct {
			Object *struct {
				Entries []struct {
					Name   string `json:"name"`
					Type   string `json:"type"`
					Object *struct {
						Text        *string `json:"text"`
						IsTruncated bool    `json:"isTruncated"`
						IsBinary    bool    `json:"isBinary"`
					} `json:"object"`
				} `json:"entries"`
			} `json:"object"`
		} `json:"file"`
	} `json:"target"`
}

type gqlRepo struct {
	DatabaseID    int64  `json:"databaseId"`
	NameWithOwner string `json:"nameWithOwner"`
	Owner         struct {
		DatabaseID int64 `json:"databaseId"`
	} `json:"owner"`
	DefaultBranchRef *gqlRef `json:"defaultBranchRef"`
	Ref              *gqlRef `json:"ref"`
}

func (r *gqlRepo) fill(d *Dir) error {
	d.Found, d.FullName, d.RepositoryID, d.OwnerID = true, r.NameWithOwner, r.DatabaseID, r.Owner.DatabaseID
	ref := r.DefaultBranchRef
	if ref != nil {
		d.DefaultBranch = ref.Name
	}
	if d.Query.Ref != "" {
		ref = r.Ref
		if ref == nil {
			return fmt.Errorf("%s has no ref %q", r.NameWithOwner, d.Query.Ref)
		}
	}
	if ref == nil {
		return nil // an empty repository
	}
	d.Ref, d.Commit = ref.Name, ref.Target.OID
	if ref.Target.File == nil || ref.Target.File.Object == nil {
		return nil
	}
	for _, e := range ref.Target.File.Object.Entries {
		if e.Type != "blob" || e.Object == nil {
			continue
		}
		if e.Object.IsBinary || e.Object.IsTruncated || e.Object.Text == nil {
			return fmt.Errorf("%s/%s in %s is binary or too large to read", d.Query.Path, e.Name, r.NameWithOwner)
		}
		d.Files = append(d.Files, DirFile{Name: e.Name, Data: []byte(*e.Object.Text)})
	}
	sort.Slice(d.Files, func(i, j int) bool { return d.Files[i].Name < d.Files[j].Name })
	return nil
}

// graphqlPath is the GraphQL endpoint relative to the REST base URL:
// /graphql on github.com, /api/graphql on GitHub Enterprise Server
// (REST at /api/v3).
func (c *Client) graphqlPath() string {
	if strings.HasSuffix(c.base.Path, "/api/v3/") {
		return "../graphql"
	}
	return "graphql"
}

func qualifiedRef(ref string) string {
	if strings.HasPrefix(ref, "refs/") {
		return ref
	}
	return "refs/heads/" + ref
}

// gqlString quotes s as a GraphQL string literal (JSON's escapes are
// GraphQL's).
func gqlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// AppInstallation reads installation id (App JWT): GET /app/installations/{id}.
func (c *Client) AppInstallation(ctx context.Context, id int64) (*Installation, error) {
	op := fmt.Sprintf("read installation %d", id)
	var in Installation
	_, err := c.Do(ctx, op, http.MethodGet, "app/installations/"+strconv.FormatInt(id, 10), nil, &in)
	if e, ok := AsError(err); ok && e.Class == ClassNotFound {
		e.Class, e.Fix = ClassNotInstalled, fmt.Sprintf("installation %d does not exist or belongs to another App: check installation-id and app-id", id)
	}
	if err != nil {
		return nil, err
	}
	return &in, nil
}

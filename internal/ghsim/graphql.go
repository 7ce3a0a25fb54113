package ghsim

import (
	"crypto/sha1" //nolint:gosec // git object IDs are SHA-1 by definition
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// graphqlSchema is the part of GitHub's GraphQL schema the simulator
// serves: repositories, their refs, and the files and trees of commits.
// Queries are parsed and validated against it by gqlparser, then executed
// field by field, so a query GitHub would reject is rejected here too.
const graphqlSchema = `
schema { query: Query }
type Query { repository(owner: String!, name: String!, followRenames: Boolean = true): Repository }
scalar GitObjectID
interface RepositoryOwner { login: String! }
interface GitObject { oid: GitObjectID! }
type Organization implements RepositoryOwner { login: String! databaseId: Int }
type User implements RepositoryOwner { login: String! databaseId: Int }
type Repository { databaseId: Int name: String! nameWithOwner: String! owner: RepositoryOwner! defaultBranchRef: Ref ref(qualifiedName: String!): Ref }
type Ref { name: String! prefix: String! target: GitObject }
type Commit implements GitObject { oid: GitObjectID! file(path: String!): TreeEntry }
type Tree implements GitObject { oid: GitObjectID! entries: [TreeEntry!] }
type Blob implements GitObject { oid: GitObjectID! text: String byteSize: Int! isBinary: Boolean isTruncated: Boolean! }
type TreeEntry { name: String! path: String type: String! oid: GitObjectID! object: GitObject }
`

var gqlSchema = gqlparser.MustLoadSchema(&ast.Source{Name: "github.graphql", Input: graphqlSchema})

// gqlBlobLimit is how much text GitHub returns of a blob (isTruncated beyond).
const gqlBlobLimit = 512 << 10

func (s *Sim) graphqlRoutes() {
	path := s.prefix + "/graphql"
	if s.prefix == "/api/v3" {
		path = "/api/graphql" // GitHub Enterprise Server's layout
	}
	s.handleGraphQL("POST "+path, s.graphql)
}

// handleGraphQL registers the GraphQL endpoint as the route "POST /graphql".
func (s *Sim) handleGraphQL(pattern string, h handlerFunc) {
	route := "POST /graphql"
	s.routeList = append(s.routeList, route)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.serveAPI(w, r, route, h)
	})
}

type gqlNode interface {
	typename() string
	field(c *call, name string, args map[string]any) any
}

func (s *Sim) graphql(c *call) {
	tok, ok := c.authToken()
	if !ok {
		return
	}
	var req struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if !c.decode(&req) {
		return
	}
	doc, errs := gqlparser.LoadQueryWithRules(gqlSchema, req.Query, rules.NewDefaultRules())
	if len(errs) > 0 {
		list := make([]obj, len(errs))
		for i, e := range errs {
			list[i] = obj{"message": e.Message}
		}
		c.json(http.StatusOK, obj{"errors": list})
		return
	}
	if len(doc.Operations) != 1 || doc.Operations[0].Operation != ast.Query {
		c.json(http.StatusOK, obj{"errors": []obj{{"message": "ghsim: one query operation per request"}}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := &gqlQuery{s: s, tok: tok, vars: req.Variables}
	data := q.selection(c, gqlRoot{}, doc.Operations[0].SelectionSet, nil)
	out := obj{"data": data}
	if len(q.errors) > 0 {
		out["errors"] = q.errors
	}
	c.json(http.StatusOK, out)
}

type gqlQuery struct {
	s      *Sim
	tok    *token
	vars   map[string]any
	errors []obj
}

func (q *gqlQuery) selection(c *call, n gqlNode, set ast.SelectionSet, path []string) obj {
	out := obj{}
	for _, sel := range set {
		switch f := sel.(type) {
		case *ast.Field:
			key := f.Alias
			if key == "" {
				key = f.Name
			}
			if f.Name == "__typename" {
				out[key] = n.typename()
				continue
			}
			v := q.resolve(c, n, f, append(path, key))
			out[key] = q.value(c, v, f.SelectionSet, append(path, key))
		case *ast.InlineFragment:
			if f.TypeCondition == "" || f.TypeCondition == n.typename() {
				for k, v := range q.selection(c, n, f.SelectionSet, path) {
					out[k] = v
				}
			}
		}
	}
	return out
}

func (q *gqlQuery) resolve(c *call, n gqlNode, f *ast.Field, path []string) any {
	args := f.ArgumentMap(q.vars)
	if root, ok := n.(gqlRoot); ok && f.Name == "repository" {
		r := root.repository(q, args)
		if r == nil {
			owner, _ := args["owner"].(string)
			name, _ := args["name"].(string)
			q.errors = append(q.errors, obj{"type": "NOT_FOUND", "path": path, "locations": []obj{{"line": f.Position.Line, "column": f.Position.Column}},
				"message": "Could not resolve to a Repository with the name '" + owner + "/" + name + "'."})
			return nil
		}
		return r
	}
	return n.field(c, f.Name, args)
}

func (q *gqlQuery) value(c *call, v any, set ast.SelectionSet, path []string) any {
	switch x := v.(type) {
	case nil:
		return nil
	case gqlNode:
		if isNilNode(x) {
			return nil
		}
		return q.selection(c, x, set, path)
	case []gqlNode:
		list := make([]any, len(x))
		for i, e := range x {
			list[i] = q.selection(c, e, set, path)
		}
		return list
	default:
		return x
	}
}

func isNilNode(n gqlNode) bool {
	switch x := n.(type) {
	case *gqlRepo:
		return x == nil
	case *gqlRef:
		return x == nil
	case *gqlEntry:
		return x == nil
	}
	return false
}

type gqlRoot struct{}

func (gqlRoot) typename() string                        { return "Query" }
func (gqlRoot) field(*call, string, map[string]any) any { return nil }

// repository finds a repository the token may read (contents: read).
func (gqlRoot) repository(q *gqlQuery, args map[string]any) *gqlRepo {
	owner, _ := args["owner"].(string)
	name, _ := args["name"].(string)
	r := q.s.repoByName(owner, name)
	if r == nil || !q.tok.covers(r) || !allows(q.tok.perms, "contents", "read") {
		return nil
	}
	return &gqlRepo{r: r}
}

type gqlRepo struct{ r *repo }

func (*gqlRepo) typename() string { return "Repository" }
func (g *gqlRepo) field(_ *call, name string, args map[string]any) any {
	r := g.r
	switch name {
	case "databaseId":
		return r.ID
	case "name":
		return r.Name
	case "nameWithOwner":
		return r.FullName()
	case "owner":
		return gqlOwner{r.Owner}
	case "defaultBranchRef":
		return refNode(r, "refs/heads/"+r.DefaultBranch)
	case "ref":
		qn, _ := args["qualifiedName"].(string)
		return refNode(r, qn)
	}
	return nil
}

type gqlOwner struct{ a *account }

func (o gqlOwner) typename() string {
	if o.a.Type == "Organization" {
		return "Organization"
	}
	return "User"
}
func (o gqlOwner) field(_ *call, name string, _ map[string]any) any {
	switch name {
	case "login":
		return o.a.Login
	case "databaseId":
		return o.a.ID
	}
	return nil
}

type gqlRef struct {
	r      *repo
	name   string
	prefix string
	files  map[string][]byte
}

// refNode resolves a qualified ref ("refs/heads/main", "refs/tags/v1").
func refNode(r *repo, qualified string) gqlNode {
	var prefix string
	for _, p := range []string{"refs/heads/", "refs/tags/"} {
		if strings.HasPrefix(qualified, p) {
			prefix = p
		}
	}
	name := strings.TrimPrefix(qualified, prefix)
	files := r.Files[name]
	if prefix == "" || files == nil {
		return (*gqlRef)(nil)
	}
	return &gqlRef{r: r, name: name, prefix: prefix, files: files}
}

func (*gqlRef) typename() string { return "Ref" }
func (g *gqlRef) field(_ *call, name string, _ map[string]any) any {
	switch name {
	case "name":
		return g.name
	case "prefix":
		return g.prefix
	case "target":
		return gqlCommit{files: g.files}
	}
	return nil
}

// gqlCommit is the commit at a ref; its oid is derived from the files, so
// it changes exactly when they do.
type gqlCommit struct{ files map[string][]byte }

func (gqlCommit) typename() string { return "Commit" }
func (g gqlCommit) field(_ *call, name string, args map[string]any) any {
	switch name {
	case "oid":
		return CommitSHA(g.files)
	case "file":
		p, _ := args["path"].(string)
		return entryAt(g.files, strings.Trim(p, "/"))
	}
	return nil
}

// CommitSHA is the simulator's commit ID for a ref holding files.
func CommitSHA(files map[string][]byte) string {
	h := sha1.New() //nolint:gosec // a git-style object ID
	h.Write([]byte("commit\x00"))
	for _, p := range sortedKeys(files) {
		h.Write([]byte(p + "\x00" + gitBlobSHA(files[p]) + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

type gqlEntry struct {
	files map[string][]byte
	path  string
	dir   bool
}

func entryAt(files map[string][]byte, path string) gqlNode {
	if _, ok := files[path]; ok {
		return &gqlEntry{files: files, path: path}
	}
	for p := range files {
		if strings.HasPrefix(p, path+"/") || path == "" {
			return &gqlEntry{files: files, path: path, dir: true}
		}
	}
	return (*gqlEntry)(nil)
}

func (*gqlEntry) typename() string { return "TreeEntry" }
func (e *gqlEntry) field(_ *call, name string, _ map[string]any) any {
	switch name {
	case "name":
		return e.path[strings.LastIndex(e.path, "/")+1:]
	case "path":
		return e.path
	case "type":
		if e.dir {
			return "tree"
		}
		return "blob"
	case "oid":
		return e.oid()
	case "object":
		if e.dir {
			return gqlTree{e}
		}
		return gqlBlob{data: e.files[e.path]}
	}
	return nil
}

func (e *gqlEntry) oid() string {
	if !e.dir {
		return gitBlobSHA(e.files[e.path])
	}
	var b strings.Builder
	for _, c := range e.children() {
		b.WriteString(c.path + " " + c.oid() + "\n")
	}
	return gitBlobSHA([]byte("tree " + b.String()))
}

func (e *gqlEntry) children() []*gqlEntry {
	prefix := e.path + "/"
	if e.path == "" {
		prefix = ""
	}
	seen := map[string]bool{}
	var out []*gqlEntry
	for p := range e.files {
		rest, ok := strings.CutPrefix(p, prefix)
		if !ok {
			continue
		}
		child, _, isDir := strings.Cut(rest, "/")
		if !seen[child] {
			seen[child] = true
			out = append(out, &gqlEntry{files: e.files, path: prefix + child, dir: isDir})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

type gqlTree struct{ e *gqlEntry }

func (gqlTree) typename() string { return "Tree" }
func (t gqlTree) field(_ *call, name string, _ map[string]any) any {
	switch name {
	case "oid":
		return t.e.oid()
	case "entries":
		var out []gqlNode
		for _, c := range t.e.children() {
			out = append(out, c)
		}
		return out
	}
	return nil
}

type gqlBlob struct{ data []byte }

func (gqlBlob) typename() string { return "Blob" }
func (b gqlBlob) field(_ *call, name string, _ map[string]any) any {
	binary := !utf8.Valid(b.data) || strings.ContainsRune(string(b.data), 0)
	switch name {
	case "oid":
		return gitBlobSHA(b.data)
	case "byteSize":
		return len(b.data)
	case "isBinary":
		return binary
	case "isTruncated":
		return len(b.data) > gqlBlobLimit
	case "text":
		if binary {
			return nil
		}
		if len(b.data) > gqlBlobLimit {
			return string(b.data[:gqlBlobLimit])
		}
		return string(b.data)
	}
	return nil
}

// Command cutspec cuts the GitHub REST operations jitkey uses, with every
// component they reference, out of GitHub's official OpenAPI description as
// published on npm by @octokit/openapi, into one small deterministic JSON file
// that the contract package embeds.
//
// It reads the npm tarball itself (no unpacking), from a path given by flag:
//
//	npm pack @octokit/openapi@23.0.2
//	go run ./internal/cutspec -tgz octokit-openapi-23.0.2.tgz -out testdata/openapi/github.json
//
// Operations come from generated/api.github.com.json; the few that exist only
// on GitHub Enterprise Cloud (SSO credential authorizations) come from
// generated/ghec.json and carry "x-jitkey-source": "ghec.json".
//
// With -fixtures it cuts recordings of real api.github.com traffic from the
// @octokit/fixtures tarball instead (see fixtures.go):
//
//	npm pack @octokit/fixtures@23.1.2
//	go run ./internal/cutspec -fixtures octokit-fixtures-23.1.2.tgz -out testdata/fixtures/octokit.json
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("cutspec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tgz := fs.String("tgz", "", "path of the @octokit/openapi npm tarball (npm pack @octokit/openapi@23.0.2)")
	out := fs.String("out", "testdata/openapi/github.json", "file to write the cut description to")
	fixtures := fs.String("fixtures", "", "cut recordings instead, from the @octokit/fixtures npm tarball (npm pack @octokit/fixtures@23.1.2)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cut, src := cutFile, *tgz
	if *fixtures != "" {
		cut, src = cutFixtures, *fixtures
	}
	if src == "" {
		fmt.Fprintln(stderr, "cutspec: no tarball: run `npm pack @octokit/openapi@23.0.2` and pass its path with -tgz (or OPENAPI_TGZ to go generate)")
		return 2
	}
	data, err := cut(src)
	if err != nil {
		fmt.Fprintf(stderr, "cutspec: %v\n", err)
		return 1
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		fmt.Fprintf(stderr, "cutspec: write %s: %v\n", *out, err)
		return 1
	}
	return 0
}

// Names of the files read from the tarball.
const (
	fileDotcom  = "package/generated/api.github.com.json"
	fileGHEC    = "package/generated/ghec.json"
	filePackage = "package/package.json"
	fileLicense = "package/LICENSE"
)

func cutFile(tgzPath string) ([]byte, error) {
	f, err := os.Open(tgzPath)
	if err != nil {
		return nil, fmt.Errorf("open tarball: %w", err)
	}
	defer f.Close()
	files, err := readTarball(f, fileDotcom, fileGHEC, filePackage, fileLicense)
	if err != nil {
		return nil, err
	}
	var pkg struct{ Name, Version, License string }
	if err := json.Unmarshal(files[filePackage], &pkg); err != nil {
		return nil, fmt.Errorf("decode package.json: %w", err)
	}
	dotcom, err := decode(files[fileDotcom])
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", fileDotcom, err)
	}
	ghec, err := decode(files[fileGHEC])
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", fileGHEC, err)
	}
	doc, err := cut(dotcom, ghec, allOperations(), undocumented)
	if err != nil {
		return nil, err
	}
	doc["info"] = info(dotcom, pkg.Name, pkg.Version, pkg.License, string(files[fileLicense]))
	return encode(doc)
}

// readTarball returns the named files of a gzipped tarball.
func readTarball(r io.Reader, names ...string) (map[string][]byte, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("read tarball: %w", err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	files := map[string][]byte{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read tarball: %w", err)
		}
		if !want[h.Name] {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", h.Name, err)
		}
		files[h.Name] = b
	}
	for _, n := range names {
		if _, ok := files[n]; !ok {
			return nil, fmt.Errorf("tarball lacks %s: is it @octokit/openapi?", n)
		}
	}
	return files, nil
}

func decode(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// encode writes JSON with sorted keys and one-space indent, so the cut is the
// same bytes for the same input.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	e.SetIndent("", " ")
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func allOperations() []string {
	ops := append([]string(nil), operations...)
	for _, kind := range secretKinds {
		for _, op := range secretOperations {
			ops = append(ops, fmt.Sprintf(op, kind))
		}
	}
	return ops
}

func info(src map[string]any, name, version, license, licenseText string) map[string]any {
	srcInfo, _ := src["info"].(map[string]any)
	return map[string]any{
		"title":   "GitHub REST API, the operations jitkey uses",
		"version": version,
		"description": fmt.Sprintf("Cut by internal/ghsim/contract/internal/cutspec from %s@%s "+
			"(generated/api.github.com.json, plus generated/ghec.json for operations marked x-jitkey-source), "+
			"which publishes GitHub's official OpenAPI description (https://github.com/github/rest-api-description). "+
			"Only the listed operations and the components they reference are kept; media-type and parameter "+
			"examples are dropped. Operations marked x-jitkey-undocumented are not in the description: GitHub serves "+
			"them and go-github v62 calls them, so they are copies of their described twin. Licensed %s; the licence text is in x-jitkey-source.license-text.", name, version, license),
		"license": srcInfo["license"],
		"x-jitkey-source": map[string]any{
			"package":      name,
			"version":      version,
			"files":        []string{"generated/api.github.com.json", "generated/ghec.json"},
			"license":      license,
			"license-text": licenseText,
			"upstream":     "https://github.com/github/rest-api-description",
		},
	}
}

// cut builds the document holding ops (taken from primary, or from secondary
// when primary lacks them) and every component they reference, plus the
// aliases (undocumented operation -> described twin).
func cut(primary, secondary map[string]any, ops []string, aliases map[string]string) (map[string]any, error) {
	c := &cutter{components: map[string]map[string]any{}, origin: map[string]string{}}
	paths := map[string]any{}
	// Primary operations first, so that a component both descriptions hold
	// comes from the primary one whatever the order of ops.
	var fromPrimary, fromSecondary []string
	for _, op := range ops {
		method, path, ok := strings.Cut(op, " ")
		if !ok {
			return nil, fmt.Errorf("operation %q: want \"METHOD /path\"", op)
		}
		switch {
		case lookup(primary, path, strings.ToLower(method)) != nil:
			fromPrimary = append(fromPrimary, op)
		case lookup(secondary, path, strings.ToLower(method)) != nil:
			fromSecondary = append(fromSecondary, op)
		default:
			return nil, fmt.Errorf("operation %s: in neither description", op)
		}
	}
	for i, op := range append(fromPrimary, fromSecondary...) {
		method, path, _ := strings.Cut(op, " ")
		method = strings.ToLower(method)
		src, srcName := primary, ""
		if i >= len(fromPrimary) {
			src, srcName = secondary, "ghec.json"
		}
		operation := lookup(src, path, method)
		operation = clone(operation).(map[string]any)
		stripOperationExamples(operation)
		if srcName != "" {
			operation["x-jitkey-source"] = srcName
		}
		if err := c.collect(src, srcName, operation); err != nil {
			return nil, fmt.Errorf("operation %s: %w", op, err)
		}
		item, _ := paths[path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[path] = item
			if params, ok := src["paths"].(map[string]any)[path].(map[string]any)["parameters"]; ok {
				item["parameters"] = clone(params)
				if err := c.collect(src, srcName, params); err != nil {
					return nil, fmt.Errorf("operation %s: %w", op, err)
				}
			}
		}
		item[method] = operation
	}
	for _, op := range sortedKeys(aliases) {
		if err := addUndocumented(paths, op, aliases[op]); err != nil {
			return nil, err
		}
	}
	if len(aliases) > 0 {
		if err := c.add(primary, "", "#/components/parameters/repository-id"); err != nil {
			return nil, err
		}
	}
	components := map[string]any{}
	for kind, named := range c.components {
		components[kind] = named
	}
	return map[string]any{
		"openapi":    primary["openapi"],
		"servers":    primary["servers"],
		"paths":      paths,
		"components": components,
	}, nil
}

// addUndocumented adds op as a copy of its described twin, with the
// {owner} and {repo} parameters replaced by {repository_id}.
func addUndocumented(paths map[string]any, op, twin string) error {
	tmethod, tpath, _ := strings.Cut(twin, " ")
	item, _ := paths[tpath].(map[string]any)
	orig, _ := item[strings.ToLower(tmethod)].(map[string]any)
	if orig == nil {
		return fmt.Errorf("undocumented operation %s: its twin %s is not cut", op, twin)
	}
	copied := clone(orig).(map[string]any)
	params := []any{map[string]any{"$ref": "#/components/parameters/repository-id"}}
	for _, p := range copied["parameters"].([]any) {
		ref, _ := p.(map[string]any)["$ref"].(string)
		if ref == "#/components/parameters/owner" || ref == "#/components/parameters/repo" {
			continue
		}
		params = append(params, p)
	}
	copied["parameters"] = params
	copied["operationId"] = fmt.Sprint(copied["operationId"], "-by-repository-id")
	copied["x-jitkey-undocumented"] = "GitHub serves this path but its description no longer lists it; " +
		"go-github v62 calls it. Copied from " + twin + " with {owner}/{repo} replaced by {repository_id}."
	method, path, _ := strings.Cut(op, " ")
	target, _ := paths[path].(map[string]any)
	if target == nil {
		target = map[string]any{}
		paths[path] = target
	}
	target[strings.ToLower(method)] = copied
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func lookup(doc map[string]any, path, method string) map[string]any {
	item, _ := doc["paths"].(map[string]any)[path].(map[string]any)
	op, _ := item[method].(map[string]any)
	return op
}

type cutter struct {
	components map[string]map[string]any // kind -> name -> component
	origin     map[string]string         // "kind/name" -> source name ("" for primary)
}

// collect adds every component v references, transitively, from src.
func (c *cutter) collect(src map[string]any, srcName string, v any) error {
	var refs []string
	walkRefs(v, &refs)
	sort.Strings(refs)
	for _, ref := range refs {
		if err := c.add(src, srcName, ref); err != nil {
			return err
		}
	}
	return nil
}

func (c *cutter) add(src map[string]any, srcName, ref string) error {
	rest, ok := strings.CutPrefix(ref, "#/components/")
	if !ok {
		return fmt.Errorf("reference %q: only #/components/ references are supported", ref)
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 2 {
		return fmt.Errorf("reference %q: want #/components/KIND/NAME", ref)
	}
	kind, name := parts[0], parts[1]
	comp, ok := src["components"].(map[string]any)[kind].(map[string]any)[name]
	if !ok {
		return fmt.Errorf("reference %q: no such component", ref)
	}
	comp = clone(comp)
	if kind == "responses" || kind == "parameters" || kind == "requestBodies" {
		stripExamples(comp)
	}
	key := kind + "/" + name
	if have, ok := c.components[kind][name]; ok {
		if c.origin[key] == srcName {
			return nil
		}
		// The two descriptions link to their own documentation sites; any
		// other difference would make one component serve two contracts.
		a, _ := encode(withoutProse(have))
		b, _ := encode(withoutProse(comp))
		if !bytes.Equal(a, b) {
			return fmt.Errorf("component %s differs between api.github.com.json and %s", key, srcName)
		}
		return nil
	}
	if c.components[kind] == nil {
		c.components[kind] = map[string]any{}
	}
	c.components[kind][name] = comp
	c.origin[key] = srcName
	return c.collect(src, srcName, comp)
}

func walkRefs(v any, refs *[]string) {
	switch v := v.(type) {
	case map[string]any:
		if r, ok := v["$ref"].(string); ok {
			*refs = append(*refs, r)
		}
		for _, x := range v {
			walkRefs(x, refs)
		}
	case []any:
		for _, x := range v {
			walkRefs(x, refs)
		}
	}
}

// stripOperationExamples drops the examples of an operation's parameters,
// request body and responses: they are documentation, not contract, and
// would triple the size of the cut.
func stripOperationExamples(op map[string]any) {
	if params, ok := op["parameters"].([]any); ok {
		for _, p := range params {
			stripExamples(p)
		}
	}
	stripExamples(op["requestBody"])
	if responses, ok := op["responses"].(map[string]any); ok {
		for _, r := range responses {
			stripExamples(r)
		}
	}
}

// stripExamples removes examples from one parameter, request body or response
// object: its own "example(s)" and those of its media types.
func stripExamples(v any) {
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	delete(obj, "examples")
	delete(obj, "example")
	if content, ok := obj["content"].(map[string]any); ok {
		for _, mt := range content {
			if mt, ok := mt.(map[string]any); ok {
				delete(mt, "examples")
				delete(mt, "example")
			}
		}
	}
}

// withoutProse returns a copy of v without its "description" strings (a
// property named "description" holds an object and stays).
func withoutProse(v any) any {
	v = clone(v)
	var strip func(any)
	strip = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["description"].(string); ok {
				delete(v, "description")
			}
			for _, x := range v {
				strip(x)
			}
		case []any:
			for _, x := range v {
				strip(x)
			}
		}
	}
	strip(v)
	return v
}

func clone(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = clone(x)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = clone(x)
		}
		return s
	default:
		return v
	}
}

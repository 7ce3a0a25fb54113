// Package mutate makes single-change mutants of CUE policy files: the
// corpus on which the semantic oracle test holds jitkey's verdict and
// meaning to the cue command's. Each mutant changes one thing: a field
// removed, an unknown field added, a value put behind a disjunction, a
// default, a definition, a hidden field, a comprehension or an import,
// a BOM, non-ASCII text, a huge value. Field removals and unknown fields
// cover every field and every struct; for the other changes a seeded
// random choice picks one change per value, so that two seeds give two
// different corpora, each reproducible.
package mutate

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
)

// Mutant is one changed copy of a source file.
type Mutant struct {
	Name   string // file name; ends in _test.cue when the source does
	Source string // the file it was made from
	Change string // what was changed, one line
	Data   []byte
}

// Limit is how many mutants Generate returns at most: a seeded sample of
// all it can make, so that the oracle's cost stays bounded as policies/
// grows (each cue evaluation costs about 20 ms).
const Limit = 700

// Generate returns at most Limit mutants of files (name -> content), in a
// deterministic order for a given seed.
func Generate(seed uint64, files map[string][]byte) ([]Mutant, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) //nolint:gosec // G404: a reproducible corpus wants a seeded generator; nothing here is secret
	var out []Mutant
	for _, name := range names {
		ms, err := generateFile(rng, name, files[name])
		if err != nil {
			return nil, fmt.Errorf("mutate %s: %w", name, err)
		}
		out = append(out, ms...)
	}
	if len(out) > Limit {
		keep := rng.Perm(len(out))[:Limit]
		slices.Sort(keep)
		sample := make([]Mutant, len(keep))
		for i, k := range keep {
			sample[i] = out[k]
		}
		out = sample
	}
	return out, nil
}

// change is one mutation: it edits a freshly parsed copy of the file, at
// one slot, and describes itself.
type change struct {
	slot int // index into slots(f); -1 for a file-level change
	desc string
	edit func(f *ast.File, s *slot) error
	raw  func(data []byte) []byte // a change of bytes, after formatting
}

func generateFile(rng *rand.Rand, name string, data []byte) ([]Mutant, error) {
	f, err := parser.ParseFile(name, data, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var changes []change
	changes = append(changes, fileChanges()...)
	for i, s := range slots(f) {
		changes = append(changes, slotChanges(rng, i, s)...)
	}
	// policies/acme/api/deploy.cue -> acme-api-deploy, so that files of
	// one name in two directories make distinct mutants.
	base := strings.TrimSuffix(strings.ReplaceAll(strings.TrimPrefix(name, "policies/"), "/", "-"), ".cue")
	base = strings.TrimPrefix(base, ".")
	suffix := ".cue"
	if stem, ok := strings.CutSuffix(base, "_test"); ok {
		base, suffix = stem, "_test.cue"
	}
	var out []Mutant
	for n, c := range changes {
		mdata, err := apply(name, data, c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.desc, err)
		}
		out = append(out, Mutant{
			Name:   fmt.Sprintf("%s-%03d%s", base, n, suffix),
			Source: name,
			Change: c.desc,
			Data:   mdata,
		})
	}
	return out, nil
}

// apply parses data again, makes the change and formats the result.
func apply(name string, data []byte, c change) ([]byte, error) {
	f, err := parser.ParseFile(name, data, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var s *slot
	if c.slot >= 0 {
		all := slots(f)
		s = &all[c.slot]
	}
	if c.edit != nil {
		if err := c.edit(f, s); err != nil {
			return nil, err
		}
	}
	out, err := format.Node(f)
	if err != nil {
		return nil, fmt.Errorf("format: %w", err)
	}
	if c.raw != nil {
		out = c.raw(out)
	}
	return out, nil
}

// slot is a place in the file that holds a value: a field's value or a
// list element.
type slot struct {
	path  string
	get   func() ast.Expr
	set   func(ast.Expr)
	field *ast.Field  // the field, for a field's value
	decls *[]ast.Decl // the declarations holding field
	elems *[]ast.Expr // the list holding an element
	index int         // of field in decls, or of the element in elems
}

// slots lists every value of f, depth first, in source order.
func slots(f *ast.File) []slot {
	var out []slot
	var decls func(ds *[]ast.Decl, prefix string)
	var expr func(e ast.Expr, p string)
	decls = func(ds *[]ast.Decl, prefix string) {
		for i, d := range *ds {
			fd, ok := d.(*ast.Field)
			if !ok {
				continue
			}
			name, _, err := ast.LabelName(fd.Label)
			if err != nil {
				continue
			}
			p := strings.TrimPrefix(prefix+"."+name, ".")
			out = append(out, slot{path: p, field: fd, decls: ds, index: i,
				get: func() ast.Expr { return fd.Value }, set: func(e ast.Expr) { fd.Value = e }})
			expr(fd.Value, p)
		}
	}
	expr = func(e ast.Expr, p string) {
		switch x := e.(type) {
		case *ast.StructLit:
			decls(&x.Elts, p)
		case *ast.ListLit:
			for j := range x.Elts {
				if _, ok := x.Elts[j].(*ast.Ellipsis); ok {
					continue
				}
				ep := p + "." + strconv.Itoa(j)
				out = append(out, slot{path: ep, elems: &x.Elts, index: j,
					get: func() ast.Expr { return x.Elts[j] }, set: func(e ast.Expr) { x.Elts[j] = e }})
				expr(x.Elts[j], ep)
			}
		}
	}
	decls(&f.Decls, "")
	return out
}

// fileChanges are the changes of the whole file, made to every file.
func fileChanges() []change {
	return []change{
		{slot: -1, desc: "a UTF-8 byte order mark before the file", raw: func(b []byte) []byte {
			return append([]byte("\uFEFF"), b...)
		}},
		{slot: -1, desc: "CRLF line endings", raw: func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
		}},
		{slot: -1, desc: "a non-ASCII comment", raw: func(b []byte) []byte {
			return append([]byte("// Richtlinie für die Bereitstellung — 部署 ✓\n"), b...)
		}},
		{slot: -1, desc: "a package clause", edit: func(f *ast.File, _ *slot) error {
			f.Decls = append([]ast.Decl{&ast.Package{Name: ast.NewIdent("acme")}}, f.Decls...)
			return nil
		}},
		{slot: -1, desc: "an import outside the standard library", edit: func(f *ast.File, _ *slot) error {
			addImport(f, "acme.com/shared")
			return nil
		}},
		{slot: -1, desc: "an unused standard-library import", edit: func(f *ast.File, _ *slot) error {
			addImport(f, "strings")
			return nil
		}},
		{slot: -1, desc: "a top-level hidden field, unused", edit: func(f *ast.File, _ *slot) error {
			f.Decls = append(f.Decls, &ast.Field{Label: ast.NewIdent("_note"), Value: ast.NewString("kept out of the policy")})
			return nil
		}},
		{slot: -1, desc: "a top-level hidden field in conflict with itself", edit: func(f *ast.File, _ *slot) error {
			f.Decls = append(f.Decls, &ast.Field{Label: ast.NewIdent("_n"), Value: ast.NewBinExpr(token.AND, ast.NewLit(token.INT, "1"), ast.NewLit(token.INT, "2"))})
			return nil
		}},
		{slot: -1, desc: "a top-level definition, unused", edit: func(f *ast.File, _ *slot) error {
			f.Decls = append(f.Decls, &ast.Field{Label: ast.NewIdent("#Env"), Value: ast.NewBinExpr(token.OR, ast.NewString("staging"), ast.NewString("production"))})
			return nil
		}},
		{slot: -1, desc: "apiVersion stated twice", edit: func(f *ast.File, _ *slot) error {
			f.Decls = append(f.Decls, &ast.Field{Label: ast.NewIdent("apiVersion"), Value: ast.NewString("jitkey.dev/v1")})
			return nil
		}},
		{slot: -1, desc: "an unknown top-level field", edit: func(f *ast.File, _ *slot) error {
			f.Decls = append(f.Decls, &ast.Field{Label: ast.NewIdent("unknown_field"), Value: ast.NewString("x")})
			return nil
		}},
		{slot: -1, desc: "a field attribute", edit: func(f *ast.File, _ *slot) error {
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.Field); ok {
					fd.Attrs = append(fd.Attrs, &ast.Attribute{Text: "@jitkey(note)"})
					return nil
				}
			}
			return nil
		}},
		{slot: -1, desc: "text after the last field", raw: func(b []byte) []byte {
			return append(b, []byte("}\n")...)
		}},
	}
}

// addImport adds an import declaration after the package clause.
func addImport(f *ast.File, p string) {
	at := 0
	for i, d := range f.Decls {
		switch d.(type) {
		case *ast.Package, *ast.ImportDecl:
			at = i + 1
		}
	}
	decl := &ast.ImportDecl{Specs: []*ast.ImportSpec{ast.NewImport(nil, p)}}
	f.Decls = slices.Insert(f.Decls, at, ast.Decl(decl))
}

// slotChanges are the changes of one value: its removal, an unknown
// field in a struct, and one change picked by rng among those that apply
// to its kind.
func slotChanges(rng *rand.Rand, i int, s slot) []change {
	var out []change
	if s.field != nil {
		out = append(out, change{slot: i, desc: "remove field " + s.path, edit: func(_ *ast.File, s *slot) error {
			*s.decls = slices.Delete(*s.decls, s.index, s.index+1)
			return nil
		}})
	} else {
		out = append(out, change{slot: i, desc: "remove list element " + s.path, edit: func(_ *ast.File, s *slot) error {
			*s.elems = slices.Delete(*s.elems, s.index, s.index+1)
			return nil
		}})
	}
	var picks []change
	switch v := s.get().(type) {
	case *ast.StructLit:
		out = append(out, change{slot: i, desc: "unknown field in " + s.path, edit: func(_ *ast.File, s *slot) error {
			st := s.get().(*ast.StructLit)
			st.Elts = append(st.Elts, &ast.Field{Label: ast.NewIdent("unknown_field"), Value: ast.NewString("x")})
			st.Lbrace, st.Rbrace = token.NoPos, token.NoPos
			return nil
		}})
		picks = structChanges(i, s.path)
	case *ast.ListLit:
		picks = listChanges(i, s.path, len(v.Elts))
	case *ast.BasicLit:
		picks = scalarChanges(i, s.path, v)
	}
	if len(picks) > 0 {
		out = append(out, picks[rng.IntN(len(picks))])
	}
	return out
}

// replace returns a change that replaces the value by what build makes
// of it, adding top-level declarations decls makes.
func replace(i int, desc string, build func(v ast.Expr) ast.Expr) change {
	return change{slot: i, desc: desc, edit: func(_ *ast.File, s *slot) error {
		s.set(build(s.get()))
		return nil
	}}
}

// hoist returns a change that moves the value to a new top-level field
// named label and refers to it.
func hoist(i int, desc, label string) change {
	return change{slot: i, desc: desc, edit: func(f *ast.File, s *slot) error {
		f.Decls = append(f.Decls, &ast.Field{Label: ast.NewIdent(label), Value: s.get()})
		s.set(ast.NewIdent(label))
		return nil
	}}
}

func or(xs ...ast.Expr) ast.Expr { return ast.NewBinExpr(token.OR, xs...) }

func star(x ast.Expr) ast.Expr { return &ast.UnaryExpr{Op: token.MUL, X: x} }

func structChanges(i int, p string) []change {
	return []change{
		replace(i, "a disjunction whose second branch has a misspelt field at "+p, func(v ast.Expr) ast.Expr {
			st := v.(*ast.StructLit)
			typo := &ast.StructLit{Elts: slices.Clone(st.Elts)}
			typo.Elts = append(typo.Elts, &ast.Field{Label: ast.NewIdent("evnet_name"), Value: ast.NewString("push")})
			st.Lbrace, st.Rbrace = token.NoPos, token.NoPos
			return or(st, typo)
		}),
		replace(i, "the fields of "+p+" behind `if true`", func(v ast.Expr) ast.Expr {
			st := v.(*ast.StructLit)
			body := &ast.StructLit{Elts: st.Elts}
			return &ast.StructLit{Elts: []ast.Decl{&ast.Comprehension{
				Clauses: []ast.Clause{&ast.IfClause{Condition: ast.NewBool(true)}}, Value: body}}}
		}),
		replace(i, "the struct "+p+" as the default of a disjunction with {}", func(v ast.Expr) ast.Expr {
			return or(star(v), &ast.StructLit{})
		}),
		replace(i, "the struct "+p+" left open with ...", func(v ast.Expr) ast.Expr {
			st := v.(*ast.StructLit)
			st.Elts = append(slices.Clone(st.Elts), &ast.Ellipsis{})
			st.Lbrace, st.Rbrace = token.NoPos, token.NoPos
			return st
		}),
		hoist(i, "the struct "+p+" moved into a definition", "#S"),
		hoist(i, "the struct "+p+" moved into a hidden field", "_s"),
	}
}

func listChanges(i int, p string, n int) []change {
	out := []change{
		replace(i, "the list "+p+" written as a comprehension", func(v ast.Expr) ast.Expr {
			return &ast.ListLit{Elts: []ast.Expr{&ast.Comprehension{
				Clauses: []ast.Clause{&ast.ForClause{Value: ast.NewIdent("x"), Source: v}},
				Value:   &ast.StructLit{Elts: []ast.Decl{&ast.EmbedDecl{Expr: ast.NewIdent("x")}}}}}}
		}),
		replace(i, "the list "+p+" emptied", func(ast.Expr) ast.Expr { return &ast.ListLit{} }),
		replace(i, "the list "+p+" with an open tail", func(v ast.Expr) ast.Expr {
			l := v.(*ast.ListLit)
			l.Elts = append(slices.Clone(l.Elts), &ast.Ellipsis{})
			return l
		}),
		hoist(i, "the list "+p+" moved into a definition", "#L"),
		replace(i, "the list "+p+" as the default of a disjunction with []", func(v ast.Expr) ast.Expr {
			return or(star(v), &ast.ListLit{})
		}),
	}
	if n >= 2 {
		out = append(out, replace(i, "the list "+p+" written as a disjunction of its elements", func(v ast.Expr) ast.Expr {
			return or(v.(*ast.ListLit).Elts...)
		}))
	}
	if n == 1 {
		out = append(out, replace(i, "the one-element list "+p+" written as its element", func(v ast.Expr) ast.Expr {
			return v.(*ast.ListLit).Elts[0]
		}))
	}
	if n >= 1 {
		out = append(out, replace(i, "the first element of "+p+" repeated", func(v ast.Expr) ast.Expr {
			l := v.(*ast.ListLit)
			l.Elts = append([]ast.Expr{l.Elts[0]}, l.Elts...)
			return l
		}))
	}
	return out
}

func scalarChanges(i int, p string, lit *ast.BasicLit) []change {
	var other, wrong, rejected, typ, viaImport ast.Expr
	var pkg string
	var extra []change
	switch lit.Kind {
	case token.STRING:
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			return nil
		}
		other, wrong, rejected, typ = ast.NewString(s+"-x"), ast.NewLit(token.INT, "42"), ast.NewString(""), ast.NewIdent("string")
		pkg, viaImport = "strings", ast.NewCall(ast.NewSel(ast.NewIdent("strings"), "TrimSpace"), ast.NewString(" "+s+" "))
		extra = []change{
			replace(i, "non-ASCII letters in the string at "+p, func(ast.Expr) ast.Expr { return ast.NewString(s + "-ünïcødé") }),
			replace(i, "the string at "+p+" made huge (100,000 characters)", func(ast.Expr) ast.Expr {
				return ast.NewString(s + strings.Repeat("x", 100_000))
			}),
			replace(i, "the string at "+p+" built by interpolation", func(ast.Expr) ast.Expr {
				return &ast.Interpolation{Elts: []ast.Expr{ast.NewLit(token.STRING, `"\(`), ast.NewString(s), ast.NewLit(token.STRING, `)"`)}}
			}),
		}
	case token.INT:
		n, err := strconv.Atoi(lit.Value)
		if err != nil {
			return nil
		}
		other, wrong, rejected, typ = ast.NewLit(token.INT, strconv.Itoa(n+1)), ast.NewString(lit.Value), ast.NewLit(token.INT, "0"), ast.NewIdent("int")
		pkg, viaImport = "strconv", ast.NewCall(ast.NewSel(ast.NewIdent("strconv"), "Atoi"), ast.NewString(lit.Value))
		extra = []change{
			replace(i, "the number at "+p+" made huge", func(ast.Expr) ast.Expr { return ast.NewLit(token.INT, "1"+strings.Repeat("0", 40)) }),
			replace(i, "the number at "+p+" written as a float", func(ast.Expr) ast.Expr { return ast.NewLit(token.FLOAT, lit.Value+".0") }),
			replace(i, "the number at "+p+" computed", func(ast.Expr) ast.Expr {
				return ast.NewBinExpr(token.ADD, ast.NewLit(token.INT, strconv.Itoa(n-1)), ast.NewLit(token.INT, "1"))
			}),
		}
	case token.TRUE, token.FALSE:
		b := lit.Kind == token.TRUE
		other, wrong, rejected, typ = ast.NewBool(!b), ast.NewString("yes"), ast.NewNull(), ast.NewIdent("bool")
		pkg, viaImport = "strings", ast.NewCall(ast.NewSel(ast.NewIdent("strings"), "HasPrefix"), ast.NewString("ab"), ast.NewString(map[bool]string{true: "a", false: "b"}[b]))
		extra = []change{
			replace(i, "the boolean at "+p+" written as a string", func(ast.Expr) ast.Expr { return ast.NewString(strconv.FormatBool(b)) }),
			replace(i, "the boolean at "+p+" negated twice", func(v ast.Expr) ast.Expr {
				return &ast.UnaryExpr{Op: token.NOT, X: &ast.UnaryExpr{Op: token.NOT, X: v}}
			}),
		}
	default:
		return nil
	}
	out := []change{
		replace(i, "a disjunction with a branch of another type at "+p, func(v ast.Expr) ast.Expr { return or(v, wrong) }),
		replace(i, "a disjunction with a branch the schema rejects at "+p, func(v ast.Expr) ast.Expr { return or(v, rejected) }),
		replace(i, "a disjunction of two values at "+p, func(v ast.Expr) ast.Expr { return or(v, other) }),
		replace(i, "a marked default among two values at "+p, func(v ast.Expr) ast.Expr { return or(other, star(v)) }),
		replace(i, "a default among its type at "+p, func(v ast.Expr) ast.Expr { return or(star(v), typ) }),
		replace(i, "a value of another type at "+p, func(ast.Expr) ast.Expr { return wrong }),
		hoist(i, "the value at "+p+" moved into a definition", "#V"),
		hoist(i, "the value at "+p+" moved into a hidden field", "_v"),
		{slot: i, desc: "the value at " + p + " computed by a standard-library call", edit: func(f *ast.File, s *slot) error {
			s.set(viaImport)
			addImport(f, pkg)
			return nil
		}},
	}
	return append(out, extra...)
}

// Sources reads the *.cue files under fsys (jitkey's policies/), the
// files to mutate, named policies/PATH.
func Sources(fsys fs.FS) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".cue") {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		out["policies/"+p] = b
		return nil
	})
	return out, err
}

// File is the mutant as the corpus stores it: a comment naming the source
// and the change, after the byte order mark if the change added one.
func (m Mutant) File() []byte {
	head := []byte(fmt.Sprintf("// mutant of %s: %s\n", m.Source, m.Change))
	if rest, ok := bytes.CutPrefix(m.Data, []byte("\uFEFF")); ok {
		return append(append([]byte("\uFEFF"), head...), rest...)
	}
	return append(head, m.Data...)
}

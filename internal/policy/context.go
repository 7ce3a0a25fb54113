package policy

import (
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"

	_ "cuelang.org/go/pkg" // CUE's standard library, which policy files may import
)

// newContext returns a fresh CUE context: what cuecontext.New returns, less
// the @embed injection. Policy files and configurations are single files
// outside any CUE module, where embedding can only fail ("cannot embed files
// when not in a module"); embedFile says so first, in jitkey's words. The
// injection would link CUE's every encoding (protobuf, its descriptors and
// text format, TOML, XML, OpenAPI, JSON Schema): 2.4 MB and ~1 ms of package
// initialisation in every jitkey-mint process, for a feature no policy can
// use.
func newContext() *cue.Context {
	// cue.Runtime and its methods are deprecated in favour of cue.Context,
	// but they are the only way to a Context without cuecontext's
	// injections; BuildInstances of nothing initialises rt as
	// cuecontext.New does, building nothing.
	var rt cue.Runtime            //nolint:staticcheck // SA1019: see above
	_, _ = rt.BuildInstances(nil) //nolint:staticcheck // SA1019: see above
	return (*cue.Context)(&rt)
}

// embedFile finds a file-level @extern(embed) attribute of a file with a
// package clause (CUE itself refuses one without it, and one after it).
func embedFile(f *ast.File) (token.Pos, bool) {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.Package:
			return token.NoPos, false
		case *ast.Attribute:
			if key, body := d.Split(); key == "extern" && strings.Trim(strings.TrimSpace(body), `"`) == "embed" && hasPackage(f) {
				return d.Pos(), true
			}
		}
	}
	return token.NoPos, false
}

func hasPackage(f *ast.File) bool {
	for _, d := range f.Decls {
		if _, ok := d.(*ast.Package); ok {
			return true
		}
	}
	return false
}

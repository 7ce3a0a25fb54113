package policy

import (
	"fmt"
	"path"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/parser"

	"github.com/jitkey/jitkey/schemas"
)

// DecodeConfig checks a CUE configuration file against definition def (such
// as "#Serve") of the embedded schema file schemaFile (such as "serve.cue"),
// fills in the schema's defaults, and decodes the result into dst through
// its JSON tags. An invalid file is an Errors with positions in the file, as
// for policies; cue.Value never leaves this package.
func DecodeConfig(name string, data []byte, schemaFile, def string, dst any) error {
	if d, bad := checkBytes(name, data); bad {
		return Errors{d}
	}
	inst, err := configInstance(schemaFile)
	if err != nil {
		return err
	}
	ctx := newContext()
	sv := ctx.BuildInstance(inst)
	if err := sv.Err(); err != nil {
		return fmt.Errorf("build the embedded schema %s (a build defect): %w", schemaFile, err)
	}
	f, err := parser.ParseFile(name, data, parser.ParseComments)
	if err != nil {
		return Errors(syntaxDiagnostics(name, err))
	}
	if pos, ok := embedFile(f); ok {
		return Errors{toPos(name, pos).diag(CodeSchema, "", "%s", embedMessage)}
	}
	raw := ctx.BuildFile(f)
	if err := raw.Err(); err != nil {
		return Errors(cueDiagnostics(name, raw, raw, err))
	}
	v := raw.Unify(sv.LookupPath(cue.ParsePath(def)))
	if err := v.Validate(cue.Concrete(true), cue.All()); err != nil {
		return Errors(cueDiagnostics(name, raw, v, err))
	}
	if err := v.Decode(dst); err != nil {
		return fmt.Errorf("decode %s: %w", name, err)
	}
	return nil
}

var configInstances sync.Map // schema file -> func() (*build.Instance, error)

// configInstance assembles one embedded schema file as its own instance,
// once per process (see schemaInstance for why by hand).
func configInstance(file string) (*build.Instance, error) {
	f, _ := configInstances.LoadOrStore(file, sync.OnceValues(func() (*build.Instance, error) {
		data, err := schemas.FS.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read the embedded schema %s (a build defect): %w", file, err)
		}
		syn, err := parser.ParseFile(path.Join("schemas", file), data, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("parse the embedded schema %s (a build defect): %w", file, err)
		}
		inst := build.NewContext().NewInstance("jitkey.dev/schemas", nil)
		if err := inst.AddSyntax(syn); err != nil {
			return nil, fmt.Errorf("assemble the embedded schema %s (a build defect): %w", file, err)
		}
		if err := inst.Complete(); err != nil {
			return nil, fmt.Errorf("assemble the embedded schema %s (a build defect): %w", file, err)
		}
		return inst, nil
	}))
	return f.(func() (*build.Instance, error))()
}

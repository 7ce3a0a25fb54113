package policy

import "context"

// SchemaCheck returns the schema's verdict on one file: the diagnostics of
// compiling and unifying it with the schema, without the checks Load adds
// in Go (patterns, duplicate names, ceiling). The oracle test compares it
// with `cue vet -c`.
func SchemaCheck(name string, data []byte) []Diagnostic {
	sc, err := getSchema()
	if err != nil {
		panic(err)
	}
	defer putSchema(sc)
	_, _, diags := sc.validate(name, data)
	return diags
}

// Compiles reports whether data is CUE that builds on its own, before the
// schema: the oracle test checks a file that does not compile alone.
func Compiles(name string, data []byte) bool {
	sc, err := getSchema()
	if err != nil {
		panic(err)
	}
	defer putSchema(sc)
	_, diags := sc.compile(name, data)
	return diags == nil
}

// LoadBytesLimits is LoadBytes under lim and ctx.
func LoadBytesLimits(ctx context.Context, lim Limits, name string, data []byte) (*Set, error) {
	return loadSources(ctx, lim, []source{{name: name, data: data}})
}

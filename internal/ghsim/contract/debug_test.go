package contract_test

import (
	"encoding/json"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/jitkey/jitkey/internal/ghsim/contract"
)

func TestDebugAccount(t *testing.T) {
	e := newEnv(t, "")
	_, _, b := e.raw("GET", "app/installations", jwtOf(e), nil)
	var v []map[string]any
	json.Unmarshal(b, &v)
	t.Logf("%s", b)
	doc, _ := openapi3.NewLoader().LoadFromData(contract.Description)
	err := doc.Components.Schemas["simple-user"].Value.VisitJSON(v[0]["account"])
	t.Log(err)
	t.Log(doc.Components.Schemas["installation"].Value.VisitJSON(v[0]))
	t.Log(doc.Components.Schemas["installation"].Value.VisitJSON(v[0], openapi3.VisitAsResponse()))
	acc := doc.Components.Schemas["installation"].Value.Properties["account"].Value
	t.Logf("anyOf=%d allOf=%d oneOf=%d", len(acc.AnyOf), len(acc.AllOf), len(acc.OneOf))
	t.Log(acc.VisitJSON(v[0]["account"]))
	uri := openapi3.WithStringFormatValidator("uri", openapi3.NewCallbackValidator(func(s string) error { return nil }))
	t.Log("with uri", acc.VisitJSON(v[0]["account"], uri))
	t.Log("multi", acc.VisitJSON(v[0]["account"], openapi3.MultiErrors()))
	t.Log("asresp", acc.VisitJSON(v[0]["account"], openapi3.VisitAsResponse(), uri))
}

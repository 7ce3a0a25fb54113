package contract

import (
	"bytes"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// bareArrayBodies names the operations whose description says, in prose,
// that a bare JSON array may be sent instead of an object holding it
// ("You can also pass an array of labels directly"), while their schema lists
// only the object. go-github v62 sends the bare array (AddLabelsToIssue,
// ReplaceLabelsForIssue). Such a body is validated as the object it stands for.
var bareArrayBodies = map[string]string{
	"POST /repos/{owner}/{repo}/issues/{issue_number}/labels": "labels",
	"PUT /repos/{owner}/{repo}/issues/{issue_number}/labels":  "labels",
}

// undescribedValidation names the operations GitHub answers 422 Validation
// Failed although their description lists no 422: updating a label with a
// colour that is not six hexadecimal digits, or onto another label's name,
// fails GitHub's label validation as creating one does (the create operation
// lists 422, and @octokit/fixtures recorded it; for the update see
// Financial-Times/github-label-sync#135, "PATCH .../labels/help%20wanted
// 422: Validation Failed"). Such an answer must carry a body of schema
// validation-error. New checks that each still lacks 422 in the description.
var undescribedValidation = map[string]bool{
	"PATCH /repos/{owner}/{repo}/labels/{name}": true,
}

// wrapBareArray returns body wrapped as {"<field>": body} when op accepts a
// bare array for field and body is one; otherwise body unchanged.
func wrapBareArray(op string, body []byte) []byte {
	field, ok := bareArrayBodies[op]
	trimmed := bytes.TrimSpace(body)
	if !ok || len(trimmed) == 0 || trimmed[0] != '[' {
		return body
	}
	return append(append([]byte(`{"`+field+`":`), trimmed...), '}')
}

// fixAccountAllOf corrects one known error of GitHub's description: where it
// inlines the Installation schema (GET /app/installations) the account is
// "allOf": [Simple User, Enterprise], which no account can satisfy (a user
// has no slug, an enterprise no login). The named component installation says
// "anyOf" of the same two schemas, which is what GitHub answers; the inlined
// copy is read the same way. It returns how many schemas it corrected.
func fixAccountAllOf(doc *openapi3.T) int {
	fixed := 0
	seen := map[*openapi3.Schema]bool{}
	var walk func(*openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if len(s.AllOf) == 2 && titled(s.AllOf[0], "Simple User") && titled(s.AllOf[1], "Enterprise") {
			s.AnyOf, s.AllOf = s.AllOf, nil
			fixed++
		}
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		for _, group := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
			for _, x := range group {
				walk(x)
			}
		}
		if s.AdditionalProperties.Schema != nil {
			walk(s.AdditionalProperties.Schema)
		}
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, resp := range op.Responses.Map() {
				if resp.Value == nil {
					continue
				}
				for _, mt := range resp.Value.Content {
					walk(mt.Schema)
				}
			}
		}
	}
	return fixed
}

func titled(ref *openapi3.SchemaRef, title string) bool {
	return ref != nil && ref.Value != nil && ref.Value.Title == title
}

// rootContents gives an empty contents {path} (the repository root, which
// GitHub serves at "contents/" although the description calls {path}
// required) the value "." for parameter validation only.
func rootContents(op string, params map[string]string) map[string]string {
	if _, multi := multiSegment[op[strings.IndexByte(op, ' ')+1:]]; !multi || params["path"] != "" {
		return params
	}
	out := make(map[string]string, len(params))
	for k, v := range params {
		out[k] = v
	}
	out["path"] = "."
	return out
}

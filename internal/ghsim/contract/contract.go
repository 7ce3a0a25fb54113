// Package contract holds the GitHub simulator to GitHub's official OpenAPI
// description: it validates recorded HTTP exchanges (method, path, parameters,
// request body, status and response body) against the operations jitkey uses,
// cut from @octokit/openapi into testdata/openapi/github.json.
//
// The checks are kin-openapi's (openapi3 loader, gorillamux router,
// openapi3filter). GitHub's description has quirks that the loader options
// handle, each one listed on New; none of them lets a wrong body through.
package contract

// The description and the recordings are cut from npm tarballs fetched with
// `npm pack @octokit/openapi@23.0.2` and `npm pack @octokit/fixtures@23.1.2`:
//
//go:generate go run ./internal/cutspec -tgz ${OPENAPI_TGZ} -out testdata/openapi/github.json
//go:generate go run ./internal/cutspec -fixtures ${FIXTURES_TGZ} -out testdata/fixtures/octokit.json

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Description is the cut of GitHub's OpenAPI description (from
// @octokit/openapi, MIT) that the validator holds exchanges to.
//
//go:embed testdata/openapi/github.json
var Description []byte

// ErrUndescribed marks an exchange whose method and path the description lacks.
var ErrUndescribed = errors.New("route not in GitHub's API description")

// genericErrors are the statuses GitHub answers on any operation, whether or
// not the operation lists them (the description lists 401, 403 and 404 on
// some operations only; rate limits and server errors on none). An exchange
// with one of these statuses that its operation does not list must carry a
// body of schema basic-error.
var genericErrors = []int{401, 403, 404, 429, 500, 502, 503, 504}

// multiSegment names the path parameters GitHub takes with slashes inside:
// the file path of the contents API. The description writes them as plain
// {path}, which a router matches against one segment only.
var multiSegment = map[string]string{
	"/repos/{owner}/{repo}/contents/{path}": "/repos/{owner}/{repo}/contents/{path:.*}",
}

// Validator checks exchanges against the description and counts, per
// operation, the statuses it has seen.
type Validator struct {
	doc      *openapi3.T
	router   routers.Router
	prefix   string
	outside  []string
	basicErr *openapi3.Schema
	valErr   *openapi3.Schema
	opts     *openapi3filter.Options

	mu   sync.Mutex
	seen map[string]map[int]int // "GET /repos/{owner}/{repo}" -> status -> count
	log  []Exchange
}

// Option configures a Validator.
type Option func(*Validator)

// WithPrefix serves the API under a path prefix, as GitHub Enterprise Server
// does ("/api/v3"): requests are matched after the prefix is removed, and a
// request outside it is undescribed.
func WithPrefix(prefix string) Option {
	return func(v *Validator) { v.prefix = strings.TrimSuffix(prefix, "/") }
}

// New loads the embedded description. The loader is configured for the
// quirks of GitHub's description, each documented here:
//
//   - servers: the description names https://api.github.com; the router
//     ignores servers so any host (the simulator's loopback address) matches,
//     and WithPrefix handles the GHES path prefix.
//   - examples: the cut drops media-type examples and the loader does not
//     validate schema examples: some of GitHub's do not match their schemas
//     (parameter personal-access-token-owner, an array, has the example
//     string "owner[]=octocat1,owner[]=octocat2").
//   - nullable and additionalProperties: OpenAPI 3.0 semantics, which
//     kin-openapi implements; nothing is relaxed.
//   - formats: date-time, date, int32 and int64 are checked (kin-openapi's
//     built-ins); uri is checked as an absolute URI and email as an address,
//     both stricter than kin-openapi's default of not checking them.
//   - path parameters with slashes (contents {path}) match several segments.
//   - an empty contents {path}, the repository root, is valid (quirks.go).
//   - undocumented routes: see Undocumented.
//   - the inlined installation account of GET /app/installations is
//     "allOf" [Simple User, Enterprise], which nothing satisfies; it is read
//     as "anyOf", as the installation component says (see quirks.go).
//   - a JSON null request body where the body is optional counts as no body
//     (see nullOptionalBody).
//   - a bare JSON array sent where the description's prose allows one
//     (issue labels) is validated as the object it stands for (quirks.go).
//   - statuses: see Validate.
func New(opts ...Option) (*Validator, error) {
	d, err := loadDescription()
	if err != nil {
		return nil, err
	}
	v := &Validator{
		doc:      d.doc,
		router:   d.router,
		basicErr: d.basicErr,
		valErr:   d.valErr,
		seen:     map[string]map[int]int{},
		opts: &openapi3filter.Options{
			IncludeResponseStatus:             true,
			RejectWhenRequestBodyNotSpecified: true,
			AuthenticationFunc:                openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions:           formatOptions(),
		},
	}
	v.opts.WithCustomSchemaErrorFunc(schemaError)
	for _, o := range opts {
		o(v)
	}
	return v, nil
}

// description is the loaded, checked and routed description. Loading takes
// about a second, so it happens once per process and Validators share it:
// after loading nothing writes to it.
type description struct {
	doc      *openapi3.T
	router   routers.Router
	basicErr *openapi3.Schema
	valErr   *openapi3.Schema
}

var loadDescription = sync.OnceValues(func() (*description, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(Description)
	if err != nil {
		return nil, fmt.Errorf("load description: %w", err)
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("check description: %w", err)
	}
	doc.Servers = nil
	if fixAccountAllOf(doc) == 0 {
		return nil, errors.New("description changed: the installation account allOf quirk is gone; review quirks.go")
	}
	for from, to := range multiSegment {
		if item := doc.Paths.Value(from); item != nil {
			doc.Paths.Delete(from)
			doc.Paths.Set(to, item)
		}
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route description: %w", err)
	}
	basic, val := doc.Components.Schemas["basic-error"], doc.Components.Schemas["validation-error"]
	if basic == nil || basic.Value == nil || val == nil || val.Value == nil {
		return nil, errors.New("description lacks schema basic-error or validation-error: regenerate it with go generate")
	}
	for op := range undescribedValidation {
		method, path, _ := strings.Cut(op, " ")
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(method) == nil {
			return nil, fmt.Errorf("description changed: %s is gone; review undescribedValidation in quirks.go", op)
		}
		if item.GetOperation(method).Responses.Status(http.StatusUnprocessableEntity) != nil {
			return nil, fmt.Errorf("description changed: %s lists 422 now; remove it from undescribedValidation in quirks.go", op)
		}
	}
	return &description{doc: doc, router: router, basicErr: basic.Value, valErr: val.Value}, nil
})

// schemaError says where in the body and why, without kin-openapi's dump of
// the whole schema.
func schemaError(err *openapi3.SchemaError) string {
	msg := fmt.Sprintf("at %q: %s", "/"+strings.Join(err.JSONPointer(), "/"), err.Reason)
	var inner *openapi3.SchemaError
	if errors.As(err.Origin, &inner) {
		msg += ": " + schemaError(inner)
	} else if err.Origin != nil {
		msg += ": " + err.Origin.Error()
	}
	return msg
}

var emailFormat = regexp.MustCompile(`^[^@\s]+@[^@<>",\s]+$`)

func formatOptions() []openapi3.SchemaValidationOption {
	return []openapi3.SchemaValidationOption{
		openapi3.WithStringFormatValidator("uri", openapi3.NewCallbackValidator(func(s string) error {
			u, err := url.Parse(s)
			if err != nil || u.Scheme == "" || (u.Host == "" && u.Opaque == "") {
				return fmt.Errorf("not an absolute URI: %q", s)
			}
			return nil
		})),
		openapi3.WithStringFormatValidator("email", openapi3.NewRegexpFormatValidator(emailFormat.String())),
	}
}

// Operations lists every operation of the description as "METHOD /template".
func (v *Validator) Operations() []string {
	var ops []string
	for path, item := range v.doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+templateOf(path))
		}
	}
	sort.Strings(ops)
	return ops
}

// Undocumented lists the operations ("METHOD /template") that the cut holds
// although GitHub's description lacks them (marked x-jitkey-undocumented):
// paths GitHub serves and go-github v62 calls, checked against their
// described twin.
func (v *Validator) Undocumented() []string {
	var ops []string
	for path, item := range v.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if _, ok := op.Extensions["x-jitkey-undocumented"]; ok {
				ops = append(ops, method+" "+templateOf(path))
			}
		}
	}
	sort.Strings(ops)
	return ops
}

// Seen returns, per operation ("METHOD /template"), the statuses of the
// exchanges validated so far and how often each was seen.
func (v *Validator) Seen() map[string]map[int]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]map[int]int, len(v.seen))
	for op, st := range v.seen {
		out[op] = make(map[int]int, len(st))
		for s, n := range st {
			out[op][s] = n
		}
	}
	return out
}

// Route returns the operation ("METHOD /template") that req matches, or
// ErrUndescribed.
func (v *Validator) Route(req *http.Request) (string, error) {
	route, _, err := v.find(req)
	if err != nil {
		return "", err
	}
	return route.Method + " " + templateOf(route.Path), nil
}

func templateOf(path string) string {
	for from, to := range multiSegment {
		if path == to {
			return from
		}
	}
	return path
}

func (v *Validator) find(req *http.Request) (*routers.Route, map[string]string, error) {
	r := req.Clone(req.Context())
	if v.prefix != "" {
		rest, ok := strings.CutPrefix(r.URL.Path, v.prefix)
		if !ok || (rest != "" && rest[0] != '/') {
			return nil, nil, fmt.Errorf("%s %s: outside prefix %s: %w", req.Method, req.URL.Path, v.prefix, ErrUndescribed)
		}
		r.URL.Path = rest
		r.URL.RawPath = ""
		if raw := req.URL.RawPath; raw != "" {
			r.URL.RawPath = strings.TrimPrefix(raw, v.prefix)
		}
	}
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w (%v)", req.Method, req.URL.Path, ErrUndescribed, err)
	}
	return route, params, nil
}

// Validate checks one exchange: the request (method and path described,
// parameters and body valid) and the response (status listed, headers and
// body valid). Statuses the description does not list are handled so:
//
//   - 304 Not Modified: allowed on any GET that sent If-None-Match or
//     If-Modified-Since, with an empty body (GitHub honours conditional
//     requests on every GET; the description lists 304 on a few).
//   - 401, 403, 404, 429 and 5xx: allowed on any operation with a JSON body
//     of schema basic-error that has a message (see genericErrors).
//   - 422 on the operations of undescribedValidation (quirks.go), with a
//     JSON body of schema validation-error.
//   - anything else is an error.
//
// A response listed without content (204, for example) must have no body.
func (v *Validator) Validate(req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) error {
	route, params, err := v.find(req)
	if err != nil {
		return err
	}
	op := route.Method + " " + templateOf(route.Path)
	v.count(op, status)
	reqBody = wrapBareArray(op, reqBody)
	params = rootContents(op, params)
	if err := v.validate(route, params, req, reqBody, status, header, respBody); err != nil {
		return fmt.Errorf("%s -> %d: %w", op, status, err)
	}
	return nil
}

func (v *Validator) count(op string, status int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen[op] == nil {
		v.seen[op] = map[int]int{}
	}
	v.seen[op][status]++
}

func (v *Validator) validate(route *routers.Route, params map[string]string, req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) error {
	ctx := req.Context()
	if nullOptionalBody(route.Operation, reqBody) {
		reqBody = nil
	}
	r := req.Clone(ctx)
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	r.ContentLength = int64(len(reqBody))
	if len(reqBody) == 0 {
		r.Body = http.NoBody
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: v.opts}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		return fmt.Errorf("request: %w", err)
	}
	listed := route.Operation.Responses.Status(status)
	switch {
	case status == http.StatusNotModified && listed == nil:
		return checkNotModified(req, respBody)
	case listed == nil && slices.Contains(genericErrors, status):
		return checkError(v.basicErr, "basic-error", header, respBody)
	case listed == nil && status == http.StatusUnprocessableEntity && undescribedValidation[route.Method+" "+templateOf(route.Path)]:
		return checkError(v.valErr, "validation-error", header, respBody)
	case listed != nil && listed.Value != nil && len(listed.Value.Content) == 0 && len(bytes.TrimSpace(respBody)) > 0:
		return fmt.Errorf("response: status %d is described without a body, got %d bytes", status, len(respBody))
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: v.opts}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("response: %w", err)
	}
	return nil
}

// nullOptionalBody reports a request body of JSON null where the body is
// optional: ghinstallation and go-github send "null" for nil options (for
// example POST .../access_tokens without options) and GitHub reads it as no
// body, so the validator does too.
func nullOptionalBody(op *openapi3.Operation, body []byte) bool {
	if string(bytes.TrimSpace(body)) != "null" {
		return false
	}
	return op.RequestBody == nil || op.RequestBody.Value == nil || !op.RequestBody.Value.Required
}

func checkNotModified(req *http.Request, body []byte) error {
	if req.Method != http.MethodGet {
		return fmt.Errorf("response: 304 answers a %s, only a conditional GET may get one", req.Method)
	}
	if req.Header.Get("If-None-Match") == "" && req.Header.Get("If-Modified-Since") == "" {
		return errors.New("response: 304 answers a GET without If-None-Match or If-Modified-Since")
	}
	if len(body) > 0 {
		return fmt.Errorf("response: 304 with a %d-byte body", len(body))
	}
	return nil
}

// checkError checks an error answer the operation does not describe: JSON
// of the given schema, with a message.
func checkError(schema *openapi3.Schema, name string, header http.Header, body []byte) error {
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("response: error body has Content-Type %q, want application/json", ct)
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("response: error body is not JSON: %w", err)
	}
	if err := schema.VisitJSON(doc, formatOptions()...); err != nil {
		return fmt.Errorf("response: error body is not a %s: %w", name, err)
	}
	if m, ok := doc.(map[string]any); !ok || m["message"] == nil {
		return errors.New(`response: error body lacks "message"`)
	}
	return nil
}

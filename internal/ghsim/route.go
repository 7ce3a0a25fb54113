package ghsim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// call is one API request on its way through a route handler. Handlers write the
// answer into it; the route wrapper then applies ETags, faults and headers.
type call struct {
	s      *Sim
	r      *http.Request
	route  string // "GET /repos/{owner}/{repo}"
	id     identity
	status int
	header http.Header
	body   []byte
}

type handlerFunc func(c *call)

const docsURL = "https://docs.github.com/rest"

// handle registers tmpl (an OpenAPI path template; a trailing "{path}" matches
// several segments) for method under the prefix.
func (s *Sim) handle(method, tmpl string, h handlerFunc) {
	pattern := tmpl
	if strings.HasSuffix(pattern, "/{path}") {
		pattern = strings.TrimSuffix(pattern, "{path}") + "{path...}"
	}
	route := method + " " + tmpl
	s.routeList = append(s.routeList, route)
	s.mux.HandleFunc(method+" "+s.prefix+pattern, func(w http.ResponseWriter, r *http.Request) {
		s.serveAPI(w, r, route, h)
	})
}

func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request, route string, h handlerFunc) {
	s.acct.count(route, r.Method)
	if s.opts.Latency > 0 {
		s.sleep(r, s.opts.Latency)
	}
	f := s.flt.pick(r.Method, route)
	c := &call{s: s, r: r, route: route, header: http.Header{}, status: http.StatusOK}
	c.id = s.identify(r)
	if f != nil && f.before(s, w, r, c) {
		return
	}
	if s.secondaryLimited(w, c) || s.primaryLimited(w, c) {
		return
	}
	h(c)
	if c.status == http.StatusOK && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		etag := s.etag(c)
		c.header.Set("ETag", etag)
		if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
			s.rl.refund(c.id.bucket)
			setRateHeaders(c, s.peek(c.id))
			c.status, c.body = http.StatusNotModified, nil
		}
	}
	if f != nil && f.after(s, w, c) {
		return
	}
	c.flush(w)
}

func (c *call) flush(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range c.header {
		h[k] = v
	}
	if c.body != nil {
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(c.body)))
	}
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Request-Id", c.s.requestID())
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	w.WriteHeader(c.status)
	if c.r.Method != http.MethodHead && c.body != nil {
		_, _ = w.Write(c.body)
	}
}

func (s *Sim) etag(c *call) string {
	sum := sha256.New()
	sum.Write([]byte(c.id.bucket))
	sum.Write(c.body)
	return `W/"` + hex.EncodeToString(sum.Sum(nil)[:16]) + `"`
}

func etagMatch(header, etag string) bool {
	strip := func(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), "W/") }
	for _, t := range strings.Split(header, ",") {
		if strings.TrimSpace(t) == "*" || strip(t) == strip(etag) {
			return true
		}
	}
	return false
}

// json answers status with v encoded as JSON.
func (c *call) json(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.error(http.StatusInternalServerError, "ghsim: encode answer: "+err.Error())
		return
	}
	c.status, c.body = status, b
}

// noContent answers 204.
func (c *call) noContent() { c.status, c.body = http.StatusNoContent, nil }

// error answers GitHub's basic error body.
func (c *call) error(status int, msg string) {
	b, _ := json.Marshal(map[string]any{"message": msg, "documentation_url": docsURL, "status": strconv.Itoa(status)})
	c.status, c.body = status, b
}

func (c *call) notFound()  { c.error(http.StatusNotFound, "Not Found") }
func (c *call) forbidden() { c.error(http.StatusForbidden, "Resource not accessible by integration") }

// validation answers 422 with GitHub's validation error body.
func (c *call) validation(msg string, errs ...map[string]any) {
	body := map[string]any{"message": msg, "documentation_url": docsURL, "status": "422"}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	b, _ := json.Marshal(body)
	c.status, c.body = http.StatusUnprocessableEntity, b
}

// decode reads the JSON request body into v, answering 400 when it is not JSON.
func (c *call) decode(v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(nil, c.r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return true
		}
		c.error(http.StatusBadRequest, "Problems parsing JSON")
		return false
	}
	return true
}

func (c *call) path(name string) string { return c.r.PathValue(name) }

func (c *call) pathInt(name string) (int64, bool) {
	n, err := strconv.ParseInt(c.r.PathValue(name), 10, 64)
	return n, err == nil
}

// apiURL is an absolute API URL for path (which starts with "/"), as the client saw the host.
func (c *call) apiURL(path string) string {
	return "http://" + c.r.Host + c.s.prefix + path
}

func (c *call) webURL(path string) string { return "http://" + c.r.Host + path }

// sleep waits d in real time, or less when the request or the simulator ends.
func (s *Sim) sleep(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	case <-s.closing:
	}
}

func (s *Sim) notFoundHandler(w http.ResponseWriter, r *http.Request) {
	c := &call{s: s, r: r, header: http.Header{}}
	c.notFound()
	c.flush(w)
}

// requestID is a GitHub-shaped request ID, unique within the simulator.
func (s *Sim) requestID() string {
	n := s.reqSeq.Add(1)
	return fmt.Sprintf("0000:%04X:%06X:%06X:%08X", n>>48&0xffff, n>>24&0xffffff, n&0xffffff, n*2654435761&0xffffffff)
}

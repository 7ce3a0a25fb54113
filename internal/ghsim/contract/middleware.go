package contract

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
)

// Exchange is one request and its answer, as Wrap recorded it.
type Exchange struct {
	Method, Path string // Path is the request path, not the template
	Operation    string // "METHOD /template", empty when undescribed or outside the API
	Status       int
	Err          error // the validation error, nil when valid or not validated
}

// WithOutside names path prefixes that are not part of the REST API (the
// simulator's OIDC issuer under "/_services/token/" and its
// "/.well-known/" documents). Wrap records their exchanges without
// validating them; every other path must be described.
func WithOutside(prefixes ...string) Option {
	return func(v *Validator) { v.outside = append(v.outside, prefixes...) }
}

func (v *Validator) isOutside(path string) bool {
	for _, p := range v.outside {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// Exchanges returns every exchange Wrap has recorded, in order.
func (v *Validator) Exchanges() []Exchange {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]Exchange(nil), v.log...)
}

// Wrap returns h with every exchange recorded and validated; report receives
// each validation error (it may be called from several goroutines at once).
// An answer the handler hijacked (a simulated connection reset) is recorded
// with status 0 and not validated: it is not an HTTP answer.
func (v *Validator) Wrap(h http.Handler, report func(error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var reqBody []byte
		if r.Body != nil {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				report(errors.New("contract: read request body: " + err.Error()))
			}
			reqBody = b
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		rec := &recorder{ResponseWriter: w, status: 0}
		h.ServeHTTP(rec, r)
		ex := Exchange{Method: r.Method, Path: r.URL.Path, Status: rec.status}
		switch {
		case rec.hijacked || v.isOutside(r.URL.Path):
		default:
			if rec.status == 0 {
				rec.status, ex.Status = http.StatusOK, http.StatusOK
			}
			ex.Operation, _ = v.Route(r)
			ex.Err = v.Validate(r, reqBody, rec.status, rec.Header(), rec.body.Bytes())
			if ex.Err != nil {
				report(ex.Err)
			}
		}
		v.mu.Lock()
		v.log = append(v.log, ex)
		v.mu.Unlock()
	})
}

// recorder passes an answer through to the client and keeps a copy.
type recorder struct {
	http.ResponseWriter
	status   int
	body     bytes.Buffer
	hijacked bool
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("contract: response writer cannot hijack")
	}
	r.hijacked = true
	return h.Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

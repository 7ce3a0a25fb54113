package github

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Options configure a Client. Zero values are sensible for production.
type Options struct {
	BaseURL   string            // REST API base; "" means https://api.github.com/
	Transport http.RoundTripper // the network; nil means a new http.Transport
	Retry     RetryPolicy
	// AttemptTimeout bounds one try of one request; 0 means 20 s.
	AttemptTimeout time.Duration
	Now            func() time.Time                           // nil means time.Now
	Sleep          func(context.Context, time.Duration) error // nil means a timer honouring ctx
	Jitter         func() float64                             // in [0,1); nil means math/rand
	Logger         *slog.Logger                               // nil means discard
	UserAgent      string                                     // nil means "jitkey"
}

// Client talks to one GitHub API with one credential.
type Client struct {
	base   *url.URL
	hc     *http.Client
	now    func() time.Time
	ua     string
	secret string
}

// NewNetTransport returns the network transport jitkey uses by default: the
// environment's proxy settings and bounded connection timeouts.
func NewNetTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          20,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
}

// NewAppClient returns a client that authenticates as the GitHub App (a JWT
// signed by its key or Signer, reused for about 6 minutes), for installation
// lookups and minting.
func NewAppClient(o Options, app AppCredentials) (*Client, error) {
	c, err := newClient(o)
	if err != nil {
		return nil, err
	}
	net := o.network()
	auth, err := newAppTransport(net, app, c.now)
	if err != nil {
		return nil, err
	}
	c.hc = &http.Client{Transport: c.retrying(o, auth), CheckRedirect: sameHostRedirect}
	return c, nil
}

// NewTokenClient returns a client that authenticates with a token (an
// installation token, the job's GITHUB_TOKEN, a PAT).
func NewTokenClient(o Options, token string) (*Client, error) {
	c, err := newClient(o)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(token) == "" || strings.ContainsAny(token, " \r\n") {
		return nil, &Error{Class: ClassBadCredentials, Op: "read the token", Message: "the token is empty or malformed",
			Fix: "pass a token (github-token defaults to the job's GITHUB_TOKEN)"}
	}
	net := o.network()
	c.secret = token
	c.hc = &http.Client{Transport: c.retrying(o, &tokenTransport{base: net, token: token}), CheckRedirect: sameHostRedirect}
	return c, nil
}

// NewRefreshingClient returns a client that asks token for the token of
// each request, for work that can outlast one installation token (an hour):
// token re-mints before expiry. Errors are scrubbed of token-shaped strings
// by Redact rather than of one known token.
func NewRefreshingClient(o Options, token func(context.Context) (string, error)) (*Client, error) {
	c, err := newClient(o)
	if err != nil {
		return nil, err
	}
	net := o.network()
	c.hc = &http.Client{Transport: c.retrying(o, &tokenFuncTransport{base: net, token: token}), CheckRedirect: sameHostRedirect}
	return c, nil
}

// network is the transport under authentication and retries.
func (o Options) network() http.RoundTripper {
	if o.Transport != nil {
		return o.Transport
	}
	return NewNetTransport()
}

func newClient(o Options) (*Client, error) {
	base, err := ParseBaseURL(o.BaseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{base: base, now: o.Now, ua: o.UserAgent}
	if c.now == nil {
		c.now = time.Now
	}
	if c.ua == "" {
		c.ua = "jitkey"
	}
	return c, nil
}

func (c *Client) retrying(o Options, next http.RoundTripper) http.RoundTripper {
	t := &retryTransport{base: &attemptTimeout{next: next, d: o.AttemptTimeout}, policy: o.Retry.withDefaults(),
		now: c.now, sleep: o.Sleep, jitter: o.Jitter, log: o.Logger}
	if t.sleep == nil {
		t.sleep = sleepCtx
	}
	if t.jitter == nil {
		t.jitter = defaultJitter
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	return t
}

// sameHostRedirect refuses redirects to another host: the Authorization
// header must not travel.
func sameHostRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("too many redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		return http.ErrUseLastResponse
	}
	return nil
}

// attemptTimeout bounds one try; the retry transport reads the body before
// the deadline's cancel runs.
type attemptTimeout struct {
	next http.RoundTripper
	d    time.Duration
}

func (a *attemptTimeout) RoundTrip(req *http.Request) (*http.Response, error) {
	d := a.d
	if d <= 0 {
		d = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(req.Context(), d)
	resp, err := a.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error { err := b.ReadCloser.Close(); b.cancel(); return err }

// BaseURL is the API base URL, with a trailing slash.
func (c *Client) BaseURL() *url.URL { u := *c.base; return &u }

// HTTPClient is the authenticated, retrying HTTP client.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// UserAgent is the User-Agent the client sends.
func (c *Client) UserAgent() string { return c.ua }

// Response describes a successful answer.
type Response struct {
	Status int
	Header http.Header
}

// Do sends a JSON request to path (relative to the base URL) and decodes a 2xx
// answer into out (unless out is nil). op says what is being done, for errors.
// Every failure is an *Error.
func (c *Client) Do(ctx context.Context, op, method, path string, in, out any) (*Response, error) {
	req, err := c.newRequest(ctx, method, path, in)
	if err != nil {
		return nil, &Error{Class: ClassOther, Op: op, Message: err.Error()}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.networkError(op, req, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, c.networkError(op, req, err)
	}
	if resp.StatusCode >= 400 || resp.StatusCode < 200 {
		e := classify(method, req.URL.Path, resp.StatusCode, resp.Header, body, c.now())
		e.Op, e.Message = op, c.scrub(e.Message)
		return nil, e
	}
	r := &Response{Status: resp.StatusCode, Header: resp.Header}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(body, out); err != nil {
			class, fix := ClassInvalidAnswer, fixes[ClassInvalidAnswer]
			if _, isJSON := responseMessage(resp.Header, body); !isJSON && !json.Valid(body) && looksHTML(body) {
				class, fix = ClassWrongAPIURL, fixes[ClassWrongAPIURL]
			}
			return r, &Error{Class: class, Op: op, Method: method, Path: req.URL.Path, Status: resp.StatusCode,
				Message: "the answer could not be read as JSON", Fix: fix}
		}
	}
	return r, nil
}

func looksHTML(b []byte) bool {
	t := bytes.ToLower(bytes.TrimSpace(b))
	return bytes.HasPrefix(t, []byte("<!doctype html")) || bytes.HasPrefix(t, []byte("<html"))
}

func (c *Client) newRequest(ctx context.Context, method, path string, in any) (*http.Request, error) {
	rel, err := url.Parse(strings.TrimPrefix(path, "/"))
	if err != nil || rel.IsAbs() || rel.Host != "" {
		return nil, fmt.Errorf("bad API path %q", path)
	}
	u := c.base.ResolveReference(rel)
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", c.ua)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

func (c *Client) networkError(op string, req *http.Request, err error) *Error {
	var sign *Error
	if errors.As(err, &sign) && sign.Class == ClassBadKey {
		return sign // the App JWT could not be signed: nothing was sent
	}
	e := &Error{Class: ClassNetwork, Op: op, Method: req.Method, Path: req.URL.Path, Err: err, Fix: fixes[ClassNetwork]}
	var ue *url.Error
	inner := err
	if errors.As(err, &ue) {
		inner = ue.Err // url.Error's message repeats the URL; keep the cause
	}
	e.Message = c.scrub(Redact(inner.Error()))
	var dns *net.DNSError
	if errors.As(err, &dns) {
		e.Class, e.Fix = ClassWrongAPIURL, "the API host "+req.URL.Host+" does not resolve: "+fixes[ClassWrongAPIURL]
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		e.Message, e.Fix = "interrupted before GitHub answered", ""
	}
	return e
}

// scrub removes the client's own credential from a message.
func (c *Client) scrub(s string) string {
	if c.secret != "" {
		s = strings.ReplaceAll(s, c.secret, "***")
	}
	return s
}

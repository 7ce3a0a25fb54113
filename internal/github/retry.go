package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy bounds the retries of one request.
type RetryPolicy struct {
	Attempts  int           // tries in all, including the first; 0 means 4
	BaseDelay time.Duration // first back-off before jitter; 0 means 200 ms
	MaxDelay  time.Duration // cap of one back-off; 0 means 3 s
	// MaxWait is the longest rate-limit wait accepted (retry-after or
	// x-ratelimit-reset); a longer one fails at once with ClassRateLimited.
	// 0 means 60 s; negative means never wait.
	MaxWait time.Duration
	// MaxBody caps the size of an answer read into memory; 0 means 32 MiB.
	MaxBody int64
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 4
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 200 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 3 * time.Second
	}
	if p.MaxWait == 0 {
		p.MaxWait = 60 * time.Second
	}
	if p.MaxBody <= 0 {
		p.MaxBody = 32 << 20
	}
	return p
}

type retrySafeKey struct{}

// RetrySafe marks the requests made with ctx as safe to repeat after a 5xx
// answer or a connection failure, even when their method is not idempotent.
// jitkey uses it for minting: a repeated mint at worst leaves a token whose
// answer was lost, which a single try would leave too.
func RetrySafe(ctx context.Context) context.Context {
	return context.WithValue(ctx, retrySafeKey{}, true)
}

func retryable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	safe, _ := r.Context().Value(retrySafeKey{}).(bool)
	return safe
}

// LostAnswerError is a connection that broke while the answer's body was being
// read. Partial holds what arrived; it may contain a credential, so it is
// never part of the message.
type LostAnswerError struct {
	Status  int
	Partial []byte
	Err     error
}

func (e *LostAnswerError) Error() string {
	return fmt.Sprintf("the answer (HTTP %d) broke off after %d bytes: %v", e.Status, len(e.Partial), e.Err)
}

func (e *LostAnswerError) Unwrap() error { return e.Err }

// retryTransport retries idempotent (or RetrySafe) requests on 5xx answers and
// network errors with exponential back-off and full jitter, and waits out rate
// limits up to MaxWait. It reads every answer into memory so that a broken
// body is seen as the network error it is.
type retryTransport struct {
	base   http.RoundTripper
	policy RetryPolicy
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
	jitter func() float64
	log    *slog.Logger
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	canRetry := retryable(req)
	for attempt := 1; ; attempt++ {
		r, err := rewind(req, attempt)
		if err != nil {
			return nil, err
		}
		resp, err := t.try(r)
		if ctx.Err() != nil {
			if resp != nil {
				return resp, nil
			}
			return nil, ctx.Err()
		}
		wait, again := t.next(req, resp, err, attempt, canRetry)
		if !again || !t.fits(ctx, wait) {
			return resp, err
		}
		t.log.DebugContext(ctx, "github: retrying", "method", req.Method, "path", req.URL.Path,
			"attempt", attempt, "wait", wait, "status", status(resp), "error", errString(err))
		if err := t.sleep(ctx, wait); err != nil {
			if resp != nil {
				return resp, nil
			}
			return nil, err
		}
	}
}

// next decides whether to try again and after how long.
func (t *retryTransport) next(req *http.Request, resp *http.Response, err error, attempt int, canRetry bool) (time.Duration, bool) {
	if attempt >= t.policy.Attempts {
		return 0, false
	}
	if err != nil {
		var lost *LostAnswerError
		if errors.As(err, &lost) && req.Method == http.MethodPost {
			return 0, false // the server acted; repeating would act twice, so the caller decides
		}
		return t.backoff(attempt), canRetry
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusForbidden:
		wait, limited := t.rateLimitWait(resp)
		if !limited || t.policy.MaxWait < 0 || wait > t.policy.MaxWait {
			return 0, false
		}
		return wait, true // a rate-limited request was not acted on: any method may repeat
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return t.backoff(attempt), canRetry
	}
	return 0, false
}

// rateLimitWait reads a primary or secondary rate-limit answer.
func (t *retryTransport) rateLimitWait(resp *http.Response) (time.Duration, bool) {
	h := resp.Header
	if ra := h.Get("Retry-After"); ra != "" {
		if s, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && s >= 0 {
			return time.Duration(s) * time.Second, true
		}
	}
	if h.Get("X-Ratelimit-Remaining") == "0" {
		if s, err := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64); err == nil {
			return max(time.Unix(s, 0).Sub(t.now()), 0) + time.Second, true
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests || bytes.Contains(bytes.ToLower(peekBody(resp)), []byte("secondary rate limit")) {
		return time.Minute, true // GitHub's advice when it names no time: at least a minute
	}
	return 0, false
}

func (t *retryTransport) backoff(attempt int) time.Duration {
	d := t.policy.BaseDelay << (attempt - 1)
	if d > t.policy.MaxDelay || d <= 0 {
		d = t.policy.MaxDelay
	}
	// Full jitter, never below a tenth of the step.
	return d/10 + time.Duration(t.jitter()*float64(d-d/10))
}

// fits reports whether a wait ends before ctx's deadline.
func (t *retryTransport) fits(ctx context.Context, wait time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || t.now().Add(wait).Before(dl)
}

// try sends one request and reads the whole answer.
func (t *retryTransport) try(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, t.policy.MaxBody+1))
	if err != nil {
		return nil, &LostAnswerError{Status: resp.StatusCode, Partial: body, Err: err}
	}
	if int64(len(body)) > t.policy.MaxBody {
		return nil, fmt.Errorf("the answer is larger than %d bytes", t.policy.MaxBody)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// rewind returns the request to send on the given attempt, with a fresh body.
func rewind(req *http.Request, attempt int) (*http.Request, error) {
	if attempt == 1 || req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	if req.GetBody == nil {
		return nil, errors.New("github: cannot repeat a request whose body cannot be re-read")
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Body = body
	return r, nil
}

func peekBody(resp *http.Response) []byte {
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

func status(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return Redact(err.Error())
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// defaultJitter spreads retries; it needs no unpredictability.
func defaultJitter() float64 { return rand.Float64() } //nolint:gosec // G404: jitter, not a secret

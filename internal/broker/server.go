package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/identity"
	"github.com/jitkey/jitkey/internal/ledger"
	"github.com/jitkey/jitkey/internal/mint"
	"github.com/jitkey/jitkey/internal/revocation"
)

// Domain is the one decision path the in-job mint uses too: decide a
// request on the policies that apply, mint what an allowed decision grants
// (checking GitHub's answer), and revoke. *mint.Minter is one.
type Domain interface {
	Decide(ctx context.Context, in mint.Input) (mint.Decided, error)
	MintDecided(ctx context.Context, d mint.Decided) (*mint.Grant, error)
	Revoke(ctx context.Context, tok github.Secret) (revocation.Outcome, error)
}

// PolicyCache is told when a push changed policy files, so that the next
// decision reads them again.
type PolicyCache interface {
	Invalidate(repository string)
}

// Limits bound what one broker process accepts.
type Limits struct {
	GlobalRate     float64       // exchanges per second over every repository; 0: no limit
	RepositoryRate float64       // exchanges per minute from one repository; 0: no limit
	MaxBodyBytes   int64         // request body cap (webhooks: at least 1 MiB); 0: 64 KiB
	RequestTimeout time.Duration // per request; 0: 15 s
}

// Options configure a Server.
type Options struct {
	// Audience is the aud job tokens must carry: this broker.
	Audience string
	// Issuers are the accepted OIDC issuers (identity.IssuerFor forms).
	Issuers []string
	// OIDCClient fetches the issuers' keys; nil: 10 s timeout client.
	OIDCClient *http.Client
	Domain     Domain
	Ledger     ledger.Ledger
	// OrgRepository is the name of the organisation policy's repository in
	// each organisation ("" : .github); its .github/jitkey/ holds it.
	OrgRepository string
	// PolicyPaths are path prefixes whose change, pushed to a default
	// branch, invalidates that repository's cached policies.
	PolicyPaths   []string
	Policies      PolicyCache // nil: nothing to invalidate
	WebhookSecret []byte
	// PreviousWebhookSecret also verifies deliveries while the secret is
	// rotated (GitHub signs with one secret at a time); nil when not.
	PreviousWebhookSecret []byte
	Limits                Limits
	Now                   func() time.Time
	Log                   *slog.Logger
	Metrics               *Metrics
}

// Server is the broker's HTTP edge.
type Server struct {
	o         Options
	verifiers map[string]*identity.Verifier
	global    *limiter
	perRepo   *limiter
	log       *slog.Logger
	m         *Metrics

	sweeps   sweepState
	draining atomic.Bool
	inflight sync.WaitGroup // exchanges between intent and answer
}

// New checks the options and returns a Server.
func New(o Options) (*Server, error) {
	if o.Audience == "" {
		return nil, errors.New("broker: an audience is required (the broker's public URL)")
	}
	if len(o.Issuers) == 0 {
		return nil, errors.New("broker: at least one OIDC issuer is required")
	}
	if o.Domain == nil || o.Ledger == nil {
		return nil, errors.New("broker: a domain and a ledger are required")
	}
	if len(o.WebhookSecret) < 16 {
		return nil, errors.New("broker: the webhook secret must be at least 16 bytes: generate one with `openssl rand -hex 32` and set it on the GitHub App too")
	}
	if o.PreviousWebhookSecret != nil && len(o.PreviousWebhookSecret) < 16 {
		return nil, errors.New("broker: the previous webhook secret must be at least 16 bytes, like the secret: remove webhook_secret_previous once the rotation is over")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.Limits.MaxBodyBytes == 0 {
		o.Limits.MaxBodyBytes = 64 << 10
	}
	if o.Limits.RequestTimeout == 0 {
		o.Limits.RequestTimeout = 15 * time.Second
	}
	s := &Server{o: o, verifiers: map[string]*identity.Verifier{}, log: o.Log, m: o.Metrics,
		global:  newLimiter(o.Limits.GlobalRate, max(o.Limits.GlobalRate, 1), o.Now),
		perRepo: newLimiter(o.Limits.RepositoryRate/60, max(o.Limits.RepositoryRate/6, 1), o.Now)}
	for _, iss := range o.Issuers {
		v, err := identity.NewVerifier(iss, identity.Options{Now: o.Now, HTTPClient: o.OIDCClient})
		if err != nil {
			return nil, fmt.Errorf("broker: issuer: %w", err)
		}
		s.verifiers[iss] = v
	}
	s.declareMetrics()
	s.declareSweepMetrics()
	return s, nil
}

// Metrics is the server's registry, for wiring more series (GitHub calls, sweeps).
func (s *Server) Metrics() *Metrics { return s.m }

// Handler serves every route with the middleware around it.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/token", s.wrap("token", s.global, http.HandlerFunc(s.token)))
	mux.Handle("POST /v1/revoke", s.wrap("revoke", nil, http.HandlerFunc(s.revoke)))
	mux.Handle("POST /v1/webhook", s.wrap("webhook", nil, http.HandlerFunc(s.webhook)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_ = writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /readyz", http.HandlerFunc(s.ready))
	mux.Handle("GET /metrics", http.HandlerFunc(s.metrics))
	return mux
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeProblem(w, &Problem{Status: http.StatusServiceUnavailable, Class: ClassShuttingDown, Message: "the broker is shutting down"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.o.Ledger.Stats(ctx); err != nil {
		writeProblem(w, &Problem{Status: http.StatusServiceUnavailable, Class: ClassLedger, Message: "the ledger does not answer: " + github.Redact(err.Error()),
			Fix: "check the database the ledger is configured with"})
		return
	}
	_ = writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) metrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = s.m.WriteTo(w)
}

// Serve serves on ln until ctx ends, then shuts down gracefully: it stops
// accepting, lets requests in flight finish within grace (a mint already
// asked of GitHub is finished and recorded, or revoked when its answer can
// no longer be delivered), and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener, maxHeaderBytes int, grace time.Duration) error {
	srv := &http.Server{Handler: s.Handler(), MaxHeaderBytes: maxHeaderBytes,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: s.o.Limits.RequestTimeout, WriteTimeout: s.o.Limits.RequestTimeout + 5*time.Second,
		IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutting down: finishing requests in flight", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
	}
	// Exchanges past their intent finish (record, or revoke) even when
	// their connection was closed.
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		s.log.Error("shutdown: exchanges still in flight after the grace period; their intents stay in the ledger as dangling")
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

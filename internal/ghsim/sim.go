package ghsim

import (
	"context"
	"errors"
	"math/rand" //nolint:gosec // faults are drawn from a seeded generator so that tests are reproducible
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a simulator. The zero value serves the api.github.com layout on
// real time.
type Options struct {
	// Prefix mounts the REST API under a path, "/api/v3" for the GHES layout.
	Prefix string
	// Clock drives token expiry, JWT checks, rate limits and timestamps; nil means real time.
	Clock Clock
	// Seed makes probabilistic faults reproducible; 0 means seed 1.
	Seed int64
	// Latency is added to every API answer (real time, not the Clock).
	Latency time.Duration
	// RateLimit is the primary limit per identity and hour; 0 means GitHub's
	// (5,000 for Apps and installations, 1,000 for job tokens, 60 anonymous).
	RateLimit int
	// MaxConcurrent is the secondary concurrency cap: a request arriving while that
	// many are in flight gets a secondary rate limit answer. 0 means no cap.
	MaxConcurrent int
	// PointsPerMinute is the secondary limit per identity and clock minute, GETs
	// costing 1 point and writes 5. 0 means no limit.
	PointsPerMinute int
	// TimeoutCap bounds how long a FaultTimeout request hangs (real time); 0 means 30 s.
	TimeoutCap time.Duration
	// TokenFormat is the shape of minted installation and job tokens:
	// TokenStateless (the default, as GitHub mints them since 2026-04-27) or
	// TokenClassic. A mint's X-GitHub-Stateless-S2S-Token header
	// (enabled/disabled) overrides it, as on GitHub.
	TokenFormat TokenFormat
}

// Sim is an in-memory GitHub served over HTTP. All methods are safe for concurrent use.
type Sim struct {
	opts   Options
	prefix string
	clock  Clock
	mux    *http.ServeMux
	// routeList holds every served route, "METHOD /template", written only by New.
	routeList []string

	jwts verifiedJWTs // App JWTs whose signature verified

	mu        sync.Mutex // guards the GitHub state below
	nextID    int64
	apps      map[int64]*appState
	accounts  map[string]*account // by lower-case login
	repoByID  map[int64]*repo
	installs  map[int64]*installation
	tokens    map[string]*token // by SHA-256 of the token
	tokenList []*token
	oidcReqs  map[string]map[string]any // request token hash -> claims
	act       actionsState              // workflow runs and jobs (actions.go)

	hooks hookState // App webhook deliveries (webhook_delivery.go)

	reqSeq atomic.Uint64
	acct   accounting
	rl     rateLimiter
	flt    faults

	srvMu   sync.Mutex
	srv     *http.Server
	ln      net.Listener
	base    string // "http://127.0.0.1:PORT"
	closing chan struct{}
}

// New returns a simulator with no state. Call Start or Serve to listen.
func New(opts Options) *Sim {
	s := &Sim{
		opts:     opts,
		prefix:   "/" + strings.Trim(opts.Prefix, "/"),
		clock:    opts.Clock,
		nextID:   1000,
		apps:     map[int64]*appState{},
		accounts: map[string]*account{},
		repoByID: map[int64]*repo{},
		installs: map[int64]*installation{},
		tokens:   map[string]*token{},
		oidcReqs: map[string]map[string]any{},
		closing:  make(chan struct{}),
	}
	if s.prefix == "/" {
		s.prefix = ""
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	seed := opts.Seed
	if seed == 0 {
		seed = 1
	}
	s.flt.rnd = rand.New(rand.NewSource(seed)) //nolint:gosec // reproducible faults, not secrets
	s.acct.calls = map[string]int{}
	s.rl.buckets = map[string]*bucket{}
	s.mux = http.NewServeMux()
	s.routes()
	return s
}

// Start listens on 127.0.0.1 on a free port and serves in the background.
func (s *Sim) Start() (*http.Server, error) { return s.Serve("127.0.0.1:0") }

// Serve listens on addr and serves in the background until Close.
func (s *Sim) Serve(addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.srvMu.Lock()
	s.srv, s.ln, s.base = srv, ln, "http://"+ln.Addr().String()
	s.srvMu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}

// Close stops the server and releases hanging requests.
func (s *Sim) Close() error {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	return err
}

// Addr is the listening host:port, empty before Start.
func (s *Sim) Addr() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	return strings.TrimPrefix(s.base, "http://")
}

func (s *Sim) root() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.base == "" {
		return "http://ghsim.invalid"
	}
	return s.base
}

// URL is the REST API base URL with a trailing slash, for go-github's BaseURL:
// "http://127.0.0.1:PORT/" or "http://127.0.0.1:PORT/api/v3/".
func (s *Sim) URL() string { return s.root() + s.prefix + "/" }

// BaseURL is URL without the trailing slash, for ghinstallation's BaseURL.
func (s *Sim) BaseURL() string { return s.root() + s.prefix }

// ServerURL is the web root (GITHUB_SERVER_URL) with a trailing slash. The OIDC
// issuer is ServerURL()+"_services/token".
func (s *Sim) ServerURL() string { return s.root() + "/" }

// Now is the simulator's clock reading.
func (s *Sim) Now() time.Time { return s.clock.Now().UTC() }

// Handler serves the whole simulator: REST API under the prefix and the OIDC issuer.
func (s *Sim) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done := s.acct.enter()
		defer done()
		s.mux.ServeHTTP(w, r)
	})
}

func (s *Sim) newID() int64 {
	s.nextID++
	return s.nextID
}

// Routes lists every route the simulator serves, "METHOD /template" as in Calls(),
// sorted; the OIDC issuer's routes start with "/_services/token".
func (s *Sim) Routes() []string {
	out := slices.Clone(s.routeList)
	slices.Sort(out)
	return out
}

package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/broker"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/ledger"
	"github.com/jitkey/jitkey/internal/mint"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/revocation"
	"github.com/jitkey/jitkey/internal/runstep"
	"github.com/jitkey/jitkey/internal/signer"
	"github.com/jitkey/jitkey/internal/source"
	"github.com/jitkey/jitkey/internal/sweep"
)

// runServe is `jitkey serve`: the token broker. One process, or several
// replicas on one PostgreSQL ledger, from the same binary and configuration.
func runServe(ctx context.Context, env Env, args []string) int {
	fs := flag.NewFlagSet("jitkey serve", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	cfgPath := fs.String("config", "", "the broker's CUE configuration file (schema: schemas/serve.cue)")
	check := fs.Bool("check", false, "check the configuration and its secrets, then exit")
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, "Usage: jitkey serve -config FILE\n\nRun the token broker: jobs exchange their OIDC token for a policy-scoped\ninstallation token (POST /v1/token); tokens are revoked when their job ends\n(POST /v1/revoke, GitHub's workflow_job and workflow_run webhooks at\nPOST /v1/webhook, and a sweeper). See docs/broker.md.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *cfgPath == "" {
		if err == nil {
			fmt.Fprintln(env.Stderr, "jitkey serve: -config FILE is required")
			fs.Usage()
		}
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	cfg, err := loadServeConfig(env, runstep.AbsPath(env, *cfgPath))
	if err != nil {
		fmt.Fprintf(env.Stderr, "jitkey serve: %v\n", err)
		return ExitUsage
	}
	if *check {
		fmt.Fprintf(env.Stdout, "jitkey serve: %s is valid; listen %s, audience %s, ledger %s\n", *cfgPath, cfg.Listen, cfg.audience(), cfg.ledgerDriver())
		return ExitOK
	}
	if env.Getenv("GOGC") == "" {
		// Collect at 5x the live heap (~15 MB at 1,000 exchanges/s): a
		// quarter less broker CPU per exchange than at 2x in BenchmarkBroker,
		// for ~10 MB more peak RSS; Main's soft memory limit (150 MiB, or
		// GOMEMLIMIT) still bounds the heap.
		debug.SetGCPercent(400)
	}
	log := slog.New(slog.NewJSONHandler(env.Stderr, &slog.HandlerOptions{Level: cfg.level()}))
	if err := serve(ctx, env, cfg, log, nil); err != nil {
		log.Error("jitkey serve stopped", "error", github.Redact(err.Error()))
		return ExitFindings
	}
	return ExitOK
}

// served is a running broker, for tests and the sandbox.
type served struct {
	Addr    string
	Server  *broker.Server
	Ledger  ledger.Ledger
	Sweeper *sweep.Sweeper
}

// serve wires and runs the broker until ctx ends. ready, when not nil,
// is called once the broker listens.
func serve(ctx context.Context, env Env, cfg *serveConfig, log *slog.Logger, ready func(served)) error {
	m := broker.NewMetrics()
	// Mints run concurrently: keep a connection per mint in flight to an
	// HTTP/1.1 API (a GHES behind a proxy, the simulator) rather than 2 idle
	// and a new connection for every other mint. HTTP/2 needs only one.
	transport := github.NewNetTransport()
	transport.MaxIdleConnsPerHost = 64
	opts := github.Options{BaseURL: cfg.GitHub.APIURL, Transport: m.GitHubTransport(transport), Logger: log,
		UserAgent: "jitkey-broker/" + runstep.Version}
	sig, err := appSigner(ctx, cfg)
	if err != nil {
		return err
	}
	app, err := github.NewAppClient(opts, github.AppCredentials{ID: cfg.appID(), Signer: sig})
	if err != nil {
		return fmt.Errorf("the App credentials: %w", err)
	}
	rc := broker.NewReadClients(app, opts, env.Now)
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		rc.Close(cctx)
	}()
	keys, err := ledgerKeys(ctx, env, cfg)
	if err != nil {
		return err
	}
	led, err := ledger.Open(ctx, ledger.Config{Driver: cfg.ledgerDriver(), DSN: cfg.secrets.dsn, Keys: keys, Now: env.Now})
	if err != nil {
		return fmt.Errorf("open the ledger: %w", err)
	}
	defer led.Close()
	// The policies: read with a contents: read token on exactly the
	// repositories read, revoked once read (there is no post step), one
	// query for every directory a decision needs, cached until max_age or
	// a push: at steady state a mint is one GitHub call.
	reader := source.NewGitHub(app, func(tok string) (source.TokenClient, error) { return github.NewTokenClient(opts, tok) },
		source.WithClock(env.Now), source.RevokeAfterRead())
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = reader.Close(cctx)
	}()
	policies := source.NewCache(reader, cfg.policyMaxAge(), env.Now)
	revokeOpts := opts
	revokeOpts.Retry = github.RetryPolicy{Attempts: 4, BaseDelay: 200 * time.Millisecond, MaxDelay: 2 * time.Second, MaxWait: 10 * time.Second}
	minter := mint.New(rc.MintingApp(app), policies, func(tok github.Secret) (revocation.TokenAPI, error) {
		return github.NewTokenClient(revokeOpts, tok.Reveal())
	}, mint.WithClock(env.Now), mint.WithLogger(log), mint.WithDefaultIssuers(cfg.Issuers...))
	srv, err := broker.New(broker.Options{Audience: cfg.audience(), Issuers: cfg.Issuers,
		OIDCClient: &http.Client{Transport: github.NewNetTransport(), Timeout: 10 * time.Second},
		Domain:     minter, Ledger: led, OrgRepository: cfg.Policy.OrgRepository, Policies: policies,
		PolicyPaths:   []string{strings.TrimSuffix(cfg.Policy.Path, "/"), ".github/jitkey/"},
		WebhookSecret: cfg.secrets.webhook, PreviousWebhookSecret: cfg.secrets.previousWebhook, Now: env.Now, Log: log, Metrics: m,
		Limits: broker.Limits{GlobalRate: cfg.Limits.GlobalRate, RepositoryRate: cfg.Limits.RepositoryRate,
			MaxBodyBytes: cfg.Limits.MaxBodyBytes, RequestTimeout: cfg.requestTimeout()}})
	if err != nil {
		return err
	}
	sw := sweep.New(sweep.Options{Ledger: led, Revoker: srv, Now: env.Now, Log: log, MinAge: cfg.sweepMinAge(), DanglingAfter: mustDuration(cfg.Sweep.Dangling),
		Retention: mustDuration(cfg.Sweep.Retention),
		Runs: func(ctx context.Context, owner, repo string) (sweep.RunsAPI, error) {
			return rc.Client(ctx, owner, repo)
		}})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	log.Info("jitkey serve: listening", "addr", ln.Addr().String(), "audience", cfg.audience(), "ledger", cfg.ledgerDriver(),
		"issuers", cfg.Issuers, "version", runstep.Version)
	sctx, stopSweep := context.WithCancel(ctx)
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		sw.Run(sctx, cfg.sweepInterval(), srv.SweepReport)
	}()
	if ready != nil {
		ready(served{Addr: ln.Addr().String(), Server: srv, Ledger: led, Sweeper: sw})
	}
	err = srv.Serve(ctx, ln, cfg.Limits.MaxHeaderBytes, cfg.shutdownGrace())
	stopSweep()
	<-sweepDone
	log.Info("jitkey serve: stopped")
	return err
}

// appSigner signs the App's JWTs: with the PEM key read at start, or in
// AWS KMS, where the key never leaves.
func appSigner(ctx context.Context, cfg *serveConfig) (github.DigestSigner, error) {
	k := cfg.GitHub.PrivateKey.KMS
	if k == nil {
		key, err := signer.FromPEM(cfg.secrets.privateKey)
		if err != nil {
			return nil, fmt.Errorf("github.private_key: %w", err)
		}
		return key, nil
	}
	client, err := signer.KMSClient(ctx, k.Region, k.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("github.private_key: %w", err)
	}
	s, err := signer.NewKMS(ctx, client, k.KeyID)
	if err != nil {
		return nil, fmt.Errorf("github.private_key: %w", err)
	}
	return s, nil
}

// ledgerKeys is the keyring that seals tokens: the configured keys, or the
// KMS data key opened now.
func ledgerKeys(ctx context.Context, env Env, cfg *serveConfig) (*ledger.Keyring, error) {
	keys := cfg.secrets.ledgerKeys
	if k := cfg.EncryptionKey.KMS; k != nil {
		env.Dir = cfg.dir
		raw, err := readSecret(env, "encryption_key.kms.ciphertext", k.Ciphertext)
		if err != nil {
			return nil, err
		}
		blob, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
		if err != nil {
			return nil, errors.New("encryption_key.kms.ciphertext: not base64: give the CiphertextBlob of `aws kms generate-data-key --key-spec AES_256` as base64")
		}
		client, err := signer.KMSClient(ctx, k.Region, k.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("encryption_key: %w", err)
		}
		dk, err := signer.DataKey(ctx, client, blob)
		if err != nil {
			return nil, fmt.Errorf("encryption_key: %w", err)
		}
		keys = [][]byte{dk}
	}
	return ledger.NewKeyring(keys[0], keys[1:]...)
}

// readSecret reads a secret from the environment or a file.
func readSecret(env Env, what string, s *secretSource) ([]byte, error) {
	switch {
	case s == nil:
		return nil, fmt.Errorf("%s: not configured", what)
	case s.Env != "":
		v := env.Getenv(s.Env)
		if strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("%s: environment variable %s is empty or unset", what, s.Env)
		}
		return []byte(v), nil
	case s.File != "":
		b, err := os.ReadFile(runstep.AbsPath(env, s.File))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("%s: give env or file", what)
}

// loadServeConfig reads and checks the configuration and its secrets.
func loadServeConfig(env Env, path string) (*serveConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the configuration: %w", err)
	}
	var cfg serveConfig
	if err := policy.DecodeConfig(path, data, "serve.cue", "#Serve", &cfg); err != nil {
		return nil, fmt.Errorf("the configuration is invalid:\n%w", err)
	}
	// Paths in the configuration are relative to its own directory.
	env.Dir, cfg.dir = filepath.Dir(path), filepath.Dir(path)
	if err := cfg.resolve(env); err != nil {
		return nil, err
	}
	return &cfg, nil
}

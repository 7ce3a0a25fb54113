// Package runstep is one run of an action step (jitkey mint, jitkey revoke,
// jitkey-post) as the runner sees it: masks before anything is printed,
// annotations, outputs, state, the job summary and the audit line, and
// their plain-terminal counterparts outside Actions. It links no policy
// engine, so the post step's small binary shares it with the main binary.
package runstep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/action"
	"github.com/jitkey/jitkey/internal/audit"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/revocation"
)

// Version is stamped at build time with
// -ldflags "-X github.com/jitkey/jitkey/internal/runstep.Version=...".
var Version = "dev"

// Exit codes shared by every command.
const (
	ExitOK       = 0 // success, or clean
	ExitFindings = 1 // findings at or above the failure threshold, a denial, a failed step
	ExitUsage    = 2 // usage or I/O error
)

// State names shared by mint (main) and revoke (post).
const (
	StateToken     = "token"
	StateExpiresAt = "expires-at"
	StateSHA       = "token-sha256"
	StateAPIURL    = "api-url"
	StateRule      = "rule"     // for the revoke record: the rule that allowed the token
	StateVerified  = "verified" // "true" when the minting identity was verified by OIDC
	StateBroker    = "broker"   // the broker that minted the token (broker mode): post revokes through it
	// StateInFlight describes a mint request sent but not yet answered (empty
	// once the answer says no token exists); StateInFlightExpiresBy bounds
	// the life of a token it may have created.
	StateInFlight          = "mint-in-flight"
	StateInFlightExpiresBy = "mint-in-flight-expires-by"
	// StateReadTokens lists the policy-read tokens the main step minted
	// (space-separated) for the post step to revoke.
	StateReadTokens = "policy-read-tokens"
)

// CancelGrace is how long a credential's own clean-up may run after the step
// was told to stop: the runner sends SIGTERM 7.5 s after SIGINT.
const CancelGrace = 5 * time.Second

// Env is the world a command sees. Commands never read the process
// environment, the clock or the standard streams directly.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	Now    func() time.Time
	Dir    string // working directory
}

// OSEnv is the process's own environment.
func OSEnv() Env {
	dir, _ := os.Getwd()
	return Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Now: time.Now, Dir: dir}
}

// Step is one run of mint or revoke: the runner contract inside Actions,
// stdout/stderr outside.
type Step struct {
	Env       Env
	Getenv    func(string) string
	A         *action.Action
	InActions bool
	Log       *slog.Logger
	Outputs   map[string]string // outside Actions, printed as JSON at the end
}

// New starts a step over env, reading the step's variables through getenv
// (the environment, or flags standing for inputs).
func New(env Env, getenv func(string) string) *Step {
	probe := action.New(action.Options{Getenv: getenv})
	st := &Step{Env: env, Getenv: getenv, InActions: probe.InActions(), Outputs: map[string]string{}}
	out := env.Stdout
	if !st.InActions {
		out = io.Discard // no runner to read workflow commands; masks still redact
	}
	st.A = action.New(action.Options{Getenv: getenv, Stdout: out, Open: action.AppendFile,
		HTTPClient: &http.Client{Transport: github.NewNetTransport(), Timeout: 15 * time.Second}})
	st.Log = slog.New(slog.NewTextHandler(&redactWriter{w: env.Stderr, a: st.A}, &slog.HandlerOptions{Level: logLevel(getenv)}))
	return st
}

func logLevel(getenv func(string) string) slog.Level {
	if getenv("RUNNER_DEBUG") == "1" || getenv("JITKEY_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

// redactWriter passes diagnostics through the masks.
type redactWriter struct {
	w io.Writer
	a *action.Action
}

func (r *redactWriter) Write(p []byte) (int, error) {
	_, err := io.WriteString(r.w, github.Redact(r.a.Redact(string(p))))
	return len(p), err
}

// Infof logs a line: the job log in Actions, stderr outside.
func (st *Step) Infof(format string, args ...any) {
	if st.InActions {
		st.A.Infof(format, args...)
		return
	}
	fmt.Fprintln(st.Env.Stderr, github.Redact(st.A.Redact(fmt.Sprintf(format, args...))))
}

// Annotate writes an annotation in Actions, a prefixed line outside.
func (st *Step) Annotate(level action.Level, title, msg string) {
	if st.InActions {
		st.A.Annotate(level, action.Position{}, title, msg)
		return
	}
	fmt.Fprintf(st.Env.Stderr, "%s: %s: %s\n", level, title, github.Redact(st.A.Redact(msg)))
}

// Output sets a step output; outside Actions it is kept for the JSON printed
// at the end.
func (st *Step) Output(name, value string) error {
	if !st.InActions {
		st.Outputs[name] = value
		return nil
	}
	return st.A.SetOutput(name, value)
}

// SaveState keeps a value for the post step.
func (st *Step) SaveState(name, value string) error {
	err := st.A.SaveState(name, value)
	if !st.InActions && errors.Is(err, action.ErrNoFile) {
		return nil // outside Actions there is no post step: jitkey revoke --token-stdin
	}
	return err
}

// Summary appends Markdown to the job summary; a failure is logged, not fatal.
func (st *Step) Summary(md string) {
	if err := st.A.Summary(md); err != nil {
		st.Log.Warn("write the step summary", "error", err)
	}
}

// Audit writes the record to the log and, when file is set, appends it to
// that file (0600).
func (st *Step) Audit(rec audit.Record, file string) error {
	line := rec.JSON()
	st.Infof("jitkey audit: %s", line)
	if file == "" {
		return nil
	}
	f, err := os.OpenFile(AbsPath(st.Env, file), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open the audit file: %w", err)
	}
	_, werr := f.Write(append(line, '\n'))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("write the audit file: %w", werr)
	}
	return nil
}

// ClientOptions are the API client options of this step.
func (st *Step) ClientOptions(apiURL string) github.Options {
	return github.Options{BaseURL: apiURL, Now: st.Env.Now, Logger: st.Log, UserAgent: "jitkey/" + Version}
}

// AbsPath resolves p against the command's working directory.
func AbsPath(env Env, p string) string {
	if filepath.IsAbs(p) || env.Dir == "" {
		return p
	}
	return filepath.Join(env.Dir, p)
}

// RevokeClients builds token clients whose retries fit jitkey revoke's bound.
func RevokeClients(opts github.Options) revocation.ClientFunc {
	opts.Retry = github.RetryPolicy{Attempts: 8, BaseDelay: 300 * time.Millisecond, MaxDelay: 8 * time.Second, MaxWait: 20 * time.Second}
	opts.AttemptTimeout = 10 * time.Second
	return func(tok github.Secret) (revocation.TokenAPI, error) { return github.NewTokenClient(opts, tok.Reveal()) }
}

// GraceContext is a context that outlives parent's cancellation by grace.
func GraceContext(parent context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	go func() {
		select {
		case <-parent.Done():
			t := time.NewTimer(grace)
			defer t.Stop()
			select {
			case <-t.C:
				cancel()
			case <-ctx.Done():
			}
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// PrintOutputs prints the outputs as one JSON object on stdout: the result
// of a step run outside Actions.
func (st *Step) PrintOutputs() {
	b, _ := json.MarshalIndent(st.Outputs, "", "  ")
	fmt.Fprintf(st.Env.Stdout, "%s\n", b)
}

// PermissionLines is a permissions map as the permissions output writes it:
// one "name: level" line each, sorted (the YAML of the permissions input).
func PermissionLines(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + ": " + p[k]
	}
	return strings.Join(lines, "\n")
}

// MdEscape keeps untrusted text from breaking a Markdown table or adding HTML.
func MdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
}

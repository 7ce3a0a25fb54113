package action

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SummaryLimit is the most GitHub accepts in one step's summary.
const SummaryLimit = 1 << 20

// Options is the world an Action sees.
type Options struct {
	Getenv func(string) string // the step's environment
	Stdout io.Writer           // workflow commands and logs go here
	// Open opens an environment file ($GITHUB_OUTPUT, ...) for appending.
	Open func(path string) (io.WriteCloser, error)
	// Rand supplies delimiter randomness; nil means crypto/rand.
	Rand io.Reader
	// HTTPClient sends the OIDC token request; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Sleep waits between OIDC request retries; nil means a timer honouring ctx.
	Sleep func(d time.Duration) <-chan time.Time
}

// Action talks to the runner of one step. It is safe for concurrent use.
type Action struct {
	getenv  func(string) string
	open    func(string) (io.WriteCloser, error)
	rand    io.Reader
	client  *http.Client
	after   func(time.Duration) <-chan time.Time
	mu      sync.Mutex
	out     io.Writer
	secrets []string
	summary int
}

// New returns an Action over opts. Getenv and Stdout are required.
func New(opts Options) *Action {
	a := &Action{getenv: opts.Getenv, out: opts.Stdout, open: opts.Open, rand: opts.Rand,
		client: opts.HTTPClient, after: opts.Sleep}
	if a.getenv == nil {
		a.getenv = func(string) string { return "" }
	}
	if a.out == nil {
		a.out = io.Discard
	}
	if a.rand == nil {
		a.rand = rand.Reader
	}
	if a.client == nil {
		a.client = &http.Client{Timeout: 10 * time.Second}
	}
	if a.after == nil {
		a.after = time.After
	}
	return a
}

// AppendFile opens path for appending, creating it: the Options.Open of a real step.
func AppendFile(path string) (io.WriteCloser, error) {
	return os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
}

// Getenv reads the step's environment.
func (a *Action) Getenv(name string) string { return a.getenv(name) }

// InActions reports whether the step runs under a GitHub Actions runner.
func (a *Action) InActions() bool { return a.getenv("GITHUB_ACTIONS") == "true" }

// command writes one workflow command line.
func (a *Action) command(name string, props map[string]string, msg string) {
	line := formatCommand(name, props, msg)
	a.mu.Lock()
	defer a.mu.Unlock()
	fmt.Fprintln(a.out, line)
}

// AddMask tells the runner to hide value from logs and summaries from now on.
// A multi-line value is masked whole and line by line, so that each printed
// line is hidden too. Call it before the value can appear anywhere.
func (a *Action) AddMask(value string) {
	if strings.TrimSpace(value) == "" {
		return
	}
	var parts []string
	if strings.ContainsAny(value, "\r\n") {
		for _, l := range strings.FieldsFunc(value, func(r rune) bool { return r == '\n' || r == '\r' }) {
			if len(strings.TrimSpace(l)) >= 4 { // shorter lines would mangle the log, not hide a secret
				parts = append(parts, l)
			}
		}
	}
	parts = append(parts, tokenParts(value)...)
	parts = append(parts, value)
	a.mu.Lock()
	a.secrets = append(a.secrets, parts...)
	sort.Slice(a.secrets, func(i, j int) bool { return len(a.secrets[i]) > len(a.secrets[j]) })
	a.mu.Unlock()
	// Each line first, so that the first line printed with any part of the
	// value is that part's mask; then the whole value (the runner unescapes
	// %0A in the message). One write for them all: a private key is some
	// thirty masks, a write system call each otherwise.
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(formatCommand("add-mask", nil, p))
		b.WriteByte('\n')
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	_, _ = io.WriteString(a.out, b.String())
}

// tokenParts are the parts of a stateless installation token
// (ghs_APPID_JWT) masked besides the whole: the JWT and its three segments.
// A masker that replaces secrets one after another (act) no longer finds the
// whole token once another secret inside it (the App ID, kept as a secret)
// was replaced, and a line may print only part of it. Parts shorter than 16
// characters are left out: they would mangle the log, not hide a secret.
func tokenParts(value string) []string {
	rest, ok := strings.CutPrefix(value, "ghs_")
	if !ok || !strings.Contains(value, ".") {
		return nil
	}
	_, jwt, ok := strings.Cut(rest, "_")
	if !ok {
		return nil
	}
	var parts []string
	for _, p := range append([]string{jwt}, strings.Split(jwt, ".")...) {
		if len(p) >= 16 {
			parts = append(parts, p)
		}
	}
	return parts
}

// Redact replaces every masked value in s with "***". Logs, annotations and
// the summary pass through it as a second line of defence.
func (a *Action) Redact(s string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, v := range a.secrets {
		s = strings.ReplaceAll(s, v, "***")
	}
	return s
}

// Debugf logs a debug message (shown when the run has debug logging on).
func (a *Action) Debugf(format string, args ...any) {
	a.command("debug", nil, a.Redact(fmt.Sprintf(format, args...)))
}

// Infof logs plain lines. Untrusted text in them cannot issue a workflow
// command: text that the runner would read as one is written inside
// stop-commands (Neutral).
func (a *Action) Infof(format string, args ...any) {
	msg := Neutral(a.Redact(fmt.Sprintf(format, args...)))
	a.mu.Lock()
	defer a.mu.Unlock()
	fmt.Fprint(a.out, msg)
	if !strings.HasSuffix(msg, "\n") {
		fmt.Fprintln(a.out)
	}
}

// Warnf logs a warning annotation without a position.
func (a *Action) Warnf(format string, args ...any) {
	a.Annotate(Warning, Position{}, "", fmt.Sprintf(format, args...))
}

// Level is the severity of an annotation.
type Level string

// Annotation levels.
const (
	Error   Level = "error"
	Warning Level = "warning"
	Notice  Level = "notice"
)

// Position places an annotation in a file. Line is set to 1 when a file is
// given without one: GitHub shows an annotation in the pull request's
// "Files changed" only when it has a line.
type Position struct {
	File      string
	Line      int
	Col       int
	EndLine   int
	EndColumn int
}

// Annotate writes an annotation with escaped properties and message.
func (a *Action) Annotate(level Level, pos Position, title, msg string) {
	props := map[string]string{}
	if pos.File != "" {
		props["file"] = a.Redact(pos.File)
		if pos.Line <= 0 {
			pos.Line = 1
		}
	}
	setInt := func(k string, v int) {
		if v > 0 {
			props[k] = strconv.Itoa(v)
		}
	}
	setInt("line", pos.Line)
	setInt("col", pos.Col)
	setInt("endLine", pos.EndLine)
	setInt("endColumn", pos.EndColumn)
	if title != "" {
		props["title"] = a.Redact(title)
	}
	a.command(string(level), props, a.Redact(msg))
}

// Group starts a collapsible group in the log; EndGroup closes it.
func (a *Action) Group(title string) { a.command("group", nil, a.Redact(title)) }

// EndGroup closes the group started by Group.
func (a *Action) EndGroup() { a.command("endgroup", nil, "") }

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// ErrNoFile is returned when the runner did not provide an environment file.
var ErrNoFile = errors.New("environment file not set")

// SetOutput sets the step output name. Mask a secret value first.
func (a *Action) SetOutput(name, value string) error {
	return a.fileCommand("GITHUB_OUTPUT", name, value)
}

// SaveState saves a value for the post step, which reads it with State. The
// runner debug-logs saved state: mask a secret value first.
func (a *Action) SaveState(name, value string) error {
	return a.fileCommand("GITHUB_STATE", name, value)
}

// SetEnv sets an environment variable for the later steps of the job.
func (a *Action) SetEnv(name, value string) error {
	return a.fileCommand("GITHUB_ENV", name, value)
}

// State returns the value main saved under name (the runner passes it to the
// post step as STATE_<name>).
func (a *Action) State(name string) string { return a.getenv("STATE_" + name) }

func (a *Action) fileCommand(envVar, name, value string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%s name %q: use letters, digits, '_' and '-'", strings.ToLower(strings.TrimPrefix(envVar, "GITHUB_")), name)
	}
	path := a.getenv(envVar)
	if path == "" {
		return fmt.Errorf("set %s %q: %w: $%s is empty; run inside GitHub Actions (or set it to a file)", strings.ToLower(strings.TrimPrefix(envVar, "GITHUB_")), name, ErrNoFile, envVar)
	}
	delim, err := a.delimiter()
	if err != nil {
		return err
	}
	if strings.Contains(value, delim) || strings.Contains(name, delim) {
		// With 128 random bits this only happens to a value built to inject.
		return fmt.Errorf("set %q: the value contains the random delimiter; refusing to write it", name)
	}
	return a.appendFile(path, name+"<<"+delim+"\n"+value+"\n"+delim+"\n")
}

func (a *Action) delimiter() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(a.rand, b); err != nil {
		return "", fmt.Errorf("make a delimiter: %w", err)
	}
	return "ghadelimiter_" + hex.EncodeToString(b), nil
}

func (a *Action) appendFile(path, data string) error {
	if a.open == nil {
		return fmt.Errorf("write %s: no file opener configured", path)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	f, err := a.open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	_, werr := io.WriteString(f, data)
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("write %s: %w", path, werr)
	}
	if cerr != nil {
		return fmt.Errorf("close %s: %w", path, cerr)
	}
	return nil
}

// ErrSummaryFull is returned when the step summary has reached SummaryLimit.
var ErrSummaryFull = errors.New("step summary is full (1 MiB per step)")

// Summary appends Markdown to the step summary ($GITHUB_STEP_SUMMARY). Masked
// values are redacted. What would pass SummaryLimit is cut at a line boundary
// with a note, and ErrSummaryFull is returned. Without a summary file it does
// nothing.
func (a *Action) Summary(markdown string) error {
	path := a.getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return nil
	}
	md := a.Redact(markdown)
	const note = "\n\n_jitkey: summary truncated at GitHub's 1 MiB limit._\n"
	a.mu.Lock()
	room := SummaryLimit - a.summary
	a.mu.Unlock()
	var full error
	if len(md) > room {
		full = ErrSummaryFull
		cut := room - len(note)
		if cut <= 0 {
			return full
		}
		md = md[:cut]
		if i := strings.LastIndexByte(md, '\n'); i >= 0 {
			md = md[:i]
		} else {
			md = ""
		}
		md += note
	}
	if err := a.appendFile(path, md); err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	a.mu.Lock()
	a.summary += len(md)
	if full != nil {
		a.summary = SummaryLimit
	}
	a.mu.Unlock()
	return full
}

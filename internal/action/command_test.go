package action

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runnerCommands is the runner's processing of a step's output, after
// actions/runner's ActionCommandManager.TryProcessCommand: each line is
// parsed (CommandName); stop-commands pauses processing until a line that
// parses as the command named by its token. It returns the commands run,
// stop and resume excluded, with their lines.
func runnerCommands(output string) []string {
	var run []string
	stop := ""
	for _, l := range Lines(output) {
		if stop != "" {
			if n, ok := CommandName(l, stop); ok && strings.EqualFold(n, stop) {
				stop = ""
			}
			continue
		}
		n, ok := CommandName(l)
		switch {
		case !ok:
		case strings.EqualFold(n, "stop-commands"):
			stop = l[strings.LastIndex(l, "::")+2:]
			if i := strings.Index(l, "##["); i >= 0 && !strings.HasPrefix(strings.TrimSpace(l), "::") {
				stop = l[strings.IndexByte(l[i:], ']')+i+1:]
			}
		default:
			run = append(run, n+": "+l)
		}
	}
	return run
}

// hostileLines are what untrusted text can put in the log: commands after
// leading white space (the runner trims it), the old "##[" form anywhere in
// a line, in any case, after \r, \r\n or a Unicode space, and an attempt to
// resume processing with a guessed token.
var hostileLines = []string{
	"::error::pwned",
	" ::add-mask::x",
	"\t::set-output name=token::ghs_fake",
	"\u00a0::warning::nbsp",
	"text ##[error]anywhere in a line",
	"x ##[ADD-MASK]case",
	"a\r::notice::after a carriage return",
	"::stop-commands::guess",
	"::guess::",
	"##[save-state name=x]y",
}

func TestCommandNameIsTheRunners(t *testing.T) {
	t.Parallel()
	for line, want := range map[string]string{
		"::error::x": "error", "   ::error file=a,line=1::x": "error", "\u3000::debug::x": "debug",
		"prefix ##[warning]x": "warning", "##[set-output name=a;]b": "set-output", "::ERROR::x": "ERROR",
		"::unknown::x": "", "::error": "", "x ::error::y": "", "##[error": "", ":: error::x": "", "#[error]x": "",
	} {
		got, ok := CommandName(line)
		assert.Equal(t, want != "", ok, "%q", line)
		assert.Equal(t, want, got, "%q", line)
	}
	n, ok := CommandName("::TOKEN123::", "token123")
	assert.True(t, ok)
	assert.Equal(t, "TOKEN123", n)
}

// TestInfofRunsNoCommand: a log line that carries untrusted text runs no
// workflow command, however the text tries.
func TestInfofRunsNoCommand(t *testing.T) {
	t.Parallel()
	for _, h := range hostileLines {
		var out bytes.Buffer
		a := New(Options{Getenv: func(string) string { return "" }, Stdout: &out})
		a.Infof("%s\njitkey: revoked %s\nnext %s", h, h, h)
		assert.Empty(t, runnerCommands(out.String()), "%q gave %q", h, out.String())
		assert.Contains(t, out.String(), h, "the text is kept as it is")
	}
}

// TestNeutral: every hostile line, alone or together, runs nothing and is
// kept; text without a command is left as it is.
func TestNeutral(t *testing.T) {
	t.Parallel()
	all := strings.Join(hostileLines, "\n")
	for _, text := range append(hostileLines, all, all+"\n") {
		out := Neutral(text)
		assert.Empty(t, runnerCommands(out), "%q", out)
		assert.Contains(t, out, text)
	}
	assert.Equal(t, "plain: a::b ## [x]\n", Neutral("plain: a::b ## [x]\n"))
	out := Neutral("::error::x")
	require.True(t, strings.HasPrefix(out, "::stop-commands::jitkey-"))
	assert.Len(t, runnerCommands(out+"::error::after\n"), 1, "processing resumes after the text")
}

// TestAnnotationsAreWhatWasAsked: an annotation whose title, file and
// message are hostile is still one command of the intended level, read back
// by the runner's rules with the same title and message.
func TestAnnotationsAreWhatWasAsked(t *testing.T) {
	t.Parallel()
	for _, h := range hostileLines {
		var out bytes.Buffer
		a := New(Options{Getenv: func(string) string { return "" }, Stdout: &out})
		a.Annotate(Warning, Position{File: h, Line: 3}, h, h+"\n"+h)
		cmds := runnerCommands(out.String())
		require.Len(t, cmds, 1, "%q", out.String())
		assert.True(t, strings.HasPrefix(cmds[0], "warning: "), cmds[0])
	}
}

// maskSequentially is a masker that replaces each secret in turn, as act
// does: once a shorter secret (an App ID kept as a secret, "1001") has been
// replaced inside a token, the token as a whole no longer matches.
func maskSequentially(text string, secrets []string) string {
	for _, s := range secrets {
		text = strings.ReplaceAll(text, s, "***")
	}
	return text
}

// TestStatelessTokenMaskedInParts: a stateless installation token
// (ghs_APPID_JWT) is masked whole and by its JWT's parts, so that a log line
// stays masked when another secret (the App ID) is masked inside it first,
// or when only a part of the token is printed.
func TestStatelessTokenMaskedInParts(t *testing.T) {
	t.Parallel()
	tok := "ghs_1001_eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhcHBfaWQiOjEwMDEsImV4cCI6MTc5NjQxMjE2NSwianRpIjoiYWJjIn0." + strings.Repeat("Sig-_x", 57)
	var out bytes.Buffer
	a := New(Options{Getenv: func(string) string { return "" }, Stdout: &out})
	a.AddMask(tok)
	var masks []string
	for _, l := range Lines(out.String()) {
		if v, ok := strings.CutPrefix(l, "::add-mask::"); ok {
			masks = append(masks, v)
		}
	}
	require.Contains(t, masks, tok)
	logged := maskSequentially("token="+tok+" part="+tok[strings.LastIndex(tok, ".")+1:], append([]string{"1001"}, masks...))
	assert.NotContains(t, logged, "eyJhcHBf", "the payload")
	assert.NotContains(t, logged, "Sig-_x", "the signature")
	for _, m := range masks {
		assert.GreaterOrEqual(t, len(m), 16, "no short mask mangles the log: %q", m)
	}
	classic := "ghs_" + strings.Repeat("Z", 36)
	out.Reset()
	a.AddMask(classic)
	assert.Equal(t, "::add-mask::"+classic+"\n", out.String(), "a classic token is one mask")
}

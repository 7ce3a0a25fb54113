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

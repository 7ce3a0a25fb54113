package action

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFileCommandsRoundTrip(t *testing.T) {
	t.Parallel()
	values := map[string]string{
		"token":      "ghs_abc",
		"multi":      "line one\nline two\n\nline four",
		"empty":      "",
		"injection":  "x\nEOF\nrule=admin",
		"delimiters": "ghadelimiter_0000\n<<EOF",
	}
	s := newStep(t)
	a := s.action()
	for k, v := range values {
		require.NoError(t, a.SetOutput(k, v))
		require.NoError(t, a.SaveState(k, v))
		require.NoError(t, a.SetEnv("JITKEY_"+strings.ToUpper(k), v))
	}
	for _, f := range []string{"GITHUB_OUTPUT", "GITHUB_STATE"} {
		got, err := parseFileCommands(s.file(f))
		require.NoError(t, err)
		assert.Equal(t, values, got, f)
	}
	env, err := parseFileCommands(s.file("GITHUB_ENV"))
	require.NoError(t, err)
	assert.Equal(t, values["injection"], env["JITKEY_INJECTION"])
	assert.NotContains(t, env, "rule", "a value must not inject another record")
}

func TestDelimiterIsFreshPerValue(t *testing.T) {
	t.Parallel()
	s := newStep(t)
	a := s.action()
	require.NoError(t, a.SetOutput("a", "1"))
	require.NoError(t, a.SetOutput("b", "2"))
	lines := strings.Split(s.file("GITHUB_OUTPUT"), "\n")
	require.GreaterOrEqual(t, len(lines), 6)
	d1, d2 := strings.TrimPrefix(lines[0], "a<<"), strings.TrimPrefix(lines[3], "b<<")
	assert.True(t, strings.HasPrefix(d1, "ghadelimiter_"))
	assert.Len(t, d1, len("ghadelimiter_")+32)
	assert.NotEqual(t, d1, d2)
}

func TestRefusesValueContainingDelimiter(t *testing.T) {
	t.Parallel()
	s := newStep(t)
	zero := bytes.NewReader(make([]byte, 64)) // predictable delimiter: ghadelimiter_000...
	a := New(Options{Getenv: s.getenv, Stdout: s.out, Open: AppendFile, Rand: zero})
	err := a.SetOutput("x", "a\nghadelimiter_"+strings.Repeat("0", 32)+"\ny<<Z")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "y<<Z", "the value must not be echoed")
	assert.Empty(t, s.file("GITHUB_OUTPUT"))
}

func TestFileCommandErrors(t *testing.T) {
	t.Parallel()
	a := New(Options{Getenv: func(string) string { return "" }, Open: AppendFile})
	err := a.SetOutput("token", "v")
	require.ErrorIs(t, err, ErrNoFile, "no panic when the file variable is unset")

	s := newStep(t)
	a = s.action()
	for _, bad := range []string{"", "a b", "a\nb", "a<<b", "a=b", "1x"} {
		assert.Error(t, a.SetOutput(bad, "v"), "%q", bad)
	}
	assert.Empty(t, s.file("GITHUB_OUTPUT"))

	a = New(Options{Getenv: s.getenv, Open: func(string) (io.WriteCloser, error) { return failWriter{}, nil }})
	assert.Error(t, a.SaveState("x", "y"))
	a = New(Options{Getenv: s.getenv, Open: func(string) (io.WriteCloser, error) { return nil, errors.New("denied") }})
	assert.ErrorContains(t, a.SaveState("x", "y"), "denied")
	a = New(Options{Getenv: s.getenv, Rand: bytes.NewReader(nil), Open: AppendFile})
	assert.ErrorContains(t, a.SaveState("x", "y"), "delimiter")
}

// TestStateFromMainToPost plays main then post as the runner does: the state
// file written by main becomes STATE_<name> variables of post.
func TestStateFromMainToPost(t *testing.T) {
	t.Parallel()
	main := newStep(t)
	am := main.action()
	token := "ghs_" + strings.Repeat("Z", 36)
	am.AddMask(token)
	require.NoError(t, am.SaveState("token", token))
	require.NoError(t, am.SaveState("expires-at", "2026-11-28T15:00:00Z"))

	saved, err := parseFileCommands(main.file("GITHUB_STATE"))
	require.NoError(t, err)
	post := newStep(t)
	for k, v := range saved {
		post.env["STATE_"+k] = v
	}
	ap := post.action()
	assert.Equal(t, token, ap.State("token"))
	assert.Equal(t, "2026-11-28T15:00:00Z", ap.State("expires-at"))
	assert.Empty(t, ap.State("missing"))
	assert.NotContains(t, main.out.String(), "::add-mask::"+token+"x")
	assertMaskedFirst(t, main.out.String(), token)
}

func TestMaskBeforeFirstAppearance(t *testing.T) {
	t.Parallel()
	key := "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAAA==\n-----END RSA PRIVATE KEY-----"
	s := newStep(t)
	a := s.action()
	a.AddMask(key)
	a.AddMask("   ") // blank values are not masks
	a.Infof("the key is %s", key)
	a.Debugf("debug %s", key)
	a.Annotate(Error, Position{File: "x.cue"}, key, key)
	require.NoError(t, a.Summary("key: "+key))
	out := s.out.String()
	assertMaskedFirst(t, out, key)
	assert.NotContains(t, out, "::add-mask::   ")
	assert.Contains(t, out, "::add-mask::MIIEow\n")
	assert.Contains(t, out, "::add-mask::-----BEGIN RSA PRIVATE KEY-----%0AMIIEow%0AAAAA==%0A-----END RSA PRIVATE KEY-----\n")
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			assert.NotContains(t, l, "MIIEow", "redacted after masking: %q", l)
		}
	}
	assert.NotContains(t, s.file("GITHUB_STEP_SUMMARY"), "MIIEow")
}

func TestAnnotationEscaping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		level Level
		pos   Position
		title string
		msg   string
		want  string
	}{
		{"message escapes", Error, Position{}, "", "100% done\r\nnext", "::error::100%25 done%0D%0Anext"},
		{"file gets a line", Warning, Position{File: "a/b.cue"}, "", "m", "::warning file=a/b.cue,line=1::m"},
		{"full position", Notice, Position{File: "p.cue", Line: 3, Col: 2, EndLine: 4, EndColumn: 9}, "t", "m",
			"::notice col=2,endColumn=9,endLine=4,file=p.cue,line=3,title=t::m"},
		{"property escapes", Error, Position{File: "a,b:c.cue", Line: 7}, "x: y, z%\n", "m",
			"::error file=a%2Cb%3Ac.cue,line=7,title=x%3A y%2C z%25%0A::m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			a := New(Options{Stdout: &out})
			a.Annotate(tt.level, tt.pos, tt.title, tt.msg)
			assert.Equal(t, tt.want+"\n", out.String())
		})
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	a := New(Options{Stdout: &out})
	a.Infof("plain\n::add-mask::x\n  ::error::y")
	a.Debugf("d%s", "\n2")
	a.Warnf("careful")
	a.Group("g")
	a.EndGroup()
	got := out.String()
	stop, rest, ok := strings.Cut(got, "\n")
	require.True(t, ok)
	token := strings.TrimPrefix(stop, "::stop-commands::")
	require.NotEqual(t, stop, token, "text that reads as a command is written inside stop-commands")
	assert.Equal(t, "plain\n::add-mask::x\n  ::error::y\n::"+token+"::\n::debug::d%0A2\n::warning::careful\n::group::g\n::endgroup::\n", rest)
	assert.Equal(t, []string{"debug: ::debug::d%0A2", "warning: ::warning::careful", "group: ::group::g", "endgroup: ::endgroup::"}, runnerCommands(got))
}

func TestSummaryCap(t *testing.T) {
	t.Parallel()
	s := newStep(t)
	a := s.action()
	line := strings.Repeat("x", 1023) + "\n"
	require.NoError(t, a.Summary(strings.Repeat(line, 1000)))
	err := a.Summary(strings.Repeat(line, 100))
	require.ErrorIs(t, err, ErrSummaryFull)
	got := s.file("GITHUB_STEP_SUMMARY")
	assert.LessOrEqual(t, len(got), SummaryLimit)
	assert.Contains(t, got, "truncated")
	require.ErrorIs(t, a.Summary("more"), ErrSummaryFull)
	assert.Equal(t, got, s.file("GITHUB_STEP_SUMMARY"))

	none := New(Options{Getenv: func(string) string { return "" }})
	assert.NoError(t, none.Summary("ignored without a summary file"))
}

package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/cli"
	"github.com/jitkey/jitkey/internal/markdown"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/policytest"
)

// The documentation is tested like code: README.md and every docs/*.md page
// must link only to files and headings that exist, their CUE examples must
// load (and their test cases pass), every jitkey command line they show must
// use flags the command has, and the explain transcripts must be what
// jitkey prints.

const repoRoot = "../.."

type docPage struct {
	path string // relative to the repository root
	markdown.Page
}

func docPages(t *testing.T) []docPage {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	require.NoError(t, err)
	paths = append([]string{filepath.Join(repoRoot, "README.md")}, paths...)
	require.Greater(t, len(paths), 1, "docs/ holds the reference pages")
	pages := make([]docPage, len(paths))
	for i, p := range paths {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		rel, err := filepath.Rel(repoRoot, p)
		require.NoError(t, err)
		pages[i] = docPage{path: filepath.ToSlash(rel), Page: markdown.Parse(string(data))}
	}
	return pages
}

func TestDocsLinksResolve(t *testing.T) {
	t.Parallel()
	anchors := map[string]map[string]bool{}
	pages := docPages(t)
	for _, p := range pages {
		anchors[p.path] = p.Anchors
	}
	total := 0
	for _, p := range pages {
		total += len(p.Links)
	}
	require.Greater(t, total, 20, "the links were found")
	for _, p := range pages {
		t.Run(p.path, func(t *testing.T) {
			t.Parallel()
			for _, l := range p.Links {
				if strings.HasPrefix(l.Target, "https://") || strings.HasPrefix(l.Target, "http://") || strings.HasPrefix(l.Target, "mailto:") {
					continue
				}
				file, frag, _ := strings.Cut(l.Target, "#")
				target := p.path
				if file != "" {
					target = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(p.path), file)))
					_, err := os.Stat(filepath.Join(repoRoot, target))
					if !assert.NoError(t, err, "%s:%d links to %s, which does not exist", p.path, l.Line, l.Target) {
						continue
					}
				}
				if frag == "" {
					continue
				}
				a, ok := anchors[target]
				if !assert.True(t, ok, "%s:%d links to an anchor in %s, which is not a checked page", p.path, l.Line, target) {
					continue
				}
				assert.True(t, a[frag], "%s:%d links to #%s, which no heading of %s makes", p.path, l.Line, frag, target)
			}
		})
	}
}

// TestDocsCUEExamplesLoad loads each CUE example with jitkey's loader; an
// example of test cases runs against the policy tree in policies/, with the
// organisation policy and each repository's consent, as a mint decides.
func TestDocsCUEExamplesLoad(t *testing.T) {
	t.Parallel()
	tree := policy.Policies{Owner: "acme", Repos: map[string]*policy.Set{}}
	var sets []*policy.Set
	dirs, err := filepath.Glob(filepath.Join(repoRoot, "policies", "acme", "*"))
	require.NoError(t, err)
	for _, dir := range dirs {
		paths, err := filepath.Glob(filepath.Join(dir, "*.cue"))
		require.NoError(t, err)
		fsys, names := fstest.MapFS{}, []string(nil)
		for _, p := range paths {
			if strings.HasSuffix(p, policy.TestSuffix) {
				continue
			}
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			fsys[filepath.Base(p)] = &fstest.MapFile{Data: data}
			names = append(names, filepath.Base(p))
		}
		set, err := policy.Load(fsys, names)
		require.NoError(t, err, dir)
		sets = append(sets, set)
		if repo := "acme/" + filepath.Base(dir); repo == "acme/.github" {
			tree.Org = set
		} else {
			tree.Repos[repo] = set
		}
	}
	n := 0
	for _, p := range docPages(t) {
		for _, b := range p.Blocks {
			if b.Lang != "cue" {
				continue
			}
			n++
			where := p.path + ":" + strconv.Itoa(b.Line)
			text := b.Text
			if strings.Contains(text, "public_url:") {
				// jitkey serve's configuration: checked against its schema.
				var cfg map[string]any
				assert.NoError(t, policy.DecodeConfig(where, []byte(text), "serve.cue", "#Serve", &cfg), "the serve configuration at %s", where)
				continue
			}
			if !strings.Contains(text, "apiVersion") {
				// A fragment of a policy, such as its waivers: it must load
				// as the whole of one.
				text = "apiVersion: \"jitkey.dev/v1\"\n" + text
			}
			if !strings.Contains(text, "tests:") {
				_, err := policy.LoadBytes("example.cue", []byte(text))
				assert.NoError(t, err, "the CUE example at %s does not load", where)
				continue
			}
			set, err := policy.LoadBytes("example"+policy.TestSuffix, []byte(text))
			if !assert.NoError(t, err, "the CUE test example at %s does not load", where) {
				continue
			}
			res := policytest.RunScope(tree, sets, set.Tests)
			require.NotEmpty(t, res.Cases)
			_, failed := res.Counts()
			assert.Zero(t, failed, "the CUE test example at %s fails against policies/: %+v", where, res.Cases)
		}
	}
	assert.GreaterOrEqual(t, n, 3, "the policy examples were found")
}

// TestDocsCommandsUseRealFlags checks every jitkey command line in a sh
// block, and every "$ jitkey" or synopsis line in a text block, names a
// command jitkey has and only flags that command accepts.
func TestDocsCommandsUseRealFlags(t *testing.T) {
	t.Parallel()
	flags := map[string]map[string]bool{}
	known := func(cmd string) map[string]bool {
		if f, ok := flags[cmd]; ok {
			return f
		}
		var stderr bytes.Buffer
		env := cli.Env{Stdin: strings.NewReader(""), Stdout: &stderr, Stderr: &stderr, Getenv: func(string) string { return "" }, Now: time.Now, Dir: t.TempDir()}
		code := cli.Run(context.Background(), append(strings.Fields(cmd), "-h"), env)
		f := map[string]bool{}
		if code == cli.ExitOK {
			for _, m := range flagDocRE.FindAllStringSubmatch(stderr.String(), -1) {
				f[m[1]] = true
			}
		}
		flags[cmd] = f
		return f
	}
	n := 0
	for _, p := range docPages(t) {
		for _, b := range p.Blocks {
			for i, line := range strings.Split(b.Text, "\n") {
				var cmds [][]string
				switch b.Lang {
				case "sh":
					cmds = shellCommands(line)
				case "text":
					if rest, ok := strings.CutPrefix(line, "$ "); ok {
						cmds = shellCommands(rest)
					} else if strings.HasPrefix(line, "jitkey ") && strings.Contains(line, "[") {
						cmds = shellCommands(strings.NewReplacer("[", " ", "]", " ", "|", "/", "...", "").Replace(line))
					}
				}
				for _, args := range cmds {
					n++
					where := p.path + ":" + strconv.Itoa(b.Line+1+i)
					cmd := args[0]
					if cmd == "review" && len(args) > 1 && args[1] == "merge" {
						cmd, args = "review merge", args[1:]
					}
					f := known(cmd)
					if !assert.NotEmpty(t, f, "%s: jitkey %s is not a command with flags", where, cmd) {
						continue
					}
					for _, a := range args[1:] {
						if !strings.HasPrefix(a, "-") || a == "-" {
							continue
						}
						name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
						assert.True(t, f[name], "%s: jitkey %s has no flag --%s", where, cmd, name)
					}
				}
			}
		}
	}
	assert.GreaterOrEqual(t, n, 10, "the command examples were found")
}

var flagDocRE = regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`)

// shellCommands returns the argument lists of the jitkey invocations in one
// shell line (pipelines and lists split, comments, redirections and
// variable assignments dropped), without the leading "jitkey".
func shellCommands(line string) [][]string {
	var out [][]string
	var cur []string
	flush := func() {
		for len(cur) > 0 && regexp.MustCompile(`^[A-Z_]+=`).MatchString(cur[0]) {
			cur = cur[1:]
		}
		switch {
		case len(cur) > 1 && cur[0] == "jitkey":
			out = append(out, cur[1:])
		case len(cur) > 3 && cur[0] == "go" && cur[1] == "run" && cur[2] == "./cmd/jitkey":
			out = append(out, cur[3:])
		}
		cur = nil
	}
	words := shellWords(line)
	for i := 0; i < len(words); i++ {
		switch w := words[i]; {
		case w == "#" || strings.HasPrefix(w, "#"):
			i = len(words)
		case w == "|" || w == "&&" || w == ";" || w == "||":
			flush()
		case w == ">" || w == "<" || w == "2>":
			i++
		default:
			cur = append(cur, w)
		}
	}
	flush()
	return out
}

// shellWords splits a line as a POSIX shell would, for the simple lines the
// documentation shows: quotes group, operators stand alone.
func shellWords(line string) []string {
	var words []string
	var b strings.Builder
	inWord := false
	var quote rune
	end := func() {
		if inWord {
			words = append(words, b.String())
		}
		b.Reset()
		inWord = false
	}
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			b.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			end()
		case r == '|' || r == ';' || r == '>' || r == '<':
			end()
			words = append(words, string(r))
		default:
			b.WriteRune(r)
			inWord = true
		}
	}
	end()
	for i := 0; i+1 < len(words); i++ {
		if words[i] == "|" && words[i+1] == "|" {
			words = append(words[:i], words[i+1:]...)
			words[i] = "||"
		}
	}
	return words
}

// TestDocsExplainTranscripts runs the explain examples as shown: the claims
// the transcript cats are the claims file, the policies are policies/, and
// every line shown (… marks lines left out) must be jitkey's output, in order.
func TestDocsExplainTranscripts(t *testing.T) {
	t.Parallel()
	n := 0
	for _, p := range docPages(t) {
		for _, b := range p.Blocks {
			if b.Lang != "text" || !strings.Contains(b.Text, "$ jitkey explain") {
				continue
			}
			dir := t.TempDir()
			require.NoError(t, os.CopyFS(filepath.Join(dir, "policies"), os.DirFS(filepath.Join(repoRoot, "policies"))))
			for _, step := range transcript(b.Text) {
				if file, ok := strings.CutPrefix(step.cmd, "cat "); ok {
					require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte(strings.Join(step.out, "\n")), 0o600))
					continue
				}
				cmds := shellCommands(step.cmd)
				require.Len(t, cmds, 1, "%s:%d: %s", p.path, b.Line, step.cmd)
				n++
				var stdout, stderr bytes.Buffer
				env := cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, Now: time.Now, Dir: dir}
				cli.Run(context.Background(), cmds[0], env)
				assertShown(t, p.path+":"+strconv.Itoa(b.Line)+": "+step.cmd, step.out, stdout.String()+stderr.String())
			}
		}
	}
	assert.GreaterOrEqual(t, n, 3, "the explain transcripts were found")
}

type transcriptStep struct {
	cmd string
	out []string
}

func transcript(text string) []transcriptStep {
	var steps []transcriptStep
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if cmd, ok := strings.CutPrefix(line, "$ "); ok {
			steps = append(steps, transcriptStep{cmd: cmd})
		} else if len(steps) > 0 && line != "" {
			last := &steps[len(steps)-1]
			last.out = append(last.out, line)
		}
	}
	return steps
}

// assertShown checks the lines shown appear in got in order; a line of
// only "…" stands for lines left out.
func assertShown(t *testing.T, what string, shown []string, got string) {
	t.Helper()
	lines := strings.Split(got, "\n")
	i := 0
	for _, want := range shown {
		if strings.TrimSpace(want) == "…" {
			continue
		}
		for i < len(lines) && strings.TrimRight(lines[i], " ") != want {
			i++
		}
		if !assert.Less(t, i, len(lines), "%s: the documentation shows %q, which jitkey did not print (in that order); it printed:\n%s", what, want, got) {
			return
		}
		i++
	}
}

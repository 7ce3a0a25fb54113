package policydiff

import (
	"bufio"
	"slices"
	"strconv"
	"strings"

	"github.com/jitkey/jitkey/internal/policy"
)

// Hunk is one changed region of a file, as `git diff -U0` reports it: the
// head's lines [NewStart, NewStart+NewLines) replace the base's lines
// [OldStart, OldStart+OldLines). NewLines is 0 for a deletion, which then
// lies after line NewStart.
type Hunk struct{ OldStart, OldLines, NewStart, NewLines int }

// Hunks holds the changed regions of each file, by its path in the head.
type Hunks map[string][]Hunk

// ParseUnifiedDiff reads the hunk headers of `git diff -U0` output. File
// names come from the "+++ b/PATH" lines (a deleted file's from "--- a/").
func ParseUnifiedDiff(diff string) Hunks {
	out := Hunks{}
	file := ""
	sc := bufio.NewScanner(strings.NewReader(diff))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "--- a/"):
			file = strings.TrimPrefix(line, "--- a/")
		case strings.HasPrefix(line, "+++ b/"):
			file = strings.TrimPrefix(line, "+++ b/")
		case strings.HasPrefix(line, "@@ ") && file != "":
			if h, ok := parseHunk(line); ok {
				out[file] = append(out[file], h)
			}
		}
	}
	return out
}

// parseHunk reads "@@ -OLD[,N] +NEW[,M] @@ ...".
func parseHunk(line string) (Hunk, bool) {
	f := strings.Fields(line)
	if len(f) < 3 || !strings.HasPrefix(f[1], "-") || !strings.HasPrefix(f[2], "+") {
		return Hunk{}, false
	}
	os, ol, ok1 := rangeOf(f[1][1:])
	ns, nl, ok2 := rangeOf(f[2][1:])
	return Hunk{OldStart: os, OldLines: ol, NewStart: ns, NewLines: nl}, ok1 && ok2
}

func rangeOf(s string) (start, n int, ok bool) {
	a, b, hasN := strings.Cut(s, ",")
	start, err := strconv.Atoi(a)
	if err != nil {
		return 0, 0, false
	}
	n = 1
	if hasN {
		if n, err = strconv.Atoi(b); err != nil {
			return 0, 0, false
		}
	}
	return start, n, true
}

// placer moves positions onto changed lines, so that GitHub shows an
// annotation beside the code a pull request changed rather than on a line
// it did not touch (which GitHub shows apart, if at all).
type placer struct {
	hunks   Hunks
	anchors map[string][]int // file -> sorted lines where a rule or the ceiling starts, in the head
	base    map[string]policy.Pos
}

func newPlacer(base, head *policy.Set, hunks Hunks) *placer {
	p := &placer{hunks: hunks, anchors: map[string][]int{}, base: map[string]policy.Pos{}}
	for _, r := range head.Rules {
		p.anchors[r.Pos.File] = append(p.anchors[r.Pos.File], r.Pos.Line)
	}
	if head.Ceiling != nil {
		p.anchors[head.Ceiling.Pos.File] = append(p.anchors[head.Ceiling.Pos.File], head.Ceiling.Pos.Line)
	}
	for f := range p.anchors {
		slices.Sort(p.anchors[f])
	}
	if base != nil {
		for _, r := range base.Rules {
			p.base[r.Name] = r.Pos
		}
	}
	return p
}

// inSpan returns the first changed line of the head between pos and the
// next rule (or ceiling) of its file, if any.
func (p *placer) inSpan(pos policy.Pos) (policy.Pos, bool) {
	end := int(^uint(0) >> 1)
	for _, a := range p.anchors[pos.File] {
		if a > pos.Line {
			end = a
			break
		}
	}
	best := 0
	for _, h := range p.hunks[pos.File] {
		if h.NewLines == 0 {
			continue
		}
		for l := max(h.NewStart, pos.Line); l < h.NewStart+h.NewLines && l < end; l++ {
			if best == 0 || l < best {
				best = l
			}
			break
		}
	}
	if best == 0 {
		return pos, false
	}
	if best == pos.Line {
		return pos, true
	}
	return policy.Pos{File: pos.File, Line: best, Col: 1}, true
}

// removed returns where, in the head, the base rule named name was
// deleted: the head line after which its lines were removed.
func (p *placer) removed(name string) (policy.Pos, bool) {
	at, ok := p.base[name]
	if !ok {
		return policy.Pos{}, false
	}
	for _, h := range p.hunks[at.File] {
		if at.Line >= h.OldStart && at.Line < h.OldStart+max(h.OldLines, 1) {
			return policy.Pos{File: at.File, Line: max(h.NewStart, 1), Col: 1}, true
		}
	}
	return policy.Pos{}, false
}

// place returns the position to report: a changed line of the rule's own
// span, else one of the rule (cause) whose change caused it, else where
// that rule was deleted, else pos unchanged.
func (p *placer) place(pos policy.Pos, cause policy.Pos, causeName string) policy.Pos {
	if p == nil || len(p.hunks) == 0 {
		return pos
	}
	if at, ok := p.inSpan(pos); ok {
		return at
	}
	if cause.File != "" {
		if at, ok := p.inSpan(cause); ok {
			return at
		}
	}
	if causeName != "" {
		if at, ok := p.removed(causeName); ok {
			return at
		}
	}
	return pos
}

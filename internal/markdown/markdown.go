// Package markdown reads what the repository's documentation tests check in
// a Markdown page: its fenced code blocks, its links and the anchors GitHub
// gives its headings.
package markdown

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Block is a fenced code block at the top level of a page (blocks nested in
// a longer fence belong to that fence's text).
type Block struct {
	Lang string // the info string's first word
	Line int    // the line of the opening fence, 1-based
	Text string // the content, without the fences
}

// Link is an inline link [text](Target) outside code.
type Link struct {
	Target string
	Line   int
}

// Page is one parsed Markdown page.
type Page struct {
	Blocks  []Block
	Links   []Link
	Anchors map[string]bool // the anchors of its headings, as GitHub makes them
}

var (
	fenceRE   = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})\\s*([^`\\s]*)")
	headingRE = regexp.MustCompile(`^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	linkRE    = regexp.MustCompile(`\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	codeRE    = regexp.MustCompile("`+[^`]*`+")
)

// Parse reads a page.
func Parse(src string) Page {
	p := Page{Anchors: map[string]bool{}}
	seen := map[string]int{}
	var fence string
	var cur *Block
	var body []string
	for i, line := range strings.Split(src, "\n") {
		n := i + 1
		if m := fenceRE.FindStringSubmatch(line); m != nil {
			switch {
			case fence == "":
				fence, cur, body = m[1], &Block{Lang: m[2], Line: n}, nil
				continue
			case strings.TrimSpace(line) == fence:
				cur.Text = strings.Join(body, "\n") + "\n"
				p.Blocks = append(p.Blocks, *cur)
				fence, cur = "", nil
				continue
			}
		}
		if fence != "" {
			body = append(body, line)
			continue
		}
		text := codeRE.ReplaceAllString(line, "")
		for _, m := range linkRE.FindAllStringSubmatch(text, -1) {
			p.Links = append(p.Links, Link{Target: m[2], Line: n})
		}
		if m := headingRE.FindStringSubmatch(line); m != nil {
			a := Anchor(m[2])
			if k := seen[a]; k > 0 {
				seen[a]++
				a = fmt.Sprintf("%s-%d", a, k)
			} else {
				seen[a] = 1
			}
			p.Anchors[a] = true
		}
	}
	return p
}

// Anchor is the fragment GitHub gives a heading: its text without markup,
// lower-cased, with spaces as hyphens and punctuation other than hyphens and
// underscores dropped.
func Anchor(heading string) string {
	heading = linkRE.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

package review

import "strings"

// Code renders untrusted text as a Markdown code span. It is the one way a
// credential-supplied string (a deploy key's title, a token's name, an
// owner, a URL, a command built from them) enters an issue, a comment or a
// job summary: inside a code span nothing is a link, a mention, an image,
// HTML or an HTML comment, on GitHub as in CommonMark.
//
// The fence is one backtick longer than the longest run of backticks in the
// text, so no backtick in it can close the span, with a space inside each
// fence when the text starts or ends with a backtick or a space (CommonMark
// strips one). Line breaks become spaces: a code span cannot hold a block,
// and a line of its own would be parsed as one (a heading, a table row).
func Code(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
	if s == "" {
		return "` `"
	}
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if first, last := s[0], s[len(s)-1]; first == '`' || last == '`' || first == ' ' || last == ' ' {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// Cell renders untrusted text as a code span in a table cell: Code, with
// "|" escaped, since a GFM table splits its cells before it reads code spans
// (GitHub drops the backslash inside the span).
func Cell(s string) string {
	return strings.ReplaceAll(Code(s), "|", `\|`)
}

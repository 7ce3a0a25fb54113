package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
)

// Nearest returns the candidate closest to s, ignoring case and treating
// "-" as "_" ("pull-requests" -> "pull_requests", "Read" -> "read",
// "wrtie" -> "write"), or "" when none is close enough to be a typo of s.
// It is the one spelling suggestion for fields, permission names, levels
// and claim values.
func Nearest(s string, candidates []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	best, bestD := "", 0
	for _, c := range candidates {
		if c == s {
			continue
		}
		d := editDistance(norm(s), norm(c))
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > max(1, len([]rune(s))/3) {
		return ""
	}
	return best
}

// didYouMean names the field the schema allows at path's parent that is
// closest to the unknown field at path ("pull-requests" -> "pull_requests",
// "event_nmae" -> "event_name"), or returns "".
func didYouMean(u cue.Value, path []string) string {
	if len(path) == 0 || !u.Exists() {
		return ""
	}
	unknown := unquote(path[len(path)-1])
	var names []string
	switch {
	case len(path) >= 2 && strings.HasSuffix(path[len(path)-2], "permissions"):
		for name := range permissionLevels {
			names = append(names, name)
		}
		slices.Sort(names)
	case len(path) == 4 && path[0] == "rules" && path[2] == "match":
		// #Match names its claims in pattern constraints, which Fields
		// does not list.
		names = claimNames
	default:
		it, err := u.LookupPath(cuePath(path[:len(path)-1])).Fields(cue.Optional(true))
		if err != nil {
			return ""
		}
		for it.Next() {
			names = append(names, it.Selector().Unquoted())
		}
	}
	if best := Nearest(unknown, names); best != "" {
		return fmt.Sprintf("; did you mean %s?", best)
	}
	return ""
}

// levelMessage says that quoted (a CUE string literal) is not a level of
// the permission perm, suggesting the closest level it accepts.
func levelMessage(perm, quoted string) string {
	level, err := strconv.Unquote(quoted)
	if err != nil {
		level = quoted
	}
	msg := fmt.Sprintf("%q is not a level of %s", level, perm)
	if near := Nearest(level, permissionLevels[perm]); near != "" {
		msg += fmt.Sprintf("; did you mean %q?", near)
	}
	return msg
}

// editDistance is the Levenshtein distance between a and b, with a swap of
// two neighbouring letters counted as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

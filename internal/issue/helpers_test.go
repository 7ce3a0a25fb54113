package issue_test

import (
	"strconv"

	"github.com/google/go-github/v62/github"
)

type ghIssueReq = github.IssueRequest

type ghComment = github.IssueComment

func str(s string) *string { return &s }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// credID reads the credential row of an issue body.
func credID(body string) string {
	const row = "| Credential | `"
	i := indexOf(body, row)
	if i < 0 {
		return ""
	}
	rest := body[i+len(row):]
	return rest[:indexOf(rest, "`")]
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

package broker

import (
	"io"
	"strconv"

	"github.com/jitkey/jitkey/internal/github"
)

var errEOF = io.EOF

// errText is an error's redacted text ("" for nil).
func errText(err error) string {
	if err == nil {
		return ""
	}
	return github.Redact(err.Error())
}

func itoa(n int) string { return strconv.Itoa(n) }

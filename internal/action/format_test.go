package action

import (
	"testing"

	githubactions "github.com/sethvargo/go-githubactions"
	"github.com/stretchr/testify/assert"
)

// FuzzFormatCommand checks jitkey's workflow command lines against
// go-githubactions' Command.String, which it replaces in the step binaries:
// the same line for any name, properties and message.
func FuzzFormatCommand(f *testing.F) {
	f.Add("error", "title", "jitkey mint failed: a, b", "file", "p.cue:3", "line one\nline two 100%\r")
	f.Add("add-mask", "", "", "", "", "ghs_0123456789abcdef")
	f.Add("", "k", "%0A:,", "", "", "")
	f.Add("warning", "z", "1", "a", "2", "::stop-commands::x")
	f.Fuzz(func(t *testing.T, name, k1, v1, k2, v2, msg string) {
		props := map[string]string{}
		for k, v := range map[string]string{k1: v1, k2: v2} {
			if k != "" {
				props[k] = v
			}
		}
		want := (&githubactions.Command{Name: name, Message: msg, Properties: props}).String()
		assert.Equal(t, want, formatCommand(name, props, msg))
	})
}

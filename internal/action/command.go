package action

import (
	"crypto/rand"
	"encoding/hex"
	"sort"
	"strings"
)

// formatCommand is the workflow command line "::name k=v,k=v::message", as
// the toolkit's command.ts (and go-githubactions' Command.String) writes it:
// properties sorted by name, property values and the message escaped.
// It is jitkey's own (go-githubactions' is the same code) so that the step
// binaries do not link that package, whose step-summary templates link
// html/template.
func formatCommand(name string, props map[string]string, msg string) string {
	if name == "" {
		name = "missing.command"
	}
	var b strings.Builder
	b.WriteString("::")
	b.WriteString(name)
	if len(props) > 0 {
		kv := make([]string, 0, len(props))
		for k, v := range props {
			kv = append(kv, k+"="+escapeProperty(v))
		}
		sort.Strings(kv)
		b.WriteString(" ")
		b.WriteString(strings.Join(kv, ","))
	}
	b.WriteString("::")
	b.WriteString(escapeData(msg))
	return b.String()
}

var (
	dataEscaper     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	propertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

func escapeData(v string) string     { return dataEscaper.Replace(v) }
func escapeProperty(v string) string { return propertyEscaper.Replace(v) }

// registered are the workflow commands the runner acts on (the command
// extensions of actions/runner's ActionCommandManager, and stop-commands),
// compared without regard to case.
var registered = map[string]bool{
	"add-mask": true, "add-path": true, "set-env": true, "set-output": true, "save-state": true,
	"error": true, "warning": true, "notice": true, "debug": true, "group": true, "endgroup": true,
	"echo": true, "add-matcher": true, "remove-matcher": true, "stop-commands": true,
}

// CommandName reads line the way actions/runner's ActionCommand does and
// returns the command the runner would run, if any: TryParseV2 (after
// leading white space is trimmed, "::NAME props::data") and, failing that,
// TryParse ("##[NAME props]data" anywhere in the line). extra names more
// registered commands (the stop token while commands are stopped).
func CommandName(line string, extra ...string) (string, bool) {
	known := func(name string) bool {
		if registered[strings.ToLower(name)] {
			return true
		}
		for _, e := range extra {
			if strings.EqualFold(e, name) {
				return true
			}
		}
		return false
	}
	name := func(info string) string {
		if i := strings.IndexByte(info, ' '); i >= 0 {
			return info[:i]
		}
		return info
	}
	// .NET's TrimStart trims Unicode white space.
	if v2 := strings.TrimLeftFunc(line, isDotNetSpace); strings.HasPrefix(v2, "::") {
		if end := strings.Index(v2[2:], "::"); end >= 0 {
			if n := name(v2[2 : 2+end]); n != "" && known(n) {
				return n, true
			}
		}
	}
	if i := strings.Index(line, "##["); i >= 0 {
		if rb := strings.IndexByte(line[i:], ']'); rb >= 0 {
			if n := name(line[i+3 : i+rb]); n != "" && known(n) {
				return n, true
			}
		}
	}
	return "", false
}

func isDotNetSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// Lines splits text as the runner reads a step's output: at "\n", "\r\n"
// and a lone "\r" (.NET's ReadLine).
func Lines(text string) []string {
	return strings.FieldsFunc(strings.ReplaceAll(text, "\r\n", "\n"), func(r rune) bool { return r == '\n' || r == '\r' })
}

// Neutral returns text the runner logs as it is, without running any
// workflow command in it: text itself when no line of it reads as one,
// else text between "::stop-commands::TOKEN" and "::TOKEN::", the runner's
// own way to pause command processing, with a random token text does not
// hold (so nothing in it can resume processing early). Text that untrusted
// input reaches (credential names, IDs, GitHub's error messages) goes to
// the log through it.
func Neutral(text string) string {
	needed := false
	for _, l := range Lines(text) {
		if _, ok := CommandName(l); ok {
			needed = true
			break
		}
	}
	if !needed {
		return text
	}
	token := stopToken(text)
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return "::stop-commands::" + token + "\n" + text + "::" + token + "::\n"
}

// stopToken is a random token that text does not contain (in any case).
func stopToken(text string) string {
	lower := strings.ToLower(text)
	for {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			panic("action: random stop token: " + err.Error())
		}
		t := "jitkey-" + hex.EncodeToString(b)
		if !strings.Contains(lower, t) {
			return t
		}
	}
}

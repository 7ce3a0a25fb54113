package github

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzClassify feeds arbitrary error answers to the classifier: it must not
// panic, must always name a class and a fix, and must never repeat anything
// token-shaped from the body.
func FuzzClassify(f *testing.F) {
	f.Add(401, "application/json", `{"message":"A JSON web token could not be decoded"}`, "", "")
	f.Add(403, "application/json", `{"message":"API rate limit exceeded"}`, "0", "")
	f.Add(429, "", `{}`, "", "30")
	f.Add(422, "application/json; charset=utf-8", `{"message":"The permissions requested are not granted to this installation."}`, "", "")
	f.Add(404, "text/html", `<!DOCTYPE html>`, "", "")
	f.Add(401, "application/json", `{"message":"Bad credentials ghs_abcdefghijklmnopqrstuvwxyz0123456789"}`, "", "")
	f.Fuzz(func(t *testing.T, status int, ctype, body, remaining, retryAfter string) {
		if status < 400 || status > 599 {
			return
		}
		h := http.Header{}
		h.Set("Content-Type", ctype)
		h.Set("X-Ratelimit-Remaining", remaining)
		h.Set("Retry-After", retryAfter)
		e := classify("GET", "/x", status, h, []byte(body), time.Unix(1_800_000_000, 0))
		if e.Class == "" || e.Fix == "" && e.Class != ClassOther {
			t.Fatalf("class %q fix %q", e.Class, e.Fix)
		}
		msg := e.Error()
		if secretish.MatchString(msg) && !strings.Contains(body, "***") {
			t.Fatalf("a secret-shaped string survived: %q", msg)
		}
	})
}

// FuzzParsePrivateKey: no panic, and an error never quotes the input.
func FuzzParsePrivateKey(f *testing.F) {
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte(`-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, key []byte) {
		_, err := ParsePrivateKey(key)
		if err == nil {
			return
		}
		s := strings.TrimSpace(string(key))
		if len(s) >= 12 && strings.Contains(err.Error(), s) {
			t.Fatalf("the error quotes the key")
		}
	})
}

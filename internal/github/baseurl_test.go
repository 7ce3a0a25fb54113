package github_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/github"
)

func TestParseBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		fails    bool
	}{
		{in: "", want: "https://api.github.com/"},
		{in: "https://api.github.com", want: "https://api.github.com/"},
		{in: " https://api.github.com/ ", want: "https://api.github.com/"},
		{in: "https://ghes.example.com/api/v3", want: "https://ghes.example.com/api/v3/"},
		{in: "https://ghes.example.com/api/v3/", want: "https://ghes.example.com/api/v3/"},
		{in: "https://ghes.example.com/api/v3//", want: "https://ghes.example.com/api/v3/"},
		{in: "https://api.acme.ghe.com", want: "https://api.acme.ghe.com/"},
		{in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080/"},
		{in: "http://localhost:8080/api/v3", want: "http://localhost:8080/api/v3/"},
		{in: "https://ghes.example.com", fails: true},
		{in: "https://ghes.example.com/api", fails: true},
		{in: "https://github.com", fails: true},
		{in: "https://api.github.com/v3", fails: true},
		{in: "ghes.example.com/api/v3", fails: true},
		{in: "ftp://api.github.com", fails: true},
		{in: "https://user:pw@ghes.example.com/api/v3", fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			u, err := github.ParseBaseURL(tt.in)
			if tt.fails {
				require.Error(t, err)
				assert.Equal(t, github.ClassWrongAPIURL, github.ClassOf(err))
				assert.NotContains(t, err.Error(), "pw")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, u.String())
		})
	}
}

func TestParseBaseURLSuggestsGHESPath(t *testing.T) {
	t.Parallel()
	_, err := github.ParseBaseURL("https://ghes.example.com/")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "https://ghes.example.com/api/v3/")
}

func FuzzParseBaseURL(f *testing.F) {
	for _, s := range []string{"", "https://api.github.com", "https://h/api/v3", "http://[::1]:1/x", "%", "https://github.com/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := github.ParseBaseURL(s)
		if err != nil {
			return
		}
		if u.Path[len(u.Path)-1] != '/' || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
			t.Fatalf("%q normalised to %q", s, u)
		}
		again, err := github.ParseBaseURL(u.String())
		if err != nil || again.String() != u.String() {
			t.Fatalf("not idempotent: %q -> %q -> %v, %v", s, u, again, err)
		}
	})
}

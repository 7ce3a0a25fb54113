package issue

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/review"
)

func TestMarkerRoundTrip(t *testing.T) {
	t.Parallel()
	m := Marker{Fingerprint: "0123abcd", Evidence: "ffee", Kind: "deploy_key", Target: "acme/api", Reminders: 2}
	got, ok := ParseMarker("text before\n" + m.String() + "\nafter")
	require.True(t, ok)
	assert.Equal(t, m, got)
	for _, bad := range []string{"", "<!-- jitkey:fingerprint=XYZ evidence=1 -->", "<!-- jitkey -->"} {
		_, ok := ParseMarker(bad)
		assert.False(t, ok, bad)
	}
}

func FuzzParseMarker(f *testing.F) {
	f.Add("<!-- jitkey:fingerprint=ab evidence=cd kind=x target=o/r reminders=1 -->")
	f.Add("<!-- jitkey:fingerprint=ab evidence=cd reminders=999999999999999999999 -->")
	f.Fuzz(func(t *testing.T, body string) {
		m, ok := ParseMarker(body)
		if ok {
			again, ok2 := ParseMarker(m.String())
			if !ok2 || again.Fingerprint != m.Fingerprint || again.Evidence != m.Evidence {
				t.Fatalf("marker does not round-trip: %q", body)
			}
		}
	})
}

func TestIsCommand(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"/jitkey revoke":                   true,
		"  /jitkey revoke  \nplease":       true,
		"please /jitkey revoke":            false,
		"/jitkey revoke-all":               false,
		"> /jitkey revoke (quoted by bot)": false,
		"":                                 false,
	}
	for body, want := range tests {
		assert.Equal(t, want, IsCommand(body), body)
	}
}

func TestCodeOwnersAndLogins(t *testing.T) {
	t.Parallel()
	text := "# owners\n*       @first\n/docs/  @docs-team\n*  @acme/security @octocat dev@example.com # last wins\n"
	assert.Equal(t, []string{"@acme/security", "@octocat", "dev@example.com"}, CodeOwners(text))
	assert.Equal(t, []string{"octocat"}, logins(CodeOwners(text)))
	assert.Equal(t, []string{"@acme/security", "@octocat"}, mentions(CodeOwners(text)))
	assert.Nil(t, CodeOwners("/src/ @x\n"))
}

func TestPacerKeepsWithinLimits(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var slept time.Duration
	p := NewPacer(clock, func(_ context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
		slept += d
		return nil
	})
	for i := 0; i < 80; i++ {
		require.NoError(t, p.Wait(context.Background()))
	}
	assert.Zero(t, slept, "the first 80 go at once")
	require.NoError(t, p.Wait(context.Background()))
	assert.Equal(t, time.Minute, slept, "the 81st waits for the minute to pass")
	for i := 0; i < 500; i++ {
		require.NoError(t, p.Wait(context.Background()))
	}
	// 581 requests: no window of one minute holds more than 80, none of an hour more than 500.
	assert.GreaterOrEqual(t, slept, time.Hour)
	assert.Equal(t, slept, p.Waited())
}

func TestBodyEscapesUntrustedNames(t *testing.T) {
	t.Parallel()
	c := inventory.Credential{Kind: policy.KindDeployKey, ID: "acme/api:deploy_key:1", Name: "x` <img src=x> @everyone\n# h", Org: "acme",
		Repo: "acme/api", Scope: inventory.ScopeRepository, CreatedAt: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Write: true}
	rep := review.Evaluate(&inventory.Inventory{Credentials: []inventory.Credential{c}}, policy.Review{}, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NotEmpty(t, rep.Findings)
	body := Body(rep.Findings[0], []string{"@octocat"}, 0)
	assert.Contains(t, body, "``x` <img src=x> @everyone # h``")
	for _, section := range []string{"**What:**", "### Evidence", "### Why it matters", "### How to fix it", "### How to exempt it", "```cue", "### Review policy applied", "Owners: @octocat"} {
		assert.Contains(t, body, section)
	}
	m, ok := ParseMarker(body)
	require.True(t, ok)
	assert.Equal(t, rep.Findings[0].Fingerprint, m.Fingerprint)
	assert.Equal(t, "acme/api", m.Target)
	assert.Equal(t, "acme/api:deploy_key:1", credentialID(body))
	assert.False(t, strings.Contains(body, "\n# h"))
}

func FuzzCodeOwners(f *testing.F) {
	f.Add("* @a @org/team x@example.com\n# c\n/docs @b")
	f.Add("*\n*\t@\n")
	f.Fuzz(func(t *testing.T, text string) {
		for _, l := range logins(CodeOwners(text)) {
			if l == "" || strings.ContainsAny(l, "/@ \t\n") {
				t.Fatalf("bad assignee %q from %q", l, text)
			}
		}
	})
}

func TestShardsDividePacing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		shards, perMinute, perHour int
	}{
		{shards: 0, perMinute: 80, perHour: 500},
		{shards: 1, perMinute: 80, perHour: 500},
		{shards: 3, perMinute: 26, perHour: 166}, // rounded down: together within the limits
		{shards: 4, perMinute: 20, perHour: 125},
		{shards: 100, perMinute: 1, perHour: 5},
		{shards: 1000, perMinute: 1, perHour: 1}, // at least 1
	}
	for _, tt := range tests {
		tr := New(nil, nil, nil, nil, Config{Shards: tt.shards})
		assert.Equal(t, tt.perMinute, tr.pacer.PerMinute, "shards %d", tt.shards)
		assert.Equal(t, tt.perHour, tr.pacer.PerHour, "shards %d", tt.shards)
	}
	given := &Pacer{PerMinute: 7, PerHour: 9}
	tr := New(nil, nil, nil, nil, Config{Shards: 4, Pacer: given})
	assert.Same(t, given, tr.pacer)
	assert.Equal(t, 7, given.PerMinute, "a given pacer is used as it is")

	// with 4 shards, the 21st request of a minute waits for the minute to pass
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var slept time.Duration
	tr = New(nil, nil, nil, nil, Config{Shards: 4, Now: func() time.Time { return now }, Sleep: func(_ context.Context, d time.Duration) error {
		now = now.Add(d)
		slept += d
		return nil
	}})
	for i := 0; i < 20; i++ {
		require.NoError(t, tr.pacer.Wait(context.Background()))
	}
	assert.Zero(t, slept)
	require.NoError(t, tr.pacer.Wait(context.Background()))
	assert.Equal(t, time.Minute, slept)
}

package inventory

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
)

func TestParseShard(t *testing.T) {
	t.Parallel()
	s, err := ParseShard("1/4")
	require.NoError(t, err)
	assert.Equal(t, Shard{1, 4}, s)
	for _, bad := range []string{"4/4", "-1/2", "a/b", "1", "0/0"} {
		_, err := ParseShard(bad)
		assert.Error(t, err, bad)
	}
	z, err := ParseShard("")
	require.NoError(t, err)
	assert.True(t, z.Has("any/repo"))
}

func TestShardsPartitionRepositories(t *testing.T) {
	t.Parallel()
	const n = 4
	counts := make([]int, n)
	for i := 0; i < 1000; i++ {
		name := "acme/repo-" + string(rune('a'+i%26)) + string(rune('0'+i%10)) + string(rune('a'+i/26%26))
		owners := 0
		for s := 0; s < n; s++ {
			if (Shard{s, n}).Has(name) {
				owners++
				counts[s]++
			}
		}
		assert.Equal(t, 1, owners, name)
		assert.Equal(t, (Shard{0, n}).Has(name), (Shard{0, n}).Has("ACME/"+name[5:]), "case-insensitive")
	}
	for _, c := range counts {
		assert.Greater(t, c, 100, "roughly balanced")
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	t.Parallel()
	key := CheckpointKey(Options{Org: "acme"})
	cp := ReadCheckpoint(key, nil)
	var buf bytes.Buffer
	require.NoError(t, cp.Start(&buf))
	r := Result{Target: "acme/api", Credentials: []Credential{{Kind: policy.KindDeployKey, ID: "acme/api:deploy_key:1"}},
		Coverage: []Coverage{{Target: "acme/api", Kind: policy.KindDeployKey, Status: StatusReviewed}}}
	require.NoError(t, cp.Record(r))

	again := ReadCheckpoint(key, append(buf.Bytes(), []byte(`{"target":"acme/trunc`)...))
	got, ok := again.Done("acme/api")
	require.True(t, ok)
	assert.Equal(t, r, got)
	assert.Equal(t, 1, again.Len(), "a truncated last line is ignored")

	other := ReadCheckpoint(CheckpointKey(Options{Org: "other"}), buf.Bytes())
	assert.Zero(t, other.Len(), "a checkpoint of another scope is not reused")
	orgOnly := ReadCheckpoint(CheckpointKey(Options{Org: "acme", OrgOnly: true}), buf.Bytes())
	assert.Zero(t, orgOnly.Len(), "nor one of the organisation's own credentials only")
}

func TestMergePrefersComplete(t *testing.T) {
	t.Parallel()
	a := &Inventory{Org: "acme", Calls: 3, Repos: []Repo{{FullName: "acme/a"}},
		Credentials: []Credential{{ID: "x"}}, Coverage: []Coverage{{Target: "org:acme", Kind: policy.KindWebhook, Status: StatusPartial}}}
	b := &Inventory{Org: "acme", Calls: 4, Repos: []Repo{{FullName: "acme/b"}},
		Credentials: []Credential{{ID: "x"}, {ID: "y"}}, Coverage: []Coverage{{Target: "org:acme", Kind: policy.KindWebhook, Status: StatusReviewed}}}
	m := Merge(a, b)
	assert.Equal(t, 7, m.Calls)
	assert.Len(t, m.Repos, 2)
	assert.Len(t, m.Credentials, 2)
	assert.True(t, m.Complete("org:acme", policy.KindWebhook))
	assert.False(t, m.Partial())
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "https://hooks.slack.com", redactURL("https://user:pw@hooks.slack.com/services/T0/B0/SECRETPART?token=abc"))
	assert.Equal(t, "(unparsable URL)", redactURL("::"))
}

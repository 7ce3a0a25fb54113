package markdown_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/jitkey/jitkey/internal/markdown"
)

func TestAnchor(t *testing.T) {
	t.Parallel()
	tests := []struct{ heading, want string }{
		{"Quick start", "quick-start"},
		{"For repositories: minting a token in a job", "for-repositories-minting-a-token-in-a-job"},
		{"`jitkey validate`: schema, lint and grant diff", "jitkey-validate-schema-lint-and-grant-diff"},
		{"Large organisations: shards, merge, checkpoint", "large-organisations-shards-merge-checkpoint"},
		{"[Linked](x.md) title_with_underscore", "linked-title_with_underscore"},
		{"Évidence à 2 ×", "évidence-à-2-"},
	}
	for _, tt := range tests {
		t.Run(tt.heading, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, markdown.Anchor(tt.heading))
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	src := "# Title\n\nSee [a](a.md#x) and `[not](a link)`.\n\n## Title\n\n" +
		"````markdown\n```cue\nnested: 1\n```\n[inside](fence.md)\n````\n\n" +
		"```cue\nx: 1\n```\n\n### `code` heading\n"
	p := markdown.Parse(src)
	assert.Equal(t, []markdown.Link{{Target: "a.md#x", Line: 3}}, p.Links)
	assert.Equal(t, map[string]bool{"title": true, "title-1": true, "code-heading": true}, p.Anchors)
	if assert.Len(t, p.Blocks, 2) {
		assert.Equal(t, markdown.Block{Lang: "markdown", Line: 7, Text: "```cue\nnested: 1\n```\n[inside](fence.md)\n"}, p.Blocks[0])
		assert.Equal(t, markdown.Block{Lang: "cue", Line: 14, Text: "x: 1\n"}, p.Blocks[1])
	}
}

package action

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestActionMetadata holds action.yml to the inputs ReadInputs reads and the
// outputs the package names, and to the node24 main/post contract.
func TestActionMetadata(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../action.yml")
	require.NoError(t, err)
	var meta struct {
		Inputs  yaml.Node `yaml:"inputs"`
		Outputs yaml.Node `yaml:"outputs"`
		Runs    map[string]string
	}
	require.NoError(t, yaml.Unmarshal(data, &meta))
	keys := func(n yaml.Node) []string {
		var out []string
		for i := 0; i < len(n.Content); i += 2 {
			out = append(out, n.Content[i].Value)
		}
		return out
	}
	assert.Equal(t, InputNames, keys(meta.Inputs))
	assert.Equal(t, OutputNames, keys(meta.Outputs))
	assert.Equal(t, map[string]string{"using": "node24", "main": "action/main.js", "post": "action/post.js", "post-if": "always()"}, meta.Runs)

	var full struct {
		Inputs map[string]struct {
			Description string `yaml:"description"`
			Default     string `yaml:"default"`
		} `yaml:"inputs"`
	}
	require.NoError(t, yaml.Unmarshal(data, &full))
	for name, in := range full.Inputs {
		assert.NotEmpty(t, in.Description, name)
	}
	assert.Equal(t, DefaultPolicyPath, full.Inputs["policy"].Default)
	assert.Equal(t, DefaultAudience, full.Inputs["audience"].Default)
	assert.Equal(t, CommandMint, full.Inputs["command"].Default)
}

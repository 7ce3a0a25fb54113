package github

import (
	"fmt"
	"strings"
)

// BeyondRepositories reports a token GitHub minted on more repositories
// than asked: every repository of the installation, or one not among
// asked (names, without the owner). "" when it covers no more.
func (t *InstallationToken) BeyondRepositories(asked []string) string {
	if t.RepositorySelection != "" && t.RepositorySelection != "selected" {
		return fmt.Sprintf("GitHub granted repository selection %q instead of the %d repositories asked for", t.RepositorySelection, len(asked))
	}
	names := make(map[string]bool, len(asked))
	for _, r := range asked {
		names[strings.ToLower(r)] = true
	}
	for _, r := range t.Repositories {
		if !names[strings.ToLower(r.Name)] {
			return fmt.Sprintf("GitHub granted repository %s, which was not asked for", r.FullName)
		}
	}
	return ""
}

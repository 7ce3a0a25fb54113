package policy

import (
	"slices"
	"sort"
)

// Permissions returns every GitHub App permission with the levels GitHub
// accepts for it, generated from the app-permissions schema of
// @octokit/openapi (see PermissionsSource). The result is a fresh copy.
func Permissions() map[string][]string {
	out := make(map[string][]string, len(permissionLevels))
	for k, v := range permissionLevels {
		out[k] = slices.Clone(v)
	}
	return out
}

// PermissionNames returns the permission names, sorted.
func PermissionNames() []string {
	names := make([]string, 0, len(permissionLevels))
	for k := range permissionLevels {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// ValidLevel reports whether GitHub accepts level for permission name.
func ValidLevel(name, level string) bool {
	return slices.Contains(permissionLevels[name], level)
}

var levelRank = map[string]int{"read": 1, "write": 2, "admin": 3}

// LevelAtMost reports whether have is no more than limit in the order
// read < write < admin. An unknown level is never within a limit.
func LevelAtMost(have, limit string) bool {
	h, l := levelRank[have], levelRank[limit]
	return h > 0 && l > 0 && h <= l
}

package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// UnmarshalJSON reads claims as GitHub's OIDC token carries them:
// ref_protected is the string "true" or "false" there, a boolean in
// jitkey's own files; both are accepted.
func (c *Claims) UnmarshalJSON(data []byte) error {
	type plain Claims
	var aux struct {
		*plain
		RefProtected json.RawMessage `json:"ref_protected"`
	}
	aux.plain = (*plain)(c)
	if err := json.Unmarshal(data, &aux); err != nil {
		return fmt.Errorf("parse claims: %w", err)
	}
	if len(aux.RefProtected) == 0 || string(aux.RefProtected) == "null" {
		return nil
	}
	var b bool
	if err := json.Unmarshal(aux.RefProtected, &b); err == nil {
		c.RefProtected = b
		return nil
	}
	var s string
	if err := json.Unmarshal(aux.RefProtected, &s); err != nil {
		return fmt.Errorf("parse claims: ref_protected is %s; want true or false", aux.RefProtected)
	}
	b, err := strconv.ParseBool(s)
	if err != nil || (s != "true" && s != "false") {
		return fmt.Errorf("parse claims: ref_protected is %q; want \"true\" or \"false\"", s)
	}
	c.RefProtected = b
	return nil
}

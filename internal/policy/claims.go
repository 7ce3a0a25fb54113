package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// PropertyPrefix starts the claim of a repository custom property:
// repo_property_NAME carries the value of property NAME.
const PropertyPrefix = "repo_property_"

// claimNames are the claims a rule's match may name, besides
// repo_property_NAME.
var claimNames = []string{
	"repository", "repository_id", "repository_owner", "repository_owner_id", "repository_visibility",
	"workflow_ref", "job_workflow_ref", "job_workflow_sha", "ref", "ref_type", "ref_protected",
	"environment", "event_name", "actor", "runner_environment", "enterprise", "enterprise_id", "sub",
}

// ClaimNames returns the claims a rule may match on, besides the custom
// properties (repo_property_NAME).
func ClaimNames() []string { return slices.Clone(claimNames) }

// IDClaims maps a name claim to the immutable ID claim a policy should
// prefer: a name can be renamed or, once freed, taken by someone else; an
// ID is never reused.
var IDClaims = map[string]string{
	"repository":       "repository_id",
	"repository_owner": "repository_owner_id",
	"enterprise":       "enterprise_id",
}

// AlwaysCarried lists the claims every GitHub Actions OIDC token carries,
// whatever the job (environment, enterprise and custom properties only
// when they apply).
var AlwaysCarried = []string{
	"sub", "repository", "repository_id", "repository_owner", "repository_owner_id", "repository_visibility",
	"workflow_ref", "job_workflow_ref", "job_workflow_sha", "ref", "ref_type", "ref_protected",
	"event_name", "actor", "runner_environment",
}

// UnmarshalJSON reads claims as GitHub's OIDC token carries them:
// ref_protected is the string "true" or "false" there, a boolean in
// jitkey's own files; both are accepted. IDs are strings in GitHub's
// tokens; numbers are accepted. Claims repo_property_NAME fill Properties.
func (c *Claims) UnmarshalJSON(data []byte) error {
	type plain Claims
	var aux struct {
		*plain
		RefProtected      json.RawMessage `json:"ref_protected"`
		RepositoryID      json.RawMessage `json:"repository_id"`
		RepositoryOwnerID json.RawMessage `json:"repository_owner_id"`
		EnterpriseID      json.RawMessage `json:"enterprise_id"`
	}
	aux.plain = (*plain)(c)
	if err := json.Unmarshal(data, &aux); err != nil {
		return fmt.Errorf("parse claims: %w", err)
	}
	for _, id := range []struct {
		name string
		raw  json.RawMessage
		dst  *string
	}{{"repository_id", aux.RepositoryID, &c.RepositoryID}, {"repository_owner_id", aux.RepositoryOwnerID, &c.RepositoryOwnerID},
		{"enterprise_id", aux.EnterpriseID, &c.EnterpriseID}} {
		s, err := idString(id.raw)
		if err != nil {
			return fmt.Errorf("parse claims: %s: %w", id.name, err)
		}
		*id.dst = s
	}
	if err := c.properties(data); err != nil {
		return err
	}
	return c.refProtected(aux.RefProtected)
}

func (c *Claims) refProtected(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		c.RefProtected = b
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("parse claims: ref_protected is %s; want true or false", raw)
	}
	if s != "true" && s != "false" {
		return fmt.Errorf("parse claims: ref_protected is %q; want \"true\" or \"false\"", s)
	}
	c.RefProtected = s == "true"
	return nil
}

// properties reads the repo_property_NAME claims: a string, a number or a
// boolean as written, a list of strings (a multi-select property) joined
// with commas.
func (c *Claims) properties(data []byte) error {
	if !bytes.Contains(data, []byte(PropertyPrefix)) {
		return nil
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return fmt.Errorf("parse claims: %w", err)
	}
	for key, raw := range all {
		name, ok := strings.CutPrefix(key, PropertyPrefix)
		if !ok || name == "" || string(raw) == "null" {
			continue
		}
		v, err := propertyValue(raw)
		if err != nil {
			return fmt.Errorf("parse claims: %s: %w", key, err)
		}
		if c.Properties == nil {
			c.Properties = map[string]string{}
		}
		c.Properties[name] = v
	}
	return nil
}

func propertyValue(raw json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return strings.Join(list, ","), nil
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), nil
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return strconv.FormatBool(b), nil
	}
	return "", fmt.Errorf("want a string, a number, a boolean or a list of strings")
}

// MarshalJSON writes the claims as a token's payload would carry them,
// custom properties as repo_property_NAME.
func (c Claims) MarshalJSON() ([]byte, error) {
	type plain Claims
	base, err := json.Marshal(plain(c))
	if err != nil || len(c.Properties) == 0 {
		return base, err
	}
	var m map[string]any
	if err := json.Unmarshal(base, &m); err != nil {
		return nil, err
	}
	for name, v := range c.Properties {
		m[PropertyPrefix+name] = v
	}
	return json.Marshal(m)
}

// idString accepts a numeric ID as GitHub sends it (a string of digits) or
// as a JSON number.
func idString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", fmt.Errorf("not a string or a number")
	}
	return n.String(), nil
}

// claim returns the value of the named claim, and false for a name jitkey
// does not know. A custom property the job's repository lacks is "".
func claim(c *Claims, name string) (string, bool) {
	switch name {
	case "repository":
		return c.Repository, true
	case "repository_owner":
		return c.RepositoryOwner, true
	case "workflow_ref":
		return c.WorkflowRef, true
	case "job_workflow_ref":
		return c.JobWorkflowRef, true
	case "ref":
		return c.Ref, true
	case "ref_type":
		return c.RefType, true
	case "ref_protected":
		return strconv.FormatBool(c.RefProtected), true
	case "environment":
		return c.Environment, true
	case "event_name":
		return c.EventName, true
	case "actor":
		return c.Actor, true
	case "runner_environment":
		return c.RunnerEnvironment, true
	case "sub":
		return c.Subject, true
	case "repository_id":
		return c.RepositoryID, true
	case "repository_owner_id":
		return c.RepositoryOwnerID, true
	case "repository_visibility":
		return c.RepositoryVisibility, true
	case "job_workflow_sha":
		return c.JobWorkflowSHA, true
	case "enterprise":
		return c.Enterprise, true
	case "enterprise_id":
		return c.EnterpriseID, true
	}
	if prop, ok := strings.CutPrefix(name, PropertyPrefix); ok && prop != "" {
		return c.Properties[prop], true
	}
	return "", false
}

// ClaimValue returns the value of the named claim (a custom property as
// repo_property_NAME), and false for a name jitkey does not know.
func (c *Claims) ClaimValue(name string) (string, bool) { return claim(c, name) }

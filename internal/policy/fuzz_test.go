package policy_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
)

func TestClaimsUnmarshal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		json    string
		want    policy.Claims
		wantErr string
	}{
		{name: "OIDC string", json: `{"repository":"acme/api","ref_protected":"true","ref":"refs/heads/main"}`,
			want: policy.Claims{Repository: "acme/api", RefProtected: true, Ref: "refs/heads/main"}},
		{name: "OIDC false", json: `{"ref_protected":"false"}`, want: policy.Claims{}},
		{name: "bool", json: `{"ref_protected":true,"verified":true}`, want: policy.Claims{RefProtected: true, Verified: true}},
		{name: "null", json: `{"ref_protected":null}`, want: policy.Claims{}},
		{name: "absent", json: `{"actor":"bob","sub":"repo:acme/api:ref:refs/heads/main"}`, want: policy.Claims{Actor: "bob", Subject: "repo:acme/api:ref:refs/heads/main"}},
		{name: "every claim", json: `{"repository":"a/b","repository_owner":"a","workflow_ref":"w","job_workflow_ref":"j","ref":"r","ref_type":"tag","environment":"e","event_name":"push","actor":"x","runner_environment":"self-hosted"}`,
			want: policy.Claims{Repository: "a/b", RepositoryOwner: "a", WorkflowRef: "w", JobWorkflowRef: "j", Ref: "r", RefType: "tag", Environment: "e", EventName: "push", Actor: "x", RunnerEnvironment: "self-hosted"}},
		{name: "bad string", json: `{"ref_protected":"yes"}`, wantErr: `ref_protected is "yes"`},
		{name: "TRUE is not GitHub's spelling", json: `{"ref_protected":"TRUE"}`, wantErr: `ref_protected is "TRUE"`},
		{name: "number", json: `{"ref_protected":1}`, wantErr: "ref_protected is 1"},
		{name: "wrong type elsewhere", json: `{"repository":5}`, wantErr: "parse claims"},
		{name: "not JSON", json: `{`, wantErr: "unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c policy.Claims
			err := json.Unmarshal([]byte(tt.json), &c)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, c)
		})
	}
}

// FuzzLoadBytes: any input gives a Set or positioned Errors, never a panic.
func FuzzLoadBytes(f *testing.F) {
	f.Add("p.cue", []byte(decidePolicy))
	f.Add("p_test.cue", []byte("apiVersion: \"jitkey.dev/v1\"\ntests: [{name: \"t\", claims: {}, expect: allow: false}]\n"))
	f.Add("p.cue", []byte(head+rule("a", `ref: {pattern: "(["}`, okGrant)+"}]\n"))
	f.Add("p.cue", []byte("apiVersion: \"jitkey.dev/v1\"\nreview: kinds: deploy_key: dormant_days: 0\n"))
	f.Add("p.cue", []byte("\xff\xfe"))
	f.Add("p.cue", []byte("a: b: c: [1, 2, {d: _|_}]"))
	f.Add("p.cue", []byte("import \"strings\"\napiVersion: strings.ToLower(\"JITKEY.DEV/V1\")\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		if name == "" {
			name = "p.cue"
		}
		s, err := policy.LoadBytes(name, data)
		if err != nil {
			var errs policy.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("not an Errors value: %v", err)
			}
			for _, d := range errs {
				if d.File != name || d.Line < 1 || d.Col < 1 || d.Message == "" {
					t.Fatalf("unpositioned diagnostic: %+v", d)
				}
			}
			return
		}
		for _, r := range s.Rules {
			for _, c := range r.Match {
				for _, p := range c.Patterns {
					if _, err := policy.LoadBytes("x.cue", []byte(head+rule("x", `ref: {pattern: `+jsonString(p)+`}`, okGrant)+"}]\n")); err != nil {
						t.Fatalf("a loaded pattern does not load again: %v", err)
					}
				}
			}
			policy.Decide(s, policy.Claims{}, policy.Request{})
		}
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// FuzzDecide parses untrusted claims and requests as JSON and decides:
// never a panic, a denial always has a reason, an allowance stays within
// the rule's grant.
func FuzzDecide(f *testing.F) {
	s := mustLoad(f, "decide.cue", decidePolicy)
	f.Add([]byte(`{"repository":"acme/api","ref":"refs/heads/main","environment":"production","workflow_ref":"acme/api/.github/workflows/deploy.yml@x","verified":true,"ref_protected":"true"}`), []byte(`{}`))
	f.Add([]byte(`{"repository_owner":"acme","ref_type":"tag","ref_protected":true,"event_name":"push","actor":"bob","repository":"acme/x"}`), []byte(`{"permissions":{"contents":"write"},"repositories":["x"]}`))
	f.Add([]byte(`{"repository_owner":"acme","event_name":"schedule"}`), []byte(`{"repositories":["a/b","c"],"permissions":{"issues":"read","nope":"x"}}`))
	f.Fuzz(func(t *testing.T, claimsJSON, requestJSON []byte) {
		var c policy.Claims
		var r policy.Request
		if json.Unmarshal(claimsJSON, &c) != nil || json.Unmarshal(requestJSON, &r) != nil {
			return
		}
		d := policy.Decide(s, c, r)
		if d.Reason == "" {
			t.Fatal("a decision without a reason")
		}
		if !d.Allowed {
			if len(d.Permissions) > 0 || len(d.Repositories) > 0 || d.AllRepositories {
				t.Fatalf("a denial carries a scope: %+v", d)
			}
			return
		}
		var rule *policy.Rule
		for i := range s.Rules {
			if s.Rules[i].Name == d.Rule {
				rule = &s.Rules[i]
			}
		}
		if rule == nil {
			t.Fatalf("allowed by unknown rule %q", d.Rule)
		}
		if ok, failed := rule.Matches(c); !ok {
			t.Fatalf("allowed by a rule that does not match: %v", failed)
		}
		for k, v := range d.Permissions {
			if !policy.LevelAtMost(v, rule.Grant.Permissions[k]) {
				t.Fatalf("%s: %s beyond the grant", k, v)
			}
		}
		for _, repo := range d.Repositories {
			if rule.Grant.AllRepositories {
				continue
			}
			ok := strings.EqualFold(repo, c.Repository) && rule.Grant.Caller
			for _, g := range rule.Grant.Repositories {
				ok = ok || strings.EqualFold(g, repo)
			}
			if !ok {
				t.Fatalf("repository %s beyond the grant", repo)
			}
		}
	})
}

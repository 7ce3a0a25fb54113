package report_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sample() *report.Report {
	return &report.Report{
		Command: "validate",
		Files:   []string{"policies/deploy.cue", "policies/docs.cue"},
		Diagnostics: []policy.Diagnostic{
			{File: "policies/deploy.cue", Line: 12, Col: 3, EndLine: 12, EndCol: 20, Severity: "error", Code: "write-on-pull-request", Rule: "preview",
				Message: "rule \"preview\" grants write on contents to pull_request jobs, 100% unreviewed: fix it,\nnow"},
			{File: "policies/deploy.cue", Line: 30, Col: 5, Severity: "warning", Code: "shadowed-rule", Rule: "late",
				Message: "rule \"late\" never decides | <b>shadowed</b>"},
			{File: "policies/docs,v2:x.cue", Line: 0, Col: 0, Severity: "notice", Message: "unpositioned"},
		},
		Rules: []report.Rule{{ID: "write-on-pull-request", Description: "write granted to pull request jobs", Severity: "error"}},
		Base:  "origin/main",
		Grants: []report.Grant{{Rule: "deploy-production", Pos: policy.Pos{File: "policies/deploy.cue", Line: 4, Col: 2},
			Sentence: "this change lets workflow acme/api/.github/workflows/deploy.yml on ref refs/heads/main write deployments of acme/api"}},
		Rows: []report.Row{
			{Rule: "deploy-production", Pos: policy.Pos{File: "policies/deploy.cue", Line: 9, Col: 1}, Status: "changed",
				Before: report.Side{Match: "ref: refs/heads/main; verified only", Repositories: "caller", Permissions: "deployments: write"},
				After:  report.Side{Match: "ref: refs/heads/main or refs/heads/hotfix; verified only", Repositories: "caller", Permissions: "deployments: write"}},
			{Rule: "docs|<b>", Pos: policy.Pos{File: "policies/docs.cue", Line: 3, Col: 2}, Status: "added",
				After: report.Side{Match: "repository: acme/docs", Repositories: "caller", Permissions: "contents: read"}},
			{Rule: "old", Pos: policy.Pos{File: "policies/docs.cue", Line: 20, Col: 1}, Status: "removed",
				Before: report.Side{Match: "any job", Repositories: "acme/x", Permissions: "issues: read"}},
		},
		Moves: []report.Move{{From: "old", To: "docs|<b>", Pos: policy.Pos{File: "policies/docs.cue", Line: 20, Col: 1},
			Sentence: "jobs that rule \"old\" decided in the base now go to rule \"docs|<b>\" (\"old\" was removed); rule \"docs|<b>\" grants no more than \"old\" did"},
			{From: "old", Pos: policy.Pos{File: "policies/docs.cue", Line: 20, Col: 1}, Sentence: "some jobs rule \"old\" decided in the base may now be denied"}},
		Tests: &report.Tests{Passed: 9, Failed: 1, Rules: 4, Uncovered: []string{"late"}, Coverage: 75, MinCoverage: 80,
			Conditions: 8, ConditionsCovered: 5, ConditionCoverage: 62.5, PerRule: []string{`rule "late": 0 of 3 conditions covered; no test fails without ref, environment, event_name`},
			Cases: []report.Case{{Name: "main deploys", File: "policies/deploy_test.cue", Line: 3},
				{Name: "pr <denied> & \x01", File: "policies/deploy_test.cue", Line: 9, Failure: "expected deny, got allow\nsecond line"}}},
	}
}

func TestGolden(t *testing.T) {
	t.Parallel()
	for _, format := range append(report.Formats(), "summary") {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if format == "summary" {
				require.NoError(t, report.Summary(&buf, sample()))
			} else {
				out, err := report.New(format)
				require.NoError(t, err)
				require.NoError(t, out.Output(&buf, sample()))
			}
			golden(t, filepath.Join("testdata", format+".golden"), buf.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create the golden file")
	assert.Equal(t, string(want), string(got))
}

func TestUnknownFormat(t *testing.T) {
	t.Parallel()
	_, err := report.New("xml")
	require.ErrorContains(t, err, `unknown format "xml"; use one of text, github, json, sarif, junit`)
}

// TestGitHubAnnotations checks the properties GitHub needs: one command per
// line, always a line property, escaped messages and properties.
func TestGitHubAnnotations(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.NoError(t, report.GitHub{}.Output(&buf, sample()))
	cmd := regexp.MustCompile(`^::(error|warning|notice) file=([^,:]*),line=(\d+),col=(\d+),endLine=(\d+),endColumn=(\d+),title=([^,:]*)::(.*)$`)
	n := 0
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if !strings.HasPrefix(l, "::") {
			continue
		}
		n++
		m := cmd.FindStringSubmatch(l)
		require.NotNil(t, m, l)
		assert.NotEqual(t, "0", m[3], "line must be at least 1: %s", l)
	}
	assert.Equal(t, 6, n)
	assert.Contains(t, buf.String(), "file=policies/docs%2Cv2%3Ax.cue,line=1,col=1")
	assert.Contains(t, buf.String(), "100%25 unreviewed: fix it,%0Anow")
}

func TestSARIFShape(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.NoError(t, report.SARIF{Version: "1.2.3"}.Output(&buf, sample()))
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Version string `json:"version"`
					Rules   []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Locations []struct {
					PhysicalLocation struct {
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &log))
	assert.Equal(t, "2.1.0", log.Version)
	require.Len(t, log.Runs, 1)
	run := log.Runs[0]
	assert.Equal(t, "1.2.3", run.Tool.Driver.Version)
	require.Len(t, run.Results, 4)
	for _, res := range run.Results {
		assert.Equal(t, res.RuleID, run.Tool.Driver.Rules[res.RuleIndex].ID)
		require.Len(t, res.Locations, 1)
		assert.GreaterOrEqual(t, res.Locations[0].PhysicalLocation.Region.StartLine, 1)
	}
}

func TestEmptyReport(t *testing.T) {
	t.Parallel()
	for _, format := range report.Formats() {
		out, err := report.New(format)
		require.NoError(t, err)
		var buf bytes.Buffer
		require.NoError(t, out.Output(&buf, &report.Report{Command: "validate", Files: []string{"a.cue"}}))
		assert.Contains(t, buf.String(), map[string]string{
			"text": "jitkey validate: 0 errors, 0 warnings, 0 notices in 1 file\n", "github": "0 errors",
			"json": `"diagnostics": []`, "sarif": `"results": []`,
		}[format])
	}
}

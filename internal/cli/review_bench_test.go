package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/issue"
)

// BenchmarkReview2000Repos reviews a simulated organisation of 2,000
// repositories (each with 2 deploy keys, 3 secrets, 1 environment with 1
// secret, 1 webhook; plus org secrets, hooks, PATs, SSO and Apps) with 20 ms
// of latency on every request, running the real jitkey binary (the test
// binary under the name jitkey) so its peak RSS is its own.
//
// Run 1 starts from no issues and opens the first 20 (the default cap).
// Then the issues of the remaining findings are seeded exactly as jitkey
// renders them (the state after enough capped runs), and run 2, unchanged,
// must make zero write calls besides its own token's mint and revoke.
//
//	go test ./internal/cli -run '^$' -bench Review2000 -benchtime 1x
func BenchmarkReview2000Repos(b *testing.B) {
	if testing.Short() {
		b.Skip("a 2,000-repository review takes about a minute")
	}
	sim := ghsim.New(ghsim.Options{Prefix: "/api/v3", Latency: 20 * time.Millisecond, RateLimit: 1_000_000})
	_, err := sim.Start()
	require.NoError(b, err)
	b.Cleanup(func() { sim.Close() })
	require.NoError(b, sim.Apply(ghsim.Generate(ghsim.GenSpec{Org: "acme", Repos: 2000})))
	sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: ".github"}) // where organisation-level findings go
	app := sim.AddApp(ghsim.AppSpec{Slug: "jitkey-review"})
	sim.Install(app.ID, "acme", ghsim.InstallSpec{Permissions: ghsim.ReviewPermissions})

	dir := b.TempDir()
	exe, err := os.Executable()
	require.NoError(b, err)
	bin := filepath.Join(dir, "jitkey")
	require.NoError(b, os.Symlink(exe, bin))
	run := func(name string) (reviewOutput, time.Duration, int64, map[string]int, int) {
		sim.ResetCalls()
		cmd := exec.Command(bin, "review", "--org", "acme", "--format", "json")
		cmd.Env = append(os.Environ(), "JITKEY_APP_ID="+strconv.FormatInt(app.ID, 10), "JITKEY_APP_PRIVATE_KEY="+string(app.PrivateKeyPEM),
			"GITHUB_API_URL="+sim.URL(), "GITHUB_STEP_SUMMARY=")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start)
		var o reviewOutput
		require.NoError(b, json.Unmarshal(out.Bytes(), &o), "%s: %v: %s", name, err, errb.String())
		if err != nil {
			gaps := o.Inventory.Gaps()
			b.Fatalf("%s: %v: %d gaps (first: %+v); issues %+v", name, err, len(gaps), gaps[:min(3, len(gaps))], failed(o.Issues))
		}
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
		c := sim.Calls()
		writes := sim.WriteCalls() - c["POST /app/installations/{installation_id}/access_tokens"] - c["DELETE /installation/token"]
		return o, wall, rss, c, writes
	}

	for i := 0; i < b.N; i++ {
		o1, wall1, rss1, calls1, writes1 := run("first run")
		scanned := 0
		for _, r := range o1.Inventory.Repos {
			if r.Skipped == "" {
				scanned++
			}
		}
		orgCalls := 0
		for route, n := range calls1 {
			if len(route) > 10 && route[:10] == "GET /orgs/" && route != "GET /orgs/{org}/repos" && route != "GET /orgs/{org}/installation" {
				orgCalls += n
			}
		}
		// The minimum for the kinds read: per repository one page each of keys,
		// Actions, Dependabot and Codespaces secrets, environments, each
		// environment's secrets (1 here) and hooks; plus the repository pages.
		minimum := 7*scanned + (len(o1.Inventory.Repos)+99)/100 + orgCalls
		b.Logf("run 1: %d repos (%d scanned), %d credentials, %d findings; wall %s, peak RSS %d MiB; %d inventory calls (minimum %d, %.2f per repo), %d issue calls; created %d, deferred %d, writes %d",
			len(o1.Inventory.Repos), scanned, len(o1.Inventory.Credentials), len(o1.Findings), wall1.Round(time.Millisecond), rss1/1024,
			o1.Inventory.Calls, minimum, float64(o1.Inventory.Calls-orgCalls)/float64(scanned), issueCalls(calls1), o1.Issues.Created, o1.Issues.Deferred, writes1)

		// Seed the issues the capped runs would have opened by now.
		have := map[string]bool{}
		for _, a := range o1.Issues.Actions {
			if a.Op == issue.OpCreate {
				have[a.Fingerprint] = true
			}
		}
		for _, f := range o1.Findings {
			if !have[f.Fingerprint] {
				owner, name, _ := cutRepo(f.IssueRepo)
				sim.AddIssue(owner, name, ghsim.IssueSpec{Title: f.Title, Body: issue.Body(f, nil, 0), Labels: []string{issue.Label}})
			}
		}
		o2, wall2, rss2, calls2, writes2 := run("unchanged re-run")
		b.Logf("run 2 (unchanged, every finding has its issue): wall %s, peak RSS %d MiB, %d inventory calls, %d issue calls, %d write calls, issue actions %d",
			wall2.Round(time.Millisecond), rss2/1024, o2.Inventory.Calls, issueCalls(calls2), writes2, len(o2.Issues.Actions))
		require.Zero(b, writes2, "an unchanged re-run writes nothing")
		require.Less(b, wall1, 60*time.Second)
		require.Less(b, wall2, 60*time.Second)
		require.Less(b, max(rss1, rss2), int64(200*1024))
		b.ReportMetric(wall1.Seconds(), "s/run1")
		b.ReportMetric(wall2.Seconds(), "s/run2")
		b.ReportMetric(float64(max(rss1, rss2))/1024, "MiB-peak-rss")
		b.ReportMetric(float64(o1.Inventory.Calls-orgCalls)/float64(scanned), "inventory-calls/repo")
		b.ReportMetric(float64(writes2), "writes/rerun")
	}
}

func failed(r *issue.Result) []issue.Action {
	var out []issue.Action
	if r != nil {
		for _, a := range r.Actions {
			if a.Op == issue.OpFailed || a.Op == issue.OpSkipped {
				out = append(out, a)
			}
		}
	}
	return out[:min(3, len(out))]
}

func issueCalls(calls map[string]int) int {
	n := 0
	for route, c := range calls {
		if bytes.Contains([]byte(route), []byte("/issues")) || bytes.Contains([]byte(route), []byte("/labels")) {
			n += c
		}
	}
	return n
}

func cutRepo(full string) (string, string, bool) {
	for i := 0; i < len(full); i++ {
		if full[i] == '/' {
			return full[:i], full[i+1:], true
		}
	}
	return full, "", false
}

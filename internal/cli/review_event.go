package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/issue"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/review"
)

// reviewCommentEvent is the part of an issue_comment event payload a review
// triggered by a comment reads.
type reviewCommentEvent struct {
	Action string `json:"action"`
	Issue  struct {
		Number int    `json:"number"`
		State  string `json:"state"`
		Body   string `json:"body"`
		Labels []struct {
			Name string `json:"name"`
		} `json:"labels"`
		PullRequest json.RawMessage `json:"pull_request"`
	} `json:"issue"`
	Comment struct {
		Body string `json:"body"`
	} `json:"comment"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
}

func (ev *reviewCommentEvent) labelled(name string) bool {
	for _, l := range ev.Issue.Labels {
		if l.Name == name {
			return true
		}
	}
	return false
}

// reviewNarrowToComment handles a review run triggered by an issue_comment
// event (GITHUB_EVENT_NAME): instead of the whole scope of the flags, it
// reviews only the target and kind of the commented review issue, so that a
// `/jitkey revoke` is carried out (or refused) within a minute rather than at
// the next scheduled review. The issue machinery is the scheduled one: the
// commenter's permission is checked, the credential removed, the issue closed
// with a record; and since only that (target, kind) is read in full, no other
// issue can be closed by the narrowed run.
//
// It returns a reason when there is nothing to do (any comment but the
// command on an open review issue), decided from the payload alone, without
// an API call. An error is a setup problem (the payload cannot be read).
func reviewNarrowToComment(env Env, o *reviewOptions, rv policy.Review) (nothing string, err error) {
	path := env.Getenv("GITHUB_EVENT_PATH")
	if path == "" {
		return "", fmt.Errorf("GITHUB_EVENT_NAME is issue_comment but GITHUB_EVENT_PATH is not set; run from an issue_comment workflow, or unset GITHUB_EVENT_NAME to review the whole scope")
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(env.Dir, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the issue_comment event: %w", err)
	}
	var ev reviewCommentEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return "", fmt.Errorf("read the issue_comment event %s: not an event payload: %w", path, err)
	}
	ref := fmt.Sprintf("%s#%d", ev.Repository.FullName, ev.Issue.Number)
	m, isReview := issue.ParseMarker(ev.Issue.Body)
	switch {
	case ev.Action == "deleted":
		return "the comment on " + ref + " was deleted", nil
	case len(ev.Issue.PullRequest) > 0 && string(ev.Issue.PullRequest) != "null":
		return ref + " is a pull request", nil
	case !issue.IsCommand(ev.Comment.Body):
		return "the comment on " + ref + " is not the reviewer command (" + issue.Command + " alone on its first line)", nil
	case !isReview || !ev.labelled(issue.Label):
		return ref + " is not a jitkey review issue (no " + issue.Label + " label and marker)", nil
	case ev.Issue.State != "open":
		return ref + " is closed", nil
	}
	kind := policy.CredentialKind(m.Kind)
	if !slices.Contains(review.EnabledKinds(rv), kind) {
		return fmt.Sprintf("%s is about %s, which the review policy does not review", ref, m.Kind), nil
	}
	if !reviewCovers(o.scan, m.Target) {
		return fmt.Sprintf("%s is about %s, outside this review's --org and --repo", ref, m.Target), nil
	}
	// Only the issue's target and kind; no shard (the target is named) and
	// no checkpoint (a narrowed scan must not replace the scheduled one's).
	scan := inventory.Options{Kinds: []policy.CredentialKind{kind}, Concurrency: o.scan.Concurrency}
	if org, ok := strings.CutPrefix(m.Target, "org:"); ok {
		scan.Org, scan.OrgOnly = org, true
	} else {
		scan.Repos = []string{m.Target}
	}
	o.scan, o.checkpoint = scan, ""
	fmt.Fprintf(env.Stderr, "review: %s on %s: reviewing %s of %s only\n", issue.Command, ref, m.Kind, m.Target)
	return "", nil
}

// reviewCovers reports whether target (a marker's "owner/name" or
// "org:NAME") is within the scope of the flags, so that a marker written by
// hand cannot point the review outside it.
func reviewCovers(scan inventory.Options, target string) bool {
	if org, ok := strings.CutPrefix(target, "org:"); ok {
		return scan.Org != "" && strings.EqualFold(org, scan.Org)
	}
	owner, name, ok := strings.Cut(target, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return false
	}
	if scan.Org != "" && len(scan.Repos) == 0 && strings.EqualFold(owner, scan.Org) {
		return true
	}
	return slices.ContainsFunc(scan.Repos, func(r string) bool { return strings.EqualFold(r, target) })
}

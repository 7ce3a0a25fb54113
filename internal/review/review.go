// Package review turns an inventory of credentials and the review part of a
// policy into findings: dormant, stale, over-scoped and insecure credentials,
// each with a stable fingerprint, its evidence, why it matters and how to fix
// or exempt it. It is pure: no I/O, the time is an argument.
package review

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/policy"
)

// Type is the kind of problem a finding reports.
type Type string

// The finding types. They are also the values of Exemption.Finding.
const (
	Dormant    Type = "dormant"
	Stale      Type = "stale"
	OverScoped Type = "over_scoped"
	Insecure   Type = "insecure"
)

// Fact is one piece of evidence, printed as "Name: Value".
type Fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Finding is one problem with one credential.
type Finding struct {
	Fingerprint  string                `json:"fingerprint"`
	Type         Type                  `json:"type"`
	Kind         policy.CredentialKind `json:"kind"`
	Credential   inventory.Credential  `json:"credential"`
	Severity     string                `json:"severity"` // "error" or "warning"
	Title        string                `json:"title"`
	Summary      string                `json:"summary"`  // one sentence: what is wrong
	Evidence     []Fact                `json:"evidence"` // absolute facts only, so it changes only when reality does
	EvidenceHash string                `json:"evidence_hash"`
	Policy       string                `json:"policy"` // the review rule that applied, as CUE
	// IssueRepo is where the review issue lives ("owner/name").
	IssueRepo string `json:"issue_repo"`
	// Remediation says what `/jitkey revoke` does, "" when the API cannot remove it.
	Remediation string `json:"remediation,omitempty"`
	// ExpiredExemption is set when an exemption for this finding has expired.
	ExpiredExemption *policy.Exemption `json:"expired_exemption,omitempty"`
}

// Advice is the text of a finding's issue that does not change with the
// evidence: why it matters, the exact steps to fix it, and the CUE exemption
// to add instead. It is computed when an issue is written rather than kept
// for every finding: an organisation may have thousands.
type Advice struct {
	Why       string   `json:"why"`
	Fix       []string `json:"fix"`
	Exemption string   `json:"exemption_cue"`
}

// AdviceFor returns the advice for f.
func AdviceFor(f Finding) Advice {
	why, fix := advice(f.Credential, f.Type, f.Remediation)
	return Advice{Why: why, Fix: fix, Exemption: exemptionCUE(f.Credential, f.Type)}
}

// Suppressed is a finding an active exemption hides.
type Suppressed struct {
	Fingerprint string           `json:"fingerprint"`
	Type        Type             `json:"type"`
	Credential  string           `json:"credential"`
	Exemption   policy.Exemption `json:"exemption"`
}

// Report is the outcome of Evaluate.
type Report struct {
	Findings   []Finding    `json:"findings"`
	Suppressed []Suppressed `json:"suppressed,omitempty"`
}

// Fingerprint identifies one finding on one credential across runs.
func Fingerprint(credentialID string, t Type) string {
	sum := sha256.Sum256([]byte("jitkey/v1\x00" + credentialID + "\x00" + string(t)))
	return hex.EncodeToString(sum[:8])
}

// textVersion is part of every evidence hash: bump it when the issue text
// changes so that open issues are rewritten once.
const textVersion = "1"

func evidenceHash(f *Finding) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00", textVersion, f.Title, f.Summary, f.Policy, f.IssueRepo)
	for _, e := range f.Evidence {
		fmt.Fprintf(h, "%s=%s\x00", e.Name, e.Value)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// Evaluate applies the review rules to every credential of inv. Rules come
// from rv.Kinds, falling back to DefaultRules for kinds it does not mention;
// a kind whose rule is not Enabled is not reviewed.
func Evaluate(inv *inventory.Inventory, rv policy.Review, now time.Time) Report {
	rules := Rules(rv)
	var rep Report
	for _, c := range inv.Credentials {
		rule, ok := rules[c.Kind]
		if !ok || !rule.Enabled {
			continue
		}
		for _, f := range check(c, rule, now) {
			f.Kind = c.Kind
			f.Credential = c
			f.Fingerprint = Fingerprint(c.ID, f.Type)
			f.IssueRepo = issueRepo(c, rv)
			f.Policy = policyText(c.Kind, rule)
			f.Remediation = remediation(c)
			if ex, active := exemption(rv.Exemptions, c, f.Type, now); ex != nil {
				if active {
					rep.Suppressed = append(rep.Suppressed, Suppressed{Fingerprint: f.Fingerprint, Type: f.Type, Credential: c.ID, Exemption: *ex})
					continue
				}
				f.ExpiredExemption = ex
				f.Title = "[jitkey] exemption expired: " + strings.TrimPrefix(f.Title, "[jitkey] ")
				f.Evidence = append(f.Evidence, Fact{"Exemption expired", fmt.Sprintf("%s (approved by %s: %s)", day(ex.Expires), ex.Approver, ex.Reason)})
			}
			f.EvidenceHash = evidenceHash(&f)
			rep.Findings = append(rep.Findings, f)
		}
	}
	SortFindings(rep.Findings)
	return rep
}

// SortFindings orders findings by credential, then type.
func SortFindings(fs []Finding) {
	sort.Slice(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Credential.ID != b.Credential.ID {
			return a.Credential.ID < b.Credential.ID
		}
		return a.Type < b.Type
	})
}

// exemption finds the exemption for (c, t): active is false when it expired.
func exemption(exs []policy.Exemption, c inventory.Credential, t Type, now time.Time) (*policy.Exemption, bool) {
	var expired *policy.Exemption
	for i := range exs {
		e := exs[i]
		if e.Kind != c.Kind || e.Credential != c.ID || (e.Finding != string(t) && e.Finding != "*") {
			continue
		}
		if e.Expires.IsZero() || now.Before(e.Expires) {
			return &exs[i], true
		}
		if expired == nil || e.Expires.After(expired.Expires) {
			expired = &exs[i]
		}
	}
	return expired, false
}

func issueRepo(c inventory.Credential, rv policy.Review) string {
	if rv.CentralRepository != "" {
		return rv.CentralRepository
	}
	if c.Repo != "" {
		return c.Repo
	}
	return c.Org + "/.github"
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func daysBetween(a, b time.Time) int { return int(b.Sub(a).Hours() / 24) }

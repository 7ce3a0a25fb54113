package mint

import (
	"fmt"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/policy"
)

// DeniedError is a policy denial; Decision carries the reason, the
// repository that refused and the near misses; Policies the policies read.
type DeniedError struct {
	Decision policy.Decision
	Policies []PolicyRead
}

func (e *DeniedError) Error() string {
	return "denied by policy: " + lowerFirst(e.Decision.Reason)
}

// Explain renders the decision's reason and near misses for humans.
func Explain(d policy.Decision) string {
	var b strings.Builder
	b.WriteString(d.Reason)
	b.WriteString("\n")
	for _, nm := range d.NearMisses {
		fmt.Fprintf(&b, "  rule %q did not match:\n", nm.Rule)
		for _, f := range nm.Failed {
			fmt.Fprintf(&b, "    - %s\n", f)
		}
	}
	return b.String()
}

// PolicyReadError is a policy file that could not be read through the API.
type PolicyReadError struct {
	Path, Ref string
	Err       error
}

func (e *PolicyReadError) Error() string {
	return fmt.Sprintf("read the policy %s: %v", e.Path, e.Err)
}
func (e *PolicyReadError) Unwrap() error { return e.Err }

// PolicyInvalidError is a policy file that does not validate.
type PolicyInvalidError struct {
	Path, Ref string
	Err       error // policy.Errors when the file is invalid
}

func (e *PolicyInvalidError) Error() string {
	at := e.Ref
	if at == "" {
		at = "the default branch"
	}
	return fmt.Sprintf("the policy %s at %s is invalid; fix it there (run 'jitkey validate'):\n%v", e.Path, at, e.Err)
}
func (e *PolicyInvalidError) Unwrap() error { return e.Err }

// LostTokenError is a mint whose answer was lost after GitHub may have acted:
// a token may exist that jitkey never saw. If the part of the answer that
// arrived held it, Recovered is true and it was revoked (RevokeErr says if not).
type LostTokenError struct {
	InstallationID int64
	ExpiresBy      time.Time
	Recovered      bool
	SHA256         string
	RevokeErr      error
	Err            error
}

func (e *LostTokenError) Error() string {
	switch {
	case e.Recovered && e.RevokeErr == nil:
		return fmt.Sprintf("mint on installation %d failed: the answer broke off; the token it held (sha256 %s) was revoked; retry the job: %v",
			e.InstallationID, ShortSHA(e.SHA256), e.Err)
	case e.Recovered:
		return fmt.Sprintf("mint on installation %d failed: the answer broke off and the token it held (sha256 %s) could not be revoked (%v); it expires by %s: %v",
			e.InstallationID, ShortSHA(e.SHA256), e.RevokeErr, e.ExpiresBy.UTC().Format(time.RFC3339), e.Err)
	default:
		return fmt.Sprintf("mint on installation %d failed without a readable answer; GitHub may have minted a token jitkey never saw, which expires by %s at the latest; retry the job: %v",
			e.InstallationID, e.ExpiresBy.UTC().Format(time.RFC3339), e.Err)
	}
}
func (e *LostTokenError) Unwrap() error { return e.Err }

// ScopeMismatchError is a token GitHub minted wider than asked, or on
// another owner's repositories (Class github.ClassOwnerMismatch); it was
// revoked.
type ScopeMismatchError struct {
	Class     github.Class
	Detail    string
	SHA256    string
	ExpiresAt time.Time
	RevokeErr error
}

func (e *ScopeMismatchError) Error() string {
	if e.RevokeErr != nil {
		return fmt.Sprintf("refusing the token (sha256 %s): %s; revoking it failed (%v), it expires at %s", ShortSHA(e.SHA256), e.Detail, e.RevokeErr, e.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("refusing the token (sha256 %s): %s; it was revoked", ShortSHA(e.SHA256), e.Detail)
}

// Unwrap makes the class visible to github.ClassOf.
func (e *ScopeMismatchError) Unwrap() error {
	if e.Class == "" {
		return nil
	}
	return &github.Error{Class: e.Class, Message: e.Detail, Fix: github.FixFor(e.Class)}
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

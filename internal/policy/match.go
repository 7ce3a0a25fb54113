package policy

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Matches reports whether every condition of r holds for c; failed
// explains each condition that does not, e.g.
// `ref: "refs/heads/dev" does not match "refs/heads/main"`.
func (r Rule) Matches(c Claims) (ok bool, failed []string) {
	if r.RequireVerified && !c.Verified {
		failed = append(failed, "requireVerified: the claims were not verified through OIDC")
	}
	for i := range r.Match {
		if cond := &r.Match[i]; !cond.holds(&c) {
			failed = append(failed, cond.explain(&c))
		}
	}
	return len(failed) == 0, failed
}

// matches is the fast path of Decide: exact values first, patterns last,
// stopping at the first condition that fails.
func (r *Rule) matches(c *Claims) bool {
	if r.RequireVerified && !c.Verified {
		return false
	}
	for i := range r.Match {
		if len(r.Match[i].Patterns) == 0 && !r.Match[i].holds(c) {
			return false
		}
	}
	for i := range r.Match {
		if len(r.Match[i].Patterns) > 0 && !r.Match[i].holds(c) {
			return false
		}
	}
	return true
}

// failures counts the failed conditions, giving up once the count reaches
// limit (a rule that fails as often as the worst kept near miss loses to
// it, being later): exact values first, patterns last.
func (r *Rule) failures(c *Claims, limit int) int {
	n := 0
	if r.RequireVerified && !c.Verified {
		n++
	}
	for _, patterns := range [2]bool{false, true} {
		for i := range r.Match {
			if (len(r.Match[i].Patterns) > 0) == patterns && !r.Match[i].holds(c) {
				if n++; n >= limit {
					return n
				}
			}
		}
	}
	return n
}

func (cond *Condition) holds(c *Claims) bool {
	if cond.Claim == "sub" {
		return c.subjectHolds(cond)
	}
	v, known := claim(c, cond.Claim)
	return known && cond.Admits(v)
}

// Admits reports whether the condition accepts value for its claim: one of
// Values, or a match of one of Patterns (a pattern that does not compile
// matches nothing). Patterns are compiled once per process.
func (cond *Condition) Admits(value string) bool {
	for _, want := range cond.Values {
		if value == want {
			return true
		}
	}
	for i := range cond.Patterns {
		if re := cond.pattern(i); re != nil && re.MatchString(value) {
			return true
		}
	}
	return false
}

// pattern returns Patterns[i] compiled, nil when it does not compile.
func (cond *Condition) pattern(i int) *regexp.Regexp {
	if i < len(cond.compiled) && cond.compiled[i] != nil && cond.compiled[i].String() == cond.Patterns[i] {
		return cond.compiled[i]
	}
	re, err := compiled(cond.Patterns[i])
	if err != nil {
		return nil
	}
	return re
}

func (cond *Condition) explain(c *Claims) string {
	v, known := claim(c, cond.Claim)
	if !known {
		return fmt.Sprintf("%s: jitkey knows no such claim", cond.Claim)
	}
	got := strconv.Quote(v)
	if v == "" {
		got = "the job has no " + cond.Claim + " claim, which"
	}
	var wants []string
	for _, w := range cond.Values {
		wants = append(wants, strconv.Quote(w))
	}
	for _, p := range cond.Patterns {
		wants = append(wants, "pattern "+strconv.Quote(p))
	}
	switch {
	case len(wants) == 1 && len(cond.Patterns) == 0:
		return fmt.Sprintf("%s: %s does not equal %s", cond.Claim, got, wants[0])
	case len(wants) == 1:
		return fmt.Sprintf("%s: %s does not match %s", cond.Claim, got, wants[0])
	}
	return fmt.Sprintf("%s: %s is not one of %s", cond.Claim, got, strings.Join(wants, ", "))
}

// nearMisses returns the rules closest to matching, fewest failed
// conditions first, then in rule order.
func nearMisses(rules []Rule, c Claims) []NearMiss {
	type scored struct{ i, n int }
	best := make([]scored, 0, MaxNearMisses+1)
	limit := int(^uint(0) >> 1)
	for i := range rules {
		n := rules[i].failures(&c, limit)
		if len(best) == MaxNearMisses && n >= best[len(best)-1].n {
			continue
		}
		at := sort.Search(len(best), func(j int) bool { return best[j].n > n })
		best = append(best, scored{})
		copy(best[at+1:], best[at:])
		best[at] = scored{i, n}
		if len(best) > MaxNearMisses {
			best = best[:MaxNearMisses]
		}
		if len(best) == MaxNearMisses {
			limit = best[len(best)-1].n
		}
	}
	out := make([]NearMiss, 0, len(best))
	for _, s := range best {
		_, failed := rules[s.i].Matches(c)
		out = append(out, NearMiss{Rule: rules[s.i].Name, Failed: failed})
	}
	return out
}

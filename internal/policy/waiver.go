package policy

import (
	"time"

	"cuelang.org/go/cue"
)

// Waiver lowers one lint finding of one rule, reported as waived, until
// it expires. Like a review exemption it carries a reason and an
// approver; unlike a finding's own severity it is written in the policy,
// so the pull request that adds it is where it is reviewed.
type Waiver struct {
	Code     string    `json:"code"` // the finding's code, e.g. "write-on-pull-request"
	Rule     string    `json:"rule"`
	Reason   string    `json:"reason"`
	Approver string    `json:"approver"`
	Expires  time.Time `json:"expires"` // the waiver ends as this day starts (UTC)
	Pos      Pos       `json:"pos"`
}

func (d *decoder) waivers(v cue.Value, at vpath) []Waiver {
	var out []Waiver
	d.each(v, at, func(_ int, e cue.Value, p vpath) {
		w := Waiver{
			Code:     d.strField(e, p, "code", ""),
			Rule:     d.strField(e, p, "rule", ""),
			Reason:   d.strField(e, p, "reason", ""),
			Approver: d.strField(e, p, "approver", ""),
			Pos:      d.pos(p),
		}
		expires, err := time.Parse(time.DateOnly, d.strField(e, p, "expires", ""))
		if err != nil {
			d.fail(p.field("expires"), "date (YYYY-MM-DD)", err)
		}
		w.Expires = expires
		out = append(out, w)
	})
	return out
}

package inventory

import (
	"fmt"

	"github.com/google/go-github/v62/github"
)

// MaxPages caps the pages read of one listing: 1,000 pages of 100 items.
// GitHub's own listings end well before (an organisation's repositories,
// a repository's review issues); a listing that does not is not trusted.
const MaxPages = 1000

// PageError is a listing whose rel="next" links went wrong: back to a page
// already read (a loop), or on past MaxPages. What was read is incomplete,
// so the listing counts as not read in full.
type PageError struct {
	Pages int // pages read
	Next  int // the page the link pointed to
	Loop  bool
}

func (e *PageError) Error() string {
	if e.Loop {
		return fmt.Sprintf("pagination loops: after %d pages, GitHub's rel=\"next\" link points back to page %d, already read; "+
			"the listing is incomplete and is not trusted (a proxy or the API returned a broken link header; retry later)", e.Pages, e.Next)
	}
	return fmt.Sprintf("pagination stopped at the cap of %d pages: the rel=\"next\" links go on (to page %d); "+
		"the listing is incomplete and is not trusted", MaxPages, e.Next)
}

// Pager follows the rel="next" links of one listing, refusing a page it has
// already read and more than MaxPages pages. The zero value is ready: it
// starts at page 1.
type Pager struct {
	seen  map[int]bool
	pages int
}

// Next records that the page answered with resp was read and returns the
// page to read next, 0 when the listing is complete, or a *PageError.
func (p *Pager) Next(read int, resp *github.Response) (int, error) {
	if p.seen == nil {
		p.seen = map[int]bool{}
	}
	p.seen[max(read, 1)] = true
	p.pages++
	if resp == nil || resp.NextPage == 0 {
		return 0, nil
	}
	next := resp.NextPage
	if p.seen[next] {
		return 0, &PageError{Pages: p.pages, Next: next, Loop: true}
	}
	if p.pages >= MaxPages {
		return 0, &PageError{Pages: p.pages, Next: next}
	}
	return next, nil
}

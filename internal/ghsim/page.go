package ghsim

import (
	"net/url"
	"strconv"
	"strings"
)

// page reads per_page (default 30, at most 100) and page (from 1), sets GitHub's
// link header for n items and returns the slice bounds of the requested page.
func (c *call) page(n int) (lo, hi int) {
	q := c.r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per <= 0 {
		per = 30
	}
	per = min(per, 100)
	pg, err := strconv.Atoi(q.Get("page"))
	if err != nil || pg <= 0 {
		pg = 1
	}
	last := max((n+per-1)/per, 1)
	var links []string
	link := func(p int, rel string) {
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(per))
		u := url.URL{Scheme: "http", Host: c.r.Host, Path: c.r.URL.Path, RawQuery: q.Encode()}
		links = append(links, "<"+u.String()+`>; rel="`+rel+`"`)
	}
	if pg > 1 {
		link(pg-1, "prev")
	}
	if pg < last {
		link(pg+1, "next")
		link(last, "last")
	}
	if pg > 1 {
		link(1, "first")
	}
	if len(links) > 0 {
		c.header.Set("Link", strings.Join(links, ", "))
	}
	lo = min((pg-1)*per, n)
	hi = min(lo+per, n)
	return lo, hi
}

// pageOf returns the requested page of items.
func pageOf[T any](c *call, items []T) []T {
	lo, hi := c.page(len(items))
	out := items[lo:hi]
	if out == nil {
		out = []T{}
	}
	return out
}

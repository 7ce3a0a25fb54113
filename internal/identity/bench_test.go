package identity

import (
	"context"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// BenchmarkVerify is one job token verified, keys cached: the broker's
// share of identity in each exchange.
//
//	go test -run '^$' -bench Verify -benchmem ./internal/identity
func BenchmarkVerify(b *testing.B) {
	is := newIssuer(b)
	a, _ := testKeys()
	v := is.verifier(b, t0.Add(30*time.Second))
	raw := sign(b, a, jose.RS256, "a", jobClaims(is.url()))
	ctx := context.Background()
	if _, err := v.Verify(ctx, raw, "jitkey"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, raw, "jitkey"); err != nil {
			b.Fatal(err)
		}
	}
}

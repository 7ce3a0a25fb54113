package ledger_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jitkey/jitkey/internal/ledger"
)

// BenchmarkExchange is the ledger's share of one broker exchange: the OIDC
// token's jti recorded once with the intent (one transaction), the mint (sealed token), from
// parallel goroutines as concurrent requests would. PostgreSQL runs with
// its default durability, SQLite as the broker opens it (WAL,
// synchronous=NORMAL).
//
//	go test -run '^$' -bench Exchange ./internal/ledger
func BenchmarkExchange(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			dsn := be.fresh(b)
			if be.name == "postgres" {
				dsn = pgDurable.Database(b) // fsync and synchronous commits on, as operators run it
			}
			l, err := ledger.Open(context.Background(), ledger.Config{Driver: be.driver(), DSN: dsn, Keys: testKey})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			var n atomic.Int64
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(8) // 16 goroutines on 2 cores: the broker benchmark's 16 jobs
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					x := ledger.OIDCToken{Issuer: "https://token.actions.githubusercontent.com", JTI: "jti-" + strconv.FormatInt(i, 10), Expires: t0.Add(5 * time.Minute)}
					id, ok, err := l.ExchangeIntent(ctx, x, intent("acme/api", i, 1, i))
					if err != nil || !ok {
						b.Fatal(ok, err)
					}
					if err := l.RecordMint(ctx, id, ledger.Mint{Token: newToken(), MintedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "exchanges/s")
		})
	}
}

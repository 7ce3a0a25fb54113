package contract_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/policy"
)

// TestInventoryRequestsHonourContract runs jitkey's own credential scan
// against the simulator behind the contract middleware: every request jitkey
// makes (paths, query parameters such as PAT filters, bodies) must be one
// GitHub describes, and every answer it reads must match the description.
func TestInventoryRequestsHonourContract(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"", "/api/v3"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, prefix)
			inv, err := inventory.Scan(e.ctx, inventory.NewClient(e.full), inventory.Options{
				Org: "acme", Concurrency: 4, Now: e.sim.Now,
				Sleep: func(_ context.Context, _ time.Duration) error { return nil },
			})
			require.NoError(t, err)
			kinds := map[policy.CredentialKind]int{}
			for _, c := range inv.Credentials {
				kinds[c.Kind]++
			}
			assert.NotEmpty(t, inv.Credentials)
			assert.Len(t, kinds, 8, "every kind found: %v; gaps: %v", kinds, inv.Gaps())
			assert.NotEmpty(t, e.v.Exchanges(), "the scan went through the middleware")
			t.Logf("%d credentials of %d kinds in %d exchanges; gaps: %v", len(inv.Credentials), len(kinds), len(e.v.Exchanges()), inv.Gaps())
		})
	}
}

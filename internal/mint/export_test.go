package mint

import "context"

// RecoverLost drives the lost-answer recovery directly.
func RecoverLost(ctx context.Context, m *Minter, installationID int64, err error) error {
	return m.lost(ctx, &Grant{InstallationID: installationID}, err)
}

package oauthlink

import "context"

// RevokeRetired is revokeRetired, for the external tests.
func RevokeRetired(c *Connector, ctx context.Context, owner string) error {
	return c.e.revokeRetired(ctx, owner)
}

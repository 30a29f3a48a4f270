package fleet

import (
	"context"
	"fmt"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/internal/lifecycle"
)

// EventRevoked is the event MarkRevoked emits through Hooks.OnEvent.
const EventRevoked oauthlink.EventKind = lifecycle.KindRevoked

// MarkRevoked records that the merchant revoked the app's consent at the
// provider for c's connection of owner, as the provider's deauthorization webhook reports it (the qonto
// package's WebhookHandler calls it; wire any other provider's webhook to
// it). Under the connection lock it marks the connection
// store.StatusRevoked and drops its tokens, extra fields and retired grants,
// with compare-and-swap (re-reading on a conflict), drops the cached token,
// and emits EventRevoked through Hooks.OnEvent. It sends nothing to the provider: the grant is
// already gone there.
//
// Afterwards Connection and Client fail with an error wrapping
// ErrDisconnected, and RequireConnection treats the owner as not connected
// (reason "disconnected"); other instances of the app stop using their
// cached token within Config.Tokens.CacheTTL, or at the provider's first
// 401, whichever comes first. The record is kept until the owner connects
// again, which replaces it, or Disconnect deletes it. Calling MarkRevoked
// again, or for an owner without a connection, returns nil. Errors:
// ErrStore, ErrInvalidOwner, or ctx's error (wrapped in ErrStore when the
// store gave up on it).
func MarkRevoked(ctx context.Context, c *oauthlink.Connector, owner string) error {
	eng, ok := lifecycle.Of(c)
	if !ok {
		return fmt.Errorf("%w: fleet.MarkRevoked needs a Connector made by oauthlink.New", oauthlink.ErrConfig)
	}
	return eng.MarkRevoked(ctx, owner)
}

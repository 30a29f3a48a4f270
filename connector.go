package oauthlink

import (
	"context"
	"net/http"
)

// The Connector's programmatic API: each method checks its input and hands
// the work to the engine, where the lifecycle rules live.

// Connection returns the owner's connection with an access token that is not
// about to expire, refreshing it first when needed. Refreshes are
// coordinated so that one refresh token is sent to the provider once,
// however many requests and instances ask at the same moment:
//
//   - inside the process, concurrent callers share one refresh per
//     connection (singleflight, forced or not) and all use its result;
//   - across processes, the store's store.Locker (when it has one) admits one
//     holder at a time, with a lease the holder renews while it works (see
//     Config.Tokens.LockTTL); the holder re-reads the connection after taking the
//     lock and before every retry, and a token a peer already refreshed is
//     used without calling the provider;
//   - the new tokens are written with compare-and-swap under a context the
//     caller cannot cancel, retried while the lease holds, so a rotated
//     refresh token is never lost to a client that hung up or to a store
//     that blinked;
//   - invalid_grant re-reads the store and uses a newer token when a peer
//     rotated; otherwise the connection is marked store.StatusReauthRequired
//     (never deleted) and ErrReauthRequired is returned.
//
// A connection without a known expiry (Connection.Expiry zero) is never
// due: it is used until the provider's API rejects it. The caller's ctx
// bounds how long the caller waits; the refresh itself runs detached from
// the caller's cancellation. Errors: store.ErrNotFound, ErrReauthRequired,
// ErrDisconnected, ErrStore (the store failed, or the outcome of a refresh
// could not be saved: no token is handed out then; encrypted.ErrDecrypt too
// when a stored token cannot be decrypted), ErrRefresh (the provider did not
// refresh; with its *ProviderError when it answered), ErrInvalidOwner, or
// ctx's error.
func (c *Connector) Connection(ctx context.Context, owner string) (*Connection, error) {
	return c.e.fresh(ctx, owner)
}

// ForceRefresh refreshes the owner's token now, whether or not it is due (after
// the app learned it was revoked, or to pick up new scopes), with the same
// coordination as Connection: concurrent calls share one refresh, and when the
// stored connection changed since ForceRefresh read it (a peer refreshed), that
// newer connection is returned without calling the provider. A connection
// without a refresh token cannot be refreshed: ForceRefresh returns an
// error wrapping ErrRefresh that says so, and changes nothing. Errors: those
// of Connection.
func (c *Connector) ForceRefresh(ctx context.Context, owner string) (*Connection, error) {
	return c.e.forceRefresh(ctx, owner)
}

// Disconnect ends the owner's connection (RFC 7009): it first marks the
// connection store.StatusDisconnected, so a refresh racing it cannot bring it back
// (its compare-and-swap fails and its new grant is revoked), then revokes at
// the provider (Mollie: DELETE, 204; RFC 7009 POST, 200) the connection's
// grant and every grant it still had to retire (Connection.Retired: grants
// replaced by a reconnect whose revocation was not confirmed), retrying 429,
// 5xx and network failures with backoff, and only when the provider
// confirmed all of them deletes the record.
//
// When a revocation keeps failing, the record stays in store.StatusDisconnected
// (visible through List), without the retired grants that were confirmed,
// and the error is returned; calling Disconnect again retries. Disconnecting
// an owner with no connection returns nil. Errors: ErrRevoke (with the
// provider's *ProviderError when it answered), ErrStore, ErrInvalidOwner, or
// ctx's error (wrapped in ErrStore when the store gave up on it).
func (c *Connector) Disconnect(ctx context.Context, owner string) error {
	return c.e.disconnect(ctx, owner)
}

// MarkRevoked records that the merchant revoked the app's consent at the
// provider, as the provider's deauthorization webhook reports it (the qonto
// package's WebhookHandler calls it; wire any other provider's webhook to
// it). Under the connection lock it marks the connection
// store.StatusRevoked and drops its tokens, extra fields and retired grants,
// with compare-and-swap (re-reading on a conflict), drops the cached token,
// and emits EventRevoked. It sends nothing to the provider: the grant is
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
func (c *Connector) MarkRevoked(ctx context.Context, owner string) error {
	return c.e.markRevoked(ctx, owner)
}

// HandleError reports err the way the Connector's own handlers do: it logs
// it (without secrets), emits EventFlowFailed and calls Hooks.OnError.
// Handlers built on Begin (the mollie package's client links) use it, so
// every failure takes one path to the one error page.
func (c *Connector) HandleError(w http.ResponseWriter, r *http.Request, err error) { c.fail(w, r, err) }

package oauthlink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oauthlink/oauthlink/internal/lifecycle"
	"github.com/oauthlink/oauthlink/store"
)

// errRevoked is what a revoked connection (store.StatusRevoked) answers:
// ErrDisconnected, so the middleware, Client and the apps' checks treat the
// owner as not connected, with a message that tells why.
var errRevoked = fmt.Errorf("%w: consent revoked at the provider", ErrDisconnected)

// markRevokedAttempts bounds the compare-and-swap retries of markRevoked
// when writers keep racing it (the lease already keeps peers of this
// library out when the store has store.Locker).
const markRevokedAttempts = 8

// markRevoked is fleet.MarkRevoked: under the connection lock it
// marks the owner's connection store.StatusRevoked and drops its tokens,
// its extra fields and its retired grants (the provider ended the consent,
// so there is nothing left to use or to revoke), with compare-and-swap,
// re-reading on a conflict. It calls no provider. A missing connection,
// one already revoked, or one match (when not nil) refuses as read under
// the lock, is left alone and (false, nil) returned.
func (e *engine) markRevoked(ctx context.Context, owner string, match func(*store.Connection) bool) (bool, error) {
	if err := checkOwner(owner); err != nil {
		return false, err
	}
	ctx = e.opStart(ctx)
	lk, err := e.lockConn(ctx, owner)
	if err != nil {
		return false, err
	}
	defer lk.release()
	e.forget(owner)
	key := connKey(e.provider.Name, owner)
	for range markRevokedAttempts {
		var conn *Connection
		conn, err = e.store.Load(ctx, e.provider.Name, owner)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, storeErr(err)
		}
		if conn.Status == store.StatusRevoked || (match != nil && !match(conn)) {
			return false, nil
		}
		revokedRecord(conn)
		err = e.store.Save(ctx, conn)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrVersionConflict) {
			return false, fmt.Errorf("%w: marking the connection revoked: %w", ErrStore, err)
		}
	}
	if err != nil {
		return false, fmt.Errorf("%w: marking the connection revoked: %w", ErrStore, err)
	}
	// A rotated pair this process still holds unsaved belongs to the
	// revoked grant: it must never be saved over the revoked record.
	if !e.pending.empty() {
		e.pending.put(key, nil)
	}
	e.forget(owner)
	e.log.Info("oauthlink: consent revoked at the provider", "provider", e.provider.Name, "owner", owner)
	e.emit(ctx, Event{Kind: EventKind(lifecycle.KindRevoked), Provider: e.provider.Name, Owner: owner})
	return true, nil
}

// revokedRecord turns conn into the record of a revoked consent: the
// status, and no token, extra field, expiry or retired grant. The owner,
// account id, scopes and redirect URI stay, so the app can tell who must
// reconnect to which account.
func revokedRecord(conn *Connection) {
	conn.Status = store.StatusRevoked
	conn.AccessToken, conn.RefreshToken, conn.Extra = "", "", ""
	conn.Expiry = time.Time{}
	conn.Retired = nil
}

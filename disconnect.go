package oauthlink

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// Disconnect ends the owner's connection (RFC 7009): it first marks the
// connection StatusDisconnected, so a refresh racing it cannot bring it back
// (its compare-and-swap fails and its new grant is revoked), then revokes
// the refresh token at the provider (Mollie: DELETE, 204; RFC 7009 POST,
// 200), retrying 429, 5xx and network failures with backoff, and only then
// deletes the record.
//
// When revocation keeps failing, the record stays in StatusDisconnected
// (visible through List) and the error is returned; calling Disconnect
// again retries. Disconnecting an owner with no connection returns nil.
func (c *Connector) Disconnect(ctx context.Context, owner string) error {
	if err := checkOwner(owner); err != nil {
		return err
	}
	c.forget(owner)
	conn, err := c.markDisconnected(ctx, owner)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	// The tokens are ours to retire now; finish even if the user leaves.
	ctx = context.WithoutCancel(ctx)
	if err := c.revokeWithRetry(ctx, conn); err != nil {
		c.log.Error("oauthlink: revocation failed; connection kept as disconnected for a retry", "provider", c.provider.Name, "owner", owner, "error", err)
		c.emit(ctx, Event{Kind: EventRevokeFailed, Provider: c.provider.Name, Owner: owner, Err: err})
		return fmt.Errorf("oauthlink: revoking at %s: %w", c.provider.Name, err)
	}
	if err := c.deleteRevoked(ctx, conn); err != nil {
		return err
	}
	c.forget(owner)
	c.log.Info("oauthlink: disconnected", "provider", c.provider.Name, "owner", owner)
	c.emit(ctx, Event{Kind: EventDisconnected, Provider: c.provider.Name, Owner: owner})
	return nil
}

// deleteRevoked deletes the record it marked, only if it is still that
// record: a reconnect that committed while the revocation ran keeps its new
// connection. The connection lock (Locker) makes the re-read and the delete
// one step; where the store has VersionDeleter the delete is conditional
// too, which also covers a store without Locker and a lock that expired.
// The re-read stays because it also checks the status: versions restart
// after a delete, so a connection deleted and created again meanwhile can
// be back at the marked version.
func (c *Connector) deleteRevoked(ctx context.Context, marked *Connection) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ExchangeTimeout*3)
	defer cancel()
	lk, err := c.lockConn(ctx, marked.Owner)
	if err != nil {
		return err
	}
	defer lk.release()
	cur, err := c.store.Load(ctx, c.provider.Name, marked.Owner)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	if cur.Status != StatusDisconnected || cur.Version != marked.Version {
		return nil // replaced by a new connection meanwhile
	}
	if vd, ok := capability[VersionDeleter](c.store); ok {
		err = vd.DeleteVersion(ctx, c.provider.Name, marked.Owner, marked.Version)
	} else {
		err = c.store.Delete(ctx, c.provider.Name, marked.Owner)
	}
	if errors.Is(err, ErrVersionConflict) {
		return nil // replaced between the re-read and the delete
	}
	if err != nil {
		return fmt.Errorf("%w: deleting revoked connection: %w", ErrStore, err)
	}
	return nil
}

// markDisconnected sets StatusDisconnected with compare-and-swap, re-reading
// on conflicts (a refresh may be writing at the same moment).
func (c *Connector) markDisconnected(ctx context.Context, owner string) (*Connection, error) {
	var err error
	for range 8 {
		var conn *Connection
		conn, err = c.store.Load(ctx, c.provider.Name, owner)
		if err != nil {
			return nil, err
		}
		if conn.Status == StatusDisconnected {
			return conn, nil
		}
		conn.Status = StatusDisconnected
		if err = c.store.Save(ctx, conn); err == nil {
			return conn, nil
		}
		if !errors.Is(err, ErrVersionConflict) {
			return nil, err
		}
	}
	return nil, err
}

func (c *Connector) revokeWithRetry(ctx context.Context, conn *Connection) error {
	kind, value := "refresh_token", conn.RefreshToken.Reveal()
	if value == "" {
		kind, value = "access_token", conn.AccessToken.Reveal()
	}
	var err error
	for attempt := 0; attempt < c.cfg.RefreshAttempts; attempt++ {
		if err = c.revoke(ctx, value, kind); err == nil {
			return nil
		}
		var te *TokenError
		var wait time.Duration
		if errors.As(err, &te) {
			if te.Code == "invalid_token" || te.Code == "invalid_grant" {
				return nil // already dead at the provider: the goal is met
			}
			if !te.Temporary() {
				return err
			}
			wait = te.RetryAfter
		}
		if attempt+1 == c.cfg.RefreshAttempts {
			break
		}
		backoff := min(c.cfg.RetryBase<<attempt, c.cfg.RetryMax)
		backoff = backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		if werr := sleepCtx(ctx, min(max(wait, backoff), c.cfg.RetryMax)); werr != nil {
			return errors.Join(err, werr)
		}
	}
	return err
}

// DisconnectHandler returns a handler for POST requests that disconnects
// the current owner, then answers 303 See Other to the return-to parameter
// (default "/"). Mount it behind the app's CSRF protection (for instance
// net/http's CrossOriginProtection). Failures go to Config.OnError.
func (c *Connector) DisconnectHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodPost {
			w.Header()["Allow"] = hdrPostAllowed
			c.cfg.OnError(w, r, fmt.Errorf("%w: disconnect needs POST", ErrBadRequest))
			return
		}
		owner, err := c.owner(r)
		if err == nil {
			err = c.Disconnect(r.Context(), owner)
		}
		if err != nil {
			c.cfg.OnError(w, r, err)
			return
		}
		returnTo := r.FormValue(c.cfg.ReturnToParam)
		if !ValidReturnTo(returnTo) {
			returnTo = "/"
		}
		w.Header().Set("Location", returnTo)
		w.WriteHeader(http.StatusSeeOther)
	})
}

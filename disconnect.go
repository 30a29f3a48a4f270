package oauthlink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/oauthlink/oauthlink/store"
)

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
// provider's *TokenError when it answered), ErrStore, ErrInvalidOwner, or
// ctx's error (wrapped in ErrStore when the store gave up on it).
func (c *Connector) Disconnect(ctx context.Context, owner string) error {
	if err := checkOwner(owner); err != nil {
		return err
	}
	c.forget(owner)
	conn, err := c.markDisconnected(ctx, owner)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	// The tokens are ours to retire now; finish even if the user leaves.
	ctx = context.WithoutCancel(ctx)
	key := connKey(c.provider.Name, owner)
	ps := c.pending.get(key)
	done, err := c.revokeAll(ctx, disconnecting(conn, ps))
	if err != nil {
		if _, derr := c.dropRetired(ctx, owner, done); derr != nil {
			c.log.Warn("oauthlink: recording confirmed revocations failed", "provider", c.provider.Name, "owner", owner, "error", derr)
		}
		c.log.Error("oauthlink: revocation failed; connection kept as disconnected for a retry", "provider", c.provider.Name, "owner", owner, "error", err)
		c.emit(ctx, Event{Kind: EventRevokeFailed, Provider: c.provider.Name, Owner: owner, Err: err})
		return fmt.Errorf("%w at %s: %w", ErrRevoke, c.provider.Name, err)
	}
	if ps != nil && c.pending.get(key) == ps {
		c.pending.put(key, nil) // revoked with the grant
	}
	if err := c.deleteRevoked(ctx, conn, done); err != nil {
		return err
	}
	c.forget(owner)
	c.log.Info("oauthlink: disconnected", "provider", c.provider.Name, "owner", owner)
	c.emit(ctx, Event{Kind: EventDisconnected, Provider: c.provider.Name, Owner: owner})
	return nil
}

// disconnecting lists what Disconnect revokes: the connection's grant,
// the rotated pair of that grant this process holds unsaved (ps), and
// the grants the connection still had to retire.
func disconnecting(conn *Connection, ps *pendingSave) []store.RetiredToken {
	toks := make([]store.RetiredToken, 0, 2+len(conn.Retired))
	if rt := grantToken(conn); rt.Token != "" {
		toks = append(toks, rt)
	}
	if ps != nil && ps.conn != nil {
		if rt := grantToken(ps.conn); rt.Token != "" {
			toks = append(toks, rt)
		}
	}
	return append(toks, conn.Retired...)
}

// deleteRevoked deletes the record it marked, only if it is still that
// record with nothing left to revoke: a reconnect that committed while the
// revocation ran keeps its new connection. The connection lock (store.Locker)
// makes the re-read and the delete one step; where the store has
// store.VersionDeleter the delete is conditional on the version just re-read,
// which also covers a store without store.Locker and a lock that expired. The
// re-read compares the grant, not the version: versions restart after a
// delete, so a connection deleted and created again meanwhile can be back
// at the marked version, but not with the marked grant.
func (c *Connector) deleteRevoked(ctx context.Context, marked *Connection, done map[Secret]bool) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ExchangeTimeout*3)
	defer cancel()
	lk, err := c.lockConn(ctx, marked.Owner)
	if err != nil {
		return err
	}
	defer lk.release()
	cur, err := c.store.Load(ctx, c.provider.Name, marked.Owner)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	if cur.Status != store.StatusDisconnected || grantToken(cur).Token != grantToken(marked).Token {
		return nil // replaced by a new connection meanwhile
	}
	for _, rt := range cur.Retired {
		if !done[rt.Token] {
			return fmt.Errorf("%w at %s: the connection lists a grant that was not revoked yet; call Disconnect again", ErrRevoke, c.provider.Name)
		}
	}
	if vd, ok := capability[store.VersionDeleter](c.store); ok {
		err = vd.DeleteVersion(ctx, c.provider.Name, marked.Owner, cur.Version)
	} else {
		err = c.store.Delete(ctx, c.provider.Name, marked.Owner)
	}
	if errors.Is(err, store.ErrVersionConflict) {
		return nil // replaced between the re-read and the delete
	}
	if err != nil {
		return fmt.Errorf("%w: deleting revoked connection: %w", ErrStore, err)
	}
	return nil
}

// markDisconnected sets store.StatusDisconnected with compare-and-swap, re-reading
// on conflicts (a refresh may be writing at the same moment).
func (c *Connector) markDisconnected(ctx context.Context, owner string) (*Connection, error) {
	var err error
	for range 8 {
		var conn *Connection
		conn, err = c.store.Load(ctx, c.provider.Name, owner)
		if err != nil {
			return nil, err
		}
		if conn.Status == store.StatusDisconnected {
			return conn, nil
		}
		conn.Status = store.StatusDisconnected
		if err = c.store.Save(ctx, conn); err == nil {
			return conn, nil
		}
		if !errors.Is(err, store.ErrVersionConflict) {
			return nil, err
		}
	}
	return nil, err
}

// DisconnectOptions configure DisconnectHandlerWith.
type DisconnectOptions struct {
	// CrossOrigin refuses disconnect requests that another site made the
	// browser send (a form on that site posting here with the user's
	// cookies): such a request answers 403 through Config.OnError with an
	// error wrapping ErrCrossOrigin, and disconnects nothing. Default
	// http.NewCrossOriginProtection(), which trusts Sec-Fetch-Site and
	// else compares Origin with the Host the server sees, and lets through
	// requests with neither header (not sent by a browser). Behind a proxy
	// that rewrites Host, pass one with the public origin added through
	// AddTrustedOrigin.
	CrossOrigin *http.CrossOriginProtection
	// SkipCrossOriginCheck turns the check off, for an app whose own CSRF
	// protection already covers the route (CSRF tokens checked by a
	// middleware in front of it, or the same CrossOriginProtection
	// wrapping the whole mux). Default false.
	SkipCrossOriginCheck bool
}

// maxDisconnectForm caps the disconnect form, as the start handler caps
// its own: the only field read is the return-to parameter.
const maxDisconnectForm = 64 << 10

// DisconnectHandler returns DisconnectHandlerWith(DisconnectOptions{}):
// cross-site requests are refused. Failures go to Config.OnError:
// ErrBadRequest (not POST, an oversized form), ErrCrossOrigin, ErrNoOwner,
// ErrInvalidOwner, and those of Disconnect.
func (c *Connector) DisconnectHandler() http.Handler {
	return c.DisconnectHandlerWith(DisconnectOptions{})
}

// DisconnectHandlerWith returns a handler for POST requests that
// disconnects the current owner (see Disconnect), then answers 303 See
// Other to the return-to parameter (Config.ReturnToParam; "/" when it is
// missing or not a relative path). In this order, and before anything is
// revoked, it refuses:
//
//  1. a method other than POST (400, with Allow: POST);
//  2. a request from another site (ErrCrossOrigin, 403), unless
//     opts.SkipCrossOriginCheck: a disconnect revokes the owner's grant,
//     so a cross-site form must not be able to trigger one;
//  3. a form over 64 KiB, urlencoded or multipart (ErrBadRequest, 400):
//     nothing beyond the cap is read, and nothing is written to disk;
//  4. a request without an owner (ErrNoOwner, 401).
//
// Failures go to Config.OnError.
func (c *Connector) DisconnectHandlerWith(opts DisconnectOptions) http.Handler {
	var cop *http.CrossOriginProtection // nil: no check
	if !opts.SkipCrossOriginCheck {
		cop = cmp.Or(opts.CrossOrigin, http.NewCrossOriginProtection())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Cache-Control"] = hdrNoStore
		returnTo, err := c.disconnectRequest(w, r, cop)
		if err == nil {
			var owner string
			if owner, err = c.owner(r); err == nil {
				err = c.Disconnect(r.Context(), owner)
			}
		}
		if err != nil {
			c.cfg.OnError(w, r, err)
			return
		}
		w.Header()["Location"] = []string{returnTo}
		w.WriteHeader(http.StatusSeeOther)
	})
}

// disconnectRequest checks a disconnect request before anything is done
// (method, origin, a bounded form) and returns where to send the browser.
func (c *Connector) disconnectRequest(w http.ResponseWriter, r *http.Request, cop *http.CrossOriginProtection) (string, error) {
	if r.Method != http.MethodPost {
		w.Header()["Allow"] = hdrPostAllowed
		return "", fmt.Errorf("%w: disconnect needs POST", ErrBadRequest)
	}
	if cop != nil {
		if err := cop.Check(r); err != nil {
			return "", fmt.Errorf("%w: %w", ErrCrossOrigin, err)
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxDisconnectForm)
	// ParseForm reads an urlencoded body; ParseMultipartForm a multipart
	// one (it would drop ParseForm's error for other types, so both run).
	// With the body capped, a multipart form fits the memory allowance, so
	// no part is spooled to a temporary file.
	err := r.ParseForm()
	if err == nil {
		if err = r.ParseMultipartForm(maxDisconnectForm); errors.Is(err, http.ErrNotMultipart) {
			err = nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("%w: unreadable form", ErrBadRequest)
	}
	returnTo := r.Form.Get(c.cfg.ReturnToParam)
	if !ValidReturnTo(returnTo) {
		returnTo = "/"
	}
	return returnTo, nil
}

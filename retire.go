package oauthlink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/oauthlink/oauthlink/internal/retry"
	"github.com/oauthlink/oauthlink/store"
)

// Retiring replaced grants.
//
// A reconnect replaces the owner's grant with a new one, but the provider
// keeps the old grant alive until it is revoked (a Mollie refresh token
// never expires). So the commit moves the old grant's token into the new
// record's Retired list in the same atomic Save: from then on the record
// itself says which grants are still to be revoked, whichever process
// crashes or whichever endpoint is down. Revoking them is then a matter of
// retries: revokeRetired revokes what the record lists and removes, with
// compare-and-swap, only what the provider confirmed. The callback calls it
// right after the commit, Disconnect revokes the list along with the
// connection's own grant, and the refresh engine calls it after a
// successful refresh, so a revocation endpoint that was down is retried on
// the connection's next activity.

// grantToken returns the token that revokes conn's grant (RFC 7009): its
// refresh token, or its access token when it has none, with the grant's
// account (which a Provider.RevokesAccount provider revokes instead).
func grantToken(conn *Connection) store.RetiredToken {
	if conn.RefreshToken != "" {
		return store.RetiredToken{Token: conn.RefreshToken, Kind: "refresh_token", AccountID: conn.AccountID}
	}
	return store.RetiredToken{Token: conn.AccessToken, Kind: "access_token", AccountID: conn.AccountID}
}

// sameAuthorization reports whether revoking rt would end next's grant
// too: with Provider.RevokesAccount, a grant of next's own account.
func (e *engine) sameAuthorization(rt store.RetiredToken, next *Connection) bool {
	return e.provider.RevokesAccount && rt.AccountID != "" && rt.AccountID == next.AccountID
}

// retiring returns the Retired list of next, the record that replaces old
// (nil when there is none): what old still had to retire, old's own grant,
// and the rotated pair of old's grant this process holds unsaved (ps; its
// refresh token is newer than the stored one). A token of next's own grant
// is never retired (a provider that answers a new consent with the refresh
// token it already issued keeps one grant), and nothing is added when the
// provider has no revocation endpoint: no one could ever revoke it.
func (e *engine) retiring(next, old *Connection, ps *pendingSave, now time.Time) []store.RetiredToken {
	var out []store.RetiredToken
	add := func(rt store.RetiredToken) {
		if rt.Token == "" || rt.Token == next.RefreshToken || rt.Token == next.AccessToken || e.sameAuthorization(rt, next) ||
			slices.ContainsFunc(out, func(o store.RetiredToken) bool { return o.Token == rt.Token }) {
			return
		}
		out = append(out, rt)
	}
	if old != nil {
		for _, rt := range old.Retired {
			add(rt)
		}
	}
	if e.provider.RevokeURL == "" {
		return out
	}
	if old != nil {
		rt := grantToken(old)
		rt.Since = now
		add(rt)
	}
	if ps != nil && ps.conn != nil {
		rt := grantToken(ps.conn)
		rt.Since = now
		add(rt)
	}
	return out
}

// retireReplaced revokes the grants a commit just retired (conn.Retired),
// bounded by ExchangeTimeout, and returns the record as it stands after the
// confirmed ones were removed (conn itself when that record is no longer
// conn's grant, or could not be read). Failures stay in Retired and are
// logged and reported by revokeRetired; the connection stands either way.
func (e *engine) retireReplaced(ctx context.Context, conn *Connection) *Connection {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.opts.ExchangeTimeout)
	defer cancel()
	cur, _ := e.retire(rctx, conn.Owner)
	e.forget(conn.Owner)
	if cur == nil || cur.AccessToken != conn.AccessToken || cur.RefreshToken != conn.RefreshToken {
		return conn
	}
	return cur
}

// revokeRetired revokes every token in the owner's Connection.Retired at
// the provider and removes the confirmed ones from the record, with
// compare-and-swap under the connection lock (re-reading on conflicts,
// never writing a record that is gone, never touching anything but the
// confirmed tokens). A provider answering invalid_token or invalid_grant
// counts as confirmed: the token is dead either way. Tokens that fail stay
// in Retired; the failure is logged (without secrets), reported as
// EventRevokeFailed and returned. No record, or nothing retired, is nil.
//
// ctx bounds the revocations: pass a context the end user cannot cancel.
// The removal of confirmed tokens runs even when ctx has just ended. Call
// it without holding the connection lock (lockConn); it takes the lock for
// the removal.
func (e *engine) revokeRetired(ctx context.Context, owner string) error {
	_, err := e.retire(ctx, owner)
	return err
}

// retire is revokeRetired, returning the record after the removal (nil when
// there is none).
func (e *engine) retire(ctx context.Context, owner string) (*Connection, error) {
	conn, err := e.store.Load(ctx, e.provider.Name, owner)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	if len(conn.Retired) == 0 {
		return conn, nil
	}
	ctx = e.opStart(ctx)
	done, rerr := e.revokeAll(ctx, conn.Retired)
	cur, derr := e.dropRetired(ctx, owner, done)
	if rerr != nil {
		left := len(conn.Retired) - len(done)
		e.log.Error("oauthlink: revoking replaced grants failed; kept in Connection.Retired for a retry",
			"provider", e.provider.Name, "owner", owner, "pending", left, "error", rerr)
		e.emit(ctx, Event{Kind: EventRevokeFailed, Provider: e.provider.Name, Owner: owner, Err: rerr})
		return cur, fmt.Errorf("%w: %d replaced grant(s) at %s: %w", ErrRevoke, left, e.provider.Name, rerr)
	}
	if derr != nil {
		return cur, derr
	}
	return cur, nil
}

// revokeAll revokes each token with retries and returns the set of tokens
// the provider confirmed (or reported dead). After a token whose revocation
// failed for a reason that is not the token's own (the endpoint is down,
// rate-limited or unreachable, or ctx ended), the rest are not tried: they
// wait for the next attempt instead of each waiting out the same outage.
// At a provider that revokes per account (Provider.RevokesAccount), an
// account is revoked once: its other grants are confirmed with it.
func (e *engine) revokeAll(ctx context.Context, toks []store.RetiredToken) (map[store.Secret]bool, error) {
	done := make(map[store.Secret]bool, len(toks))
	var accounts map[string]bool
	var errs []error
	for _, rt := range toks {
		if rt.Token == "" || done[rt.Token] {
			continue
		}
		if e.provider.RevokesAccount && rt.AccountID != "" && accounts[rt.AccountID] {
			done[rt.Token] = true
			continue
		}
		err := e.revokeTokenWithRetry(ctx, rt.Token.Reveal(), rt.Kind, rt.AccountID)
		if err == nil {
			done[rt.Token] = true
			if e.provider.RevokesAccount && rt.AccountID != "" {
				if accounts == nil {
					accounts = map[string]bool{}
				}
				accounts[rt.AccountID] = true
			}
			continue
		}
		errs = append(errs, err)
		var te *ProviderError
		if !errors.As(err, &te) || te.Temporary() || ctx.Err() != nil {
			break
		}
	}
	return done, errors.Join(errs...)
}

// revokeTokenWithRetry revokes one token, retrying 429, 5xx and network
// failures with capped, jittered exponential backoff that honours
// Retry-After. invalid_token and invalid_grant mean the token is already
// dead: the goal is met.
func (e *engine) revokeTokenWithRetry(ctx context.Context, value, kind, account string) error {
	var err error
	for attempt := 0; attempt < e.opts.RefreshAttempts; attempt++ {
		if err = e.revoke(ctx, value, kind, account); err == nil {
			return nil
		}
		var te *ProviderError
		var wait time.Duration
		if errors.As(err, &te) {
			if te.Code == "invalid_token" || te.Code == "invalid_grant" {
				return nil
			}
			if !te.Temporary() {
				return err
			}
			wait = te.RetryAfter
		}
		if attempt+1 == e.opts.RefreshAttempts || ctx.Err() != nil {
			break
		}
		if werr := retry.Sleep(ctx, retry.Backoff(attempt, e.opts.RetryBase, e.opts.RetryMax, wait)); werr != nil {
			return errors.Join(err, werr)
		}
	}
	return err
}

// dropRetired removes the confirmed tokens (done) from the owner's Retired
// list with compare-and-swap, under the connection lock so that a record
// deleted and created again at the same version meanwhile is not
// overwritten. It re-reads on a version conflict, writes nothing when the
// record is gone or lists none of them, and runs detached from ctx's
// cancellation (bounded on its own), so a revocation the provider confirmed
// is recorded even when ctx ended right after it. It returns the record as
// it stands afterwards.
func (e *engine) dropRetired(ctx context.Context, owner string, done map[store.Secret]bool) (*Connection, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.opts.ExchangeTimeout*3)
	defer cancel()
	if len(done) == 0 {
		return e.loadOrNil(ctx, owner)
	}
	lk, err := e.lockConn(ctx, owner)
	if err != nil {
		return nil, err
	}
	defer lk.release()
	for range 8 {
		cur, err := e.loadOrNil(ctx, owner)
		if cur == nil || err != nil {
			return nil, err
		}
		keep := slices.DeleteFunc(slices.Clone(cur.Retired), func(rt store.RetiredToken) bool { return done[rt.Token] })
		if len(keep) == len(cur.Retired) {
			return cur, nil
		}
		if len(keep) == 0 {
			keep = nil
		}
		next := cur.Clone()
		next.Retired = keep
		err = e.store.Save(ctx, next)
		if err == nil {
			return next, nil
		}
		if !errors.Is(err, store.ErrVersionConflict) {
			return nil, fmt.Errorf("%w: removing revoked grants: %w", ErrStore, err)
		}
	}
	return nil, fmt.Errorf("%w: removing revoked grants: %w", ErrStore, store.ErrVersionConflict)
}

// loadOrNil loads the owner's record, nil without an error when there is
// none.
func (e *engine) loadOrNil(ctx context.Context, owner string) (*Connection, error) {
	conn, err := e.store.Load(ctx, e.provider.Name, owner)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	return conn, nil
}

// empty reports whether no rotated pair is kept at all.
func (p *pendingSaves) empty() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m) == 0
}

package oauthlink

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/oauthlink/oauthlink/internal/retry"
	"github.com/oauthlink/oauthlink/store"
)

// fresh is Connector.Connection: the stored connection, refreshed first
// when due.
func (e *engine) fresh(ctx context.Context, owner string) (*Connection, error) {
	conn, err := e.loadActive(ctx, owner)
	if err != nil {
		return nil, err
	}
	// A kept rotated pair means the stored access token was revoked by the
	// rotation: take the refresh path (which saves the pair) even when a
	// fresh draw of the jitter says the stored token is not yet due.
	if !e.refreshDue(conn, e.now()) && e.pending.get(connKey(e.provider.Name, owner)) == nil {
		return conn, nil
	}
	return e.refresh(ctx, owner, 0, refreshDue)
}

// forceRefresh is Connector.ForceRefresh.
func (e *engine) forceRefresh(ctx context.Context, owner string) (*Connection, error) {
	conn, err := e.loadActive(ctx, owner)
	if err != nil {
		return nil, err
	}
	if conn.RefreshToken == "" {
		return nil, errNoRefreshToken
	}
	e.forget(owner)
	return e.refresh(ctx, owner, conn.Version, refreshForced)
}

// loadActive checks the owner id and reads the owner's connection, which
// must be active (else ErrReauthRequired or ErrDisconnected).
func (e *engine) loadActive(ctx context.Context, owner string) (*Connection, error) {
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	conn, err := e.loadConn(ctx, owner)
	if err != nil {
		return nil, err
	}
	if err := statusErr(conn); err != nil {
		return nil, err
	}
	return conn, nil
}

// loadConn reads the owner's connection, classifying a store failure as
// ErrStore (store.ErrNotFound stays itself).
func (e *engine) loadConn(ctx context.Context, owner string) (*Connection, error) {
	conn, err := e.store.Load(ctx, e.provider.Name, owner)
	if err != nil {
		return nil, storeErr(err)
	}
	return conn, nil
}

// storeErr wraps a store failure in ErrStore, leaving store.ErrNotFound, a
// conflict and an error already classified as they are.
func storeErr(err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrStore) || errors.Is(err, store.ErrVersionConflict) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrStore, err)
}

func statusErr(conn *Connection) error {
	switch conn.Status {
	case store.StatusReauthRequired:
		return ErrReauthRequired
	case store.StatusDisconnected:
		return ErrDisconnected
	case store.StatusRevoked:
		return errRevoked
	}
	return nil
}

// refreshDue reports whether conn should be refreshed now: ahead of expiry
// by RefreshAhead (60 s) or half the token's lifetime, whichever is less, so
// a short-lived token is not refreshed on every call, plus up to
// RefreshJitter of that margin at random so instances spread out. A token
// without a known expiry is never due.
func (e *engine) refreshDue(conn *Connection, now time.Time) bool {
	if conn.Expiry.IsZero() {
		return false
	}
	lifetime := conn.Expiry.Sub(conn.UpdatedAt)
	margin := min(e.opts.RefreshAhead, lifetime/2)
	if margin < 0 {
		margin = 0
	}
	if e.opts.RefreshJitter > 0 && margin > 0 {
		margin += time.Duration(rand.Float64() * e.opts.RefreshJitter * float64(margin))
	}
	return !now.Before(conn.Expiry.Add(-margin))
}

// refreshReason is why a refresh was asked for.
type refreshReason int

const (
	// refreshDue: the token is due (Connector.Connection), or a kept pair waits.
	refreshDue refreshReason = iota
	// refreshForced: the app asked (ForceRefresh).
	refreshForced
	// refreshUnauthorized: the provider's API answered 401 to the stored
	// access token (Client).
	refreshUnauthorized
)

// refresh joins (or leads) the process-wide refresh of one connection and
// waits for it or for ctx. A forced or unauthorized refresh (forcedAt > 0)
// refreshes even a token that is not due, unless the stored version moved
// past forcedAt.
func (e *engine) refresh(ctx context.Context, owner string, forcedAt int64, why refreshReason) (*Connection, error) {
	// One flight per connection, forced or not: a forced refresh and a due
	// one must never run side by side with one refresh token. The key is
	// injective because provider names carry no NUL and checkOwner refuses
	// owners that do.
	key := connKey(e.provider.Name, owner)
	ctx = e.opStart(ctx)
	for joined := 0; ; joined++ {
		ch := e.flight.DoChan(key, func() (any, error) {
			// Detached from the leader's cancellation: followers still
			// want the result, and a rotated token must reach the store.
			dctx := context.WithoutCancel(ctx)
			conn, err := e.lockAndRefresh(dctx, owner, forcedAt, why)
			if err == nil && len(conn.Retired) > 0 {
				// A revocation that failed before (a reconnect's, a
				// disconnect's) is retried on the connection's next
				// refresh, once the lock is released.
				conn = e.retireReplaced(dctx, conn)
			}
			return conn, err
		})
		var res singleflight.Result
		select {
		case res = <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if res.Err != nil {
			return nil, res.Err
		}
		conn := res.Val.(*Connection)
		// A forced caller that joined a flight which found nothing due
		// (and so did not move the version) leads one flight of its own.
		if forcedAt > 0 && conn.Version == forcedAt && joined == 0 && res.Shared {
			continue
		}
		return conn.Clone(), nil
	}
}

// refreshLocked runs one refresh of the owner's connection under its lock.
// The name says what it takes, not what its caller holds.
func (e *engine) lockAndRefresh(ctx context.Context, owner string, forcedAt int64, why refreshReason) (*Connection, error) {
	lk, err := e.lockConn(ctx, owner)
	if err != nil {
		return nil, err
	}
	defer lk.release()
	key := connKey(e.provider.Name, owner)
	conn, err := e.loadWithin(ctx, owner)
	if err != nil {
		return nil, err
	}
	if err := statusErr(conn); err != nil {
		return nil, err
	}
	if ps := e.pending.get(key); ps != nil {
		if ps.oldRefresh != conn.RefreshToken.Reveal() {
			e.pending.put(key, nil) // the store moved on without us
		} else {
			saved, err := e.savePending(ctx, lk, key, conn, ps)
			if err != nil {
				return nil, err
			}
			// After a long outage the kept pair may itself be due: its
			// refresh token was never used, so refresh with it now.
			conn = saved
		}
	}
	forced := forcedAt > 0 && conn.Version == forcedAt
	if !forced && !e.refreshDue(conn, e.now()) {
		return conn, nil // a peer refreshed while we waited
	}
	if conn.RefreshToken == "" {
		switch {
		case why == refreshForced:
			return nil, errNoRefreshToken
		case why == refreshUnauthorized:
			return nil, e.markReauth(ctx, conn, errors.New("the provider rejected the access token and the connection has no refresh token"))
		}
		return nil, e.markReauth(ctx, conn, errors.New("the access token expired and the connection has no refresh token"))
	}
	tok, moved, err := e.refreshGrant(ctx, lk, conn)
	if moved != nil {
		return moved, nil
	}
	if err != nil {
		var te *ProviderError
		if errors.As(err, &te) && te.InvalidGrant() {
			return e.onInvalidGrant(ctx, conn, err)
		}
		e.log.Warn("oauthlink: refresh failed", "provider", e.provider.Name, "owner", owner, "error", err)
		e.emit(ctx, Event{Kind: EventRefreshFailed, Provider: e.provider.Name, Owner: owner, Err: err})
		if errors.Is(err, store.ErrLeaseLost) {
			return nil, fmt.Errorf("%w: refresh: %w", ErrStore, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrRefresh, err)
	}
	next := e.applyRefresh(conn, tok)
	ps := &pendingSave{oldRefresh: conn.RefreshToken.Reveal(), conn: next}
	return e.savePending(ctx, lk, key, conn, ps)
}

// applyRefresh returns conn with the tokens of the provider's refresh
// answer tok: a new refresh token replaces the sent one; a rotating
// provider that issued none has consumed ours, which is dropped; the
// others keep it (RFC 6749 §6).
func (e *engine) applyRefresh(conn *Connection, tok *tokenResponse) *Connection {
	next := conn.Clone()
	next.AccessToken = store.Secret(tok.AccessToken)
	switch {
	case tok.RefreshToken != "":
		next.RefreshToken = store.Secret(tok.RefreshToken)
	case e.provider.RotatesRefreshTokens:
		// The provider consumed the refresh token we sent and issued no
		// new one: sending it again would be reuse (a revoked grant at
		// Hydra). Keep the new access token until it expires; then the
		// connection is reauth_required.
		next.RefreshToken = ""
		e.log.Warn("oauthlink: the provider rotates refresh tokens but answered a refresh without one; the connection works until its access token expires, then needs a reconnect", "provider", e.provider.Name, "owner", conn.Owner)
	}
	now := e.now()
	next.TokenType, next.RefreshedAt = tok.TokenType, now
	next.Expiry = e.tokenExpiry(now, tok, next.RefreshToken.Reveal())
	if tok.ScopeSet {
		next.Scopes = strings.Fields(tok.Scope)
	}
	if tok.Extra != nil {
		next.Extra = store.Secret(tok.Extra)
	}
	return next
}

// storeCallTimeout bounds one store call of the refresh path, so a
// blackholed store costs a bounded wait per attempt, not a hang.
const storeCallTimeout = 5 * time.Second

// loadWithin is load bounded by storeCallTimeout.
func (e *engine) loadWithin(ctx context.Context, owner string) (*Connection, error) {
	lctx, cancel := context.WithTimeout(ctx, min(storeCallTimeout, e.opts.ExchangeTimeout))
	defer cancel()
	return e.loadConn(lctx, owner)
}

// refreshGrant calls the token endpoint with the refresh token, under the
// lease, retrying 429, 5xx and network failures with capped, jittered
// exponential backoff that honours Retry-After. An ambiguous failure (no
// answer: the provider may have rotated) is retried only where the provider
// does not rotate, or inside its grace window. Before every retry the
// record is read again: when it no longer holds the refresh token about to
// be sent, a peer moved on, and that record is returned as moved. Every
// call and wait runs under lk.ctx, which ends when the lease can no longer
// be vouched for.
func (e *engine) refreshGrant(ctx context.Context, lk *heldLock, conn *Connection) (tok *tokenResponse, moved *Connection, err error) {
	form := e.newForm().Add("grant_type", "refresh_token").Add("refresh_token", conn.RefreshToken.Reveal())
	if e.provider.ResendRedirectURIOnRefresh && conn.RedirectURI != "" {
		form = form.Add("redirect_uri", conn.RedirectURI)
	}
	start := e.now()
	for attempt := 0; attempt < e.opts.RefreshAttempts; attempt++ {
		if attempt > 0 {
			cur, lerr := e.loadWithin(lk.ctx, conn.Owner)
			if lerr != nil {
				return nil, nil, errors.Join(err, lerr)
			}
			if cur.Version != conn.Version || cur.RefreshToken != conn.RefreshToken {
				if serr := statusErr(cur); serr != nil {
					return nil, nil, serr
				}
				return nil, cur, nil
			}
		}
		if !lk.valid() {
			return nil, nil, context.Cause(lk.ctx)
		}
		tok, err = e.tokenRequest(lk.ctx, form)
		if err == nil {
			return tok, nil, nil
		}
		var te *ProviderError
		var wait time.Duration
		switch {
		case errors.As(err, &te) && te.Temporary():
			wait = te.RetryAfter
		case errors.As(err, &te), errors.Is(err, errTokenResponse):
			return nil, nil, err
		case lk.ctx.Err() != nil:
			return nil, nil, errors.Join(err, context.Cause(lk.ctx))
		case ctx.Err() != nil:
			return nil, nil, err
		default: // no answer
			if e.provider.RotatesRefreshTokens && e.now().Sub(start) >= e.provider.RefreshGrace {
				return nil, nil, err
			}
		}
		if attempt+1 == e.opts.RefreshAttempts {
			break
		}
		if werr := retry.Sleep(lk.ctx, retry.Backoff(attempt, e.opts.RetryBase, e.opts.RetryMax, wait)); werr != nil {
			return nil, nil, errors.Join(err, context.Cause(lk.ctx))
		}
	}
	return nil, nil, err
}

// onInvalidGrant handles a refused refresh token: a peer (another request
// whose lock expired, or another instance without a shared lock) may have
// rotated it, so the store decides; only when nothing changed is the
// connection marked for reconnection.
func (e *engine) onInvalidGrant(ctx context.Context, conn *Connection, cause error) (*Connection, error) {
	cur, err := e.loadWithin(ctx, conn.Owner)
	if err != nil {
		return nil, err
	}
	if serr := statusErr(cur); serr != nil {
		return nil, serr
	}
	if cur.RefreshToken != conn.RefreshToken || cur.AccessToken != conn.AccessToken {
		if e.provider.RotatesRefreshTokens {
			// A rotating provider that refuses a refresh token a peer
			// already rotated has usually revoked the whole grant (Hydra's
			// reuse detection), the peer's new tokens included: hand out
			// nothing this time. The stored connection is left as it is;
			// if its tokens are dead, the next refresh or 401 finds out.
			e.log.Warn("oauthlink: refresh token refused after a peer rotated it", "provider", e.provider.Name, "owner", conn.Owner, "error", cause)
			return nil, fmt.Errorf("%w: %w", ErrRefresh, cause)
		}
		return cur, nil
	}
	return nil, e.markReauth(ctx, cur, cause)
}

// markReauth flags the connection store.StatusReauthRequired (never deleting it)
// and returns the typed error.
func (e *engine) markReauth(ctx context.Context, conn *Connection, cause error) error {
	next := conn.Clone()
	next.Status = store.StatusReauthRequired
	sctx, cancel := context.WithTimeout(ctx, e.opts.ExchangeTimeout)
	defer cancel()
	if err := e.store.Save(sctx, next); err != nil && !errors.Is(err, store.ErrVersionConflict) {
		e.log.Error("oauthlink: marking connection reauth_required failed", "provider", e.provider.Name, "owner", conn.Owner, "error", err)
	}
	e.forget(conn.Owner)
	e.log.Warn("oauthlink: reconnect required", "provider", e.provider.Name, "owner", conn.Owner, "error", cause)
	e.emit(ctx, Event{Kind: EventReauthRequired, Provider: e.provider.Name, Owner: conn.Owner, Err: cause})
	return fmt.Errorf("%w: %w", ErrReauthRequired, cause)
}

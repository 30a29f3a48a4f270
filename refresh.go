package oauthlink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/oauthlink/oauthlink/internal/retry"
	"github.com/oauthlink/oauthlink/store"
)

// Fresh returns the owner's connection with an access token that is not
// about to expire, refreshing it first when needed. Refreshes are
// coordinated so that one refresh token is sent to the provider once,
// however many requests and instances ask at the same moment:
//
//   - inside the process, concurrent callers share one refresh per
//     connection (singleflight, forced or not) and all use its result;
//   - across processes, the store's store.Locker (when it has one) admits one
//     holder at a time, with a lease the holder renews while it works (see
//     Config.LockTTL); the holder re-reads the connection after taking the
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
// could not be saved: no token is handed out then; ErrDecrypt too when a
// stored token cannot be decrypted), ErrRefresh (the provider did not
// refresh; with its *TokenError when it answered), ErrInvalidOwner, or
// ctx's error.
func (c *Connector) Fresh(ctx context.Context, owner string) (*Connection, error) {
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	conn, err := c.loadConn(ctx, owner)
	if err != nil {
		return nil, err
	}
	if err := statusErr(conn); err != nil {
		return nil, err
	}
	// A kept rotated pair means the stored access token was revoked by the
	// rotation: take the refresh path (which saves the pair) even when a
	// fresh draw of the jitter says the stored token is not yet due.
	if !c.refreshDue(conn, c.now()) && c.pending.get(connKey(c.provider.Name, owner)) == nil {
		return conn, nil
	}
	return c.refresh(ctx, owner, 0, refreshDue)
}

// Refresh refreshes the owner's token now, whether or not it is due (after
// the app learned it was revoked, or to pick up new scopes), with the same
// coordination as Fresh: concurrent calls share one refresh, and when the
// stored connection changed since Refresh read it (a peer refreshed), that
// newer connection is returned without calling the provider. A connection
// without a refresh token cannot be refreshed: Refresh returns
// ErrNoRefreshToken and changes nothing. Errors: those of Fresh, and
// ErrNoRefreshToken.
func (c *Connector) Refresh(ctx context.Context, owner string) (*Connection, error) {
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	conn, err := c.loadConn(ctx, owner)
	if err != nil {
		return nil, err
	}
	if err := statusErr(conn); err != nil {
		return nil, err
	}
	if conn.RefreshToken == "" {
		return nil, ErrNoRefreshToken
	}
	c.forget(owner)
	return c.refresh(ctx, owner, conn.Version, refreshForced)
}

// loadConn reads the owner's connection, classifying a store failure as
// ErrStore (store.ErrNotFound stays itself).
func (c *Connector) loadConn(ctx context.Context, owner string) (*Connection, error) {
	conn, err := c.store.Load(ctx, c.provider.Name, owner)
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
	}
	return nil
}

// refreshDue reports whether conn should be refreshed now: ahead of expiry
// by RefreshAhead (60 s) or half the token's lifetime, whichever is less, so
// a short-lived token is not refreshed on every call, plus up to
// RefreshJitter of that margin at random so instances spread out. A token
// without a known expiry is never due.
func (c *Connector) refreshDue(conn *Connection, now time.Time) bool {
	if conn.Expiry.IsZero() {
		return false
	}
	lifetime := conn.Expiry.Sub(conn.UpdatedAt)
	margin := min(c.cfg.RefreshAhead, lifetime/2)
	if margin < 0 {
		margin = 0
	}
	if c.cfg.RefreshJitter > 0 && margin > 0 {
		margin += time.Duration(rand.Float64() * c.cfg.RefreshJitter * float64(margin))
	}
	return !now.Before(conn.Expiry.Add(-margin))
}

func connKey(provider, owner string) string { return provider + "\x00" + owner }

// within bounds ctx by d, reusing ctx when its own deadline already comes
// first (a context.WithTimeout costs a timer and several allocations).
func within(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// refreshReason is why a refresh was asked for.
type refreshReason int

const (
	// refreshDue: the token is due (Fresh), or a kept pair waits.
	refreshDue refreshReason = iota
	// refreshForced: the app asked (Refresh).
	refreshForced
	// refreshUnauthorized: the provider's API answered 401 to the stored
	// access token (Client).
	refreshUnauthorized
)

// refresh joins (or leads) the process-wide refresh of one connection and
// waits for it or for ctx. A forced or unauthorized refresh (forcedAt > 0)
// refreshes even a token that is not due, unless the stored version moved
// past forcedAt.
func (c *Connector) refresh(ctx context.Context, owner string, forcedAt int64, why refreshReason) (*Connection, error) {
	// One flight per connection, forced or not: a forced refresh and a due
	// one must never run side by side with one refresh token. The key is
	// injective because provider names carry no NUL and checkOwner refuses
	// owners that do.
	key := connKey(c.provider.Name, owner)
	for joined := 0; ; joined++ {
		ch := c.flight.DoChan(key, func() (any, error) {
			// Detached from the leader's cancellation: followers still
			// want the result, and a rotated token must reach the store.
			dctx := context.WithoutCancel(ctx)
			conn, err := c.refreshLocked(dctx, owner, forcedAt, why)
			if err == nil && len(conn.Retired) > 0 {
				// A revocation that failed before (a reconnect's, a
				// disconnect's) is retried on the connection's next
				// refresh, once the lock is released.
				conn = c.retireReplaced(dctx, conn)
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

// pendingSave is a rotated grant whose save failed: the provider has
// already retired the old refresh token, so the new pair must be saved,
// not fetched again with the old token.
type pendingSave struct {
	oldRefresh string
	conn       *Connection
}

type pendingSaves struct {
	mu sync.Mutex
	m  map[string]*pendingSave
}

func (p *pendingSaves) get(key string) *pendingSave {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[key]
}

func (p *pendingSaves) put(key string, ps *pendingSave) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[string]*pendingSave)
	}
	if ps == nil {
		delete(p.m, key)
		return
	}
	p.m[key] = ps
}

// refreshLocked runs one refresh of the owner's connection under its lock.
// The name says what it takes, not what its caller holds.
func (c *Connector) refreshLocked(ctx context.Context, owner string, forcedAt int64, why refreshReason) (*Connection, error) {
	lk, err := c.lockConn(ctx, owner)
	if err != nil {
		return nil, err
	}
	defer lk.release()
	key := connKey(c.provider.Name, owner)
	conn, err := c.loadWithin(ctx, owner)
	if err != nil {
		return nil, err
	}
	if err := statusErr(conn); err != nil {
		return nil, err
	}
	if ps := c.pending.get(key); ps != nil {
		if ps.oldRefresh != conn.RefreshToken.Reveal() {
			c.pending.put(key, nil) // the store moved on without us
		} else {
			saved, err := c.savePending(ctx, lk, key, conn, ps)
			if err != nil {
				return nil, err
			}
			// After a long outage the kept pair may itself be due: its
			// refresh token was never used, so refresh with it now.
			conn = saved
		}
	}
	forced := forcedAt > 0 && conn.Version == forcedAt
	if !forced && !c.refreshDue(conn, c.now()) {
		return conn, nil // a peer refreshed while we waited
	}
	if conn.RefreshToken == "" {
		switch {
		case why == refreshForced:
			return nil, ErrNoRefreshToken
		case why == refreshUnauthorized:
			return nil, c.markReauth(ctx, conn, errors.New("the provider rejected the access token and the connection has no refresh token"))
		}
		return nil, c.markReauth(ctx, conn, errors.New("the access token expired and the connection has no refresh token"))
	}
	tok, moved, err := c.refreshGrant(ctx, lk, conn)
	if moved != nil {
		return moved, nil
	}
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) && te.InvalidGrant() {
			return c.onInvalidGrant(ctx, conn, err)
		}
		c.log.Warn("oauthlink: refresh failed", "provider", c.provider.Name, "owner", owner, "error", err)
		c.emit(ctx, Event{Kind: EventRefreshFailed, Provider: c.provider.Name, Owner: owner, Err: err})
		if errors.Is(err, store.ErrLeaseLost) {
			return nil, fmt.Errorf("%w: refresh: %w", ErrStore, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrRefresh, err)
	}
	next := conn.Clone()
	next.AccessToken = Secret(tok.AccessToken)
	switch {
	case tok.RefreshToken != "":
		next.RefreshToken = Secret(tok.RefreshToken)
	case c.provider.RotatesRefreshTokens:
		// The provider consumed the refresh token we sent and issued no
		// new one: sending it again would be reuse (a revoked grant at
		// Hydra). Keep the new access token until it expires; then the
		// connection is reauth_required.
		next.RefreshToken = ""
		c.log.Warn("oauthlink: the provider rotates refresh tokens but answered a refresh without one; the connection works until its access token expires, then needs a reconnect", "provider", c.provider.Name, "owner", owner)
	}
	next.TokenType = tok.TokenType
	next.Expiry = c.tokenExpiry(c.now(), tok, next.RefreshToken.Reveal())
	if tok.ScopeSet {
		next.Scopes = strings.Fields(tok.Scope)
	}
	if tok.Extra != nil {
		next.Extra = Secret(tok.Extra)
	}
	ps := &pendingSave{oldRefresh: conn.RefreshToken.Reveal(), conn: next}
	return c.savePending(ctx, lk, key, conn, ps)
}

// storeCallTimeout bounds one store call of the refresh path, so a
// blackholed store costs a bounded wait per attempt, not a hang.
const storeCallTimeout = 5 * time.Second

// loadWithin is load bounded by storeCallTimeout.
func (c *Connector) loadWithin(ctx context.Context, owner string) (*Connection, error) {
	lctx, cancel := context.WithTimeout(ctx, min(storeCallTimeout, c.cfg.ExchangeTimeout))
	defer cancel()
	return c.loadConn(lctx, owner)
}

// savePending writes a refreshed grant with compare-and-swap on the version
// that was refreshed. A failed write is retried with backoff while the
// lease holds (so no other instance refreshes meanwhile), for at most the
// longer of ExchangeTimeout and LockTTL, and once more after. If it still fails, the pair
// stays in memory and the next refresh of the connection on this instance
// saves it without calling the provider. On a conflict the store wins: a
// disconnect makes the new grant pointless (it is revoked), a peer's
// refresh is used as is.
func (c *Connector) savePending(ctx context.Context, lk *heldLock, key string, base *Connection, ps *pendingSave) (*Connection, error) {
	next := ps.conn.Clone()
	next.Version = base.Version
	// Give up after the longer of ExchangeTimeout and LockTTL, or as soon
	// as the lease can no longer be vouched for, whichever comes first
	// (one last attempt follows). While the holder retries, its lease is
	// renewed, so no peer takes the connection and sends the spent token.
	// The first save usually succeeds: nothing is set up for the retries
	// until one is needed.
	var deadline time.Time
	var err error
	wait := 50 * time.Millisecond
	for last := false; ; {
		sctx, cancel := context.WithTimeout(ctx, min(storeCallTimeout, c.cfg.ExchangeTimeout))
		err = c.store.Save(sctx, next)
		cancel()
		if err == nil || errors.Is(err, store.ErrVersionConflict) || last {
			break
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(max(c.cfg.ExchangeTimeout, c.cfg.LockTTL))
		}
		t := time.NewTimer(max(min(wait, time.Until(deadline)), 0))
		select {
		case <-t.C:
			last = !time.Now().Before(deadline)
		case <-lk.ctx.Done():
			last = true
		}
		t.Stop()
		wait = min(2*wait, time.Second)
	}
	switch {
	case err == nil:
		c.pending.put(key, nil)
		if c.log.Enabled(ctx, slog.LevelInfo) {
			c.log.Info("oauthlink: refreshed", "provider", c.provider.Name, "owner", next.Owner)
		}
		c.emit(ctx, Event{Kind: EventRefreshed, Provider: c.provider.Name, Owner: next.Owner})
		return next, nil
	case errors.Is(err, store.ErrVersionConflict):
		c.pending.put(key, nil)
		cur, lerr := c.loadWithin(ctx, next.Owner)
		if lerr != nil {
			return nil, lerr
		}
		if cur.Status == store.StatusDisconnected {
			c.revokeQuietly(ctx, &tokenResponse{AccessToken: next.AccessToken.Reveal(), RefreshToken: next.RefreshToken.Reveal()})
		}
		if serr := statusErr(cur); serr != nil {
			return nil, serr
		}
		return cur, nil
	default:
		// Keep the new pair in memory: the next refresh of this connection
		// saves it instead of replaying the retired refresh token.
		c.pending.put(key, ps)
		c.log.Error("oauthlink: saving refreshed token failed; kept in memory for the next attempt", "provider", c.provider.Name, "owner", next.Owner, "error", err)
		c.emit(ctx, Event{Kind: EventRefreshFailed, Provider: c.provider.Name, Owner: next.Owner, Err: err})
		return nil, fmt.Errorf("%w: saving refreshed token: %w", ErrStore, err)
	}
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
func (c *Connector) refreshGrant(ctx context.Context, lk *heldLock, conn *Connection) (tok *tokenResponse, moved *Connection, err error) {
	form := c.newForm().add("grant_type", "refresh_token").add("refresh_token", conn.RefreshToken.Reveal())
	if c.provider.ResendRedirectURIOnRefresh && conn.RedirectURI != "" {
		form = form.add("redirect_uri", conn.RedirectURI)
	}
	start := c.now()
	for attempt := 0; attempt < c.cfg.RefreshAttempts; attempt++ {
		if attempt > 0 {
			cur, lerr := c.loadWithin(lk.ctx, conn.Owner)
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
		tok, err = c.tokenRequest(lk.ctx, form)
		if err == nil {
			return tok, nil, nil
		}
		var te *TokenError
		var wait time.Duration
		switch {
		case errors.As(err, &te) && te.Temporary():
			wait = te.RetryAfter
		case errors.As(err, &te), errors.Is(err, ErrTokenResponse):
			return nil, nil, err
		case lk.ctx.Err() != nil:
			return nil, nil, errors.Join(err, context.Cause(lk.ctx))
		case ctx.Err() != nil:
			return nil, nil, err
		default: // no answer
			if c.provider.RotatesRefreshTokens && c.now().Sub(start) >= c.provider.RefreshGrace {
				return nil, nil, err
			}
		}
		if attempt+1 == c.cfg.RefreshAttempts {
			break
		}
		if werr := sleepCtx(lk.ctx, retry.Backoff(attempt, c.cfg.RetryBase, c.cfg.RetryMax, wait)); werr != nil {
			return nil, nil, errors.Join(err, context.Cause(lk.ctx))
		}
	}
	return nil, nil, err
}

// onInvalidGrant handles a refused refresh token: a peer (another request
// whose lock expired, or another instance without a shared lock) may have
// rotated it, so the store decides; only when nothing changed is the
// connection marked for reconnection.
func (c *Connector) onInvalidGrant(ctx context.Context, conn *Connection, cause error) (*Connection, error) {
	cur, err := c.loadWithin(ctx, conn.Owner)
	if err != nil {
		return nil, err
	}
	if serr := statusErr(cur); serr != nil {
		return nil, serr
	}
	if cur.RefreshToken != conn.RefreshToken || cur.AccessToken != conn.AccessToken {
		if c.provider.RotatesRefreshTokens {
			// A rotating provider that refuses a refresh token a peer
			// already rotated has usually revoked the whole grant (Hydra's
			// reuse detection), the peer's new tokens included: hand out
			// nothing this time. The stored connection is left as it is;
			// if its tokens are dead, the next refresh or 401 finds out.
			c.log.Warn("oauthlink: refresh token refused after a peer rotated it", "provider", c.provider.Name, "owner", conn.Owner, "error", cause)
			return nil, fmt.Errorf("%w: %w", ErrRefresh, cause)
		}
		return cur, nil
	}
	return nil, c.markReauth(ctx, cur, cause)
}

// markReauth flags the connection store.StatusReauthRequired (never deleting it)
// and returns the typed error.
func (c *Connector) markReauth(ctx context.Context, conn *Connection, cause error) error {
	next := conn.Clone()
	next.Status = store.StatusReauthRequired
	sctx, cancel := context.WithTimeout(ctx, c.cfg.ExchangeTimeout)
	defer cancel()
	if err := c.store.Save(sctx, next); err != nil && !errors.Is(err, store.ErrVersionConflict) {
		c.log.Error("oauthlink: marking connection reauth_required failed", "provider", c.provider.Name, "owner", conn.Owner, "error", err)
	}
	c.forget(conn.Owner)
	c.log.Warn("oauthlink: reconnect required", "provider", c.provider.Name, "owner", conn.Owner, "error", cause)
	c.emit(ctx, Event{Kind: EventReauthRequired, Provider: c.provider.Name, Owner: conn.Owner, Err: cause})
	return fmt.Errorf("%w: %w", ErrReauthRequired, cause)
}

// TokenSource returns an oauth2.TokenSource for the owner's connection.
// Each Token call runs Fresh under context.Background bounded by
// Config.ExchangeTimeout; prefer Fresh or TokenContext where a request
// context exists.
func (c *Connector) TokenSource(owner string) *TokenSource {
	return &TokenSource{c: c, owner: owner}
}

// TokenSource hands out fresh tokens for one connection, refreshing with
// write-back. It implements oauth2.TokenSource. Safe for concurrent use.
// The tokens it hands out carry the access token, its expiry and the extra
// response fields, never the refresh token (see Connection.OAuth2Token):
// refreshing is the TokenSource's job, under oauthlink's lock.
type TokenSource struct {
	c     *Connector
	owner string
}

// Token implements oauth2.TokenSource. The token has no refresh token.
// Errors: those of Fresh, with context.DeadlineExceeded when it ran out of
// its bound.
func (ts *TokenSource) Token() (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ts.c.cfg.ExchangeTimeout*2)
	defer cancel()
	return ts.TokenContext(ctx)
}

// TokenContext is Token under the caller's context. The token has no
// refresh token. Errors: those of Fresh.
func (ts *TokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	conn, err := ts.c.Fresh(ctx, ts.owner)
	if err != nil {
		return nil, err
	}
	return conn.OAuth2Token(), nil
}

var _ oauth2.TokenSource = (*TokenSource)(nil)

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
)

// Fresh returns the owner's connection with an access token that is not
// about to expire, refreshing it first when needed. Refreshes are
// coordinated so that one connection is refreshed once, however many
// requests and instances ask at the same moment:
//
//   - inside the process, concurrent callers share one refresh
//     (singleflight) and all use its result;
//   - across processes, the store's Locker (when it has one) admits one
//     refresher; after taking the lock the connection is re-read, and a
//     token a peer already refreshed is used without calling the provider;
//   - the new tokens are written with compare-and-swap under a context the
//     caller cannot cancel, so a rotated refresh token is never lost to a
//     client that hung up (security.md H30);
//   - invalid_grant re-reads the store and uses a newer token when a peer
//     rotated; otherwise the connection is marked StatusReauthRequired
//     (never deleted) and ErrReauthRequired is returned.
//
// The caller's ctx bounds how long the caller waits; the refresh itself
// runs detached from the caller's cancellation with Config.ExchangeTimeout
// per provider call.
func (c *Connector) Fresh(ctx context.Context, owner string) (*Connection, error) {
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	conn, err := c.store.Load(ctx, c.provider.Name, owner)
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
	return c.refresh(ctx, owner, 0)
}

// Refresh refreshes the owner's token now, whether or not it is due (after
// the app learned it was revoked, or to pick up new scopes), with the same
// coordination as Fresh: concurrent calls share one refresh, and when the
// stored connection changed since Refresh read it (a peer refreshed), that
// newer connection is returned without calling the provider.
func (c *Connector) Refresh(ctx context.Context, owner string) (*Connection, error) {
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	conn, err := c.store.Load(ctx, c.provider.Name, owner)
	if err != nil {
		return nil, err
	}
	if err := statusErr(conn); err != nil {
		return nil, err
	}
	c.forget(owner)
	return c.refresh(ctx, owner, conn.Version)
}

func statusErr(conn *Connection) error {
	switch conn.Status {
	case StatusReauthRequired:
		return ErrReauthRequired
	case StatusDisconnected:
		return ErrDisconnected
	}
	return nil
}

// refreshDue reports whether conn should be refreshed now: ahead of expiry
// by RefreshAhead (60 s) or half the token's lifetime, whichever is less, so
// a short-lived token is not refreshed on every call, plus up to
// RefreshJitter of that margin at random so instances spread out.
func (c *Connector) refreshDue(conn *Connection, now time.Time) bool {
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

// refresh joins (or leads) the process-wide refresh of one connection and
// waits for it or for ctx. forcedAt > 0 refreshes even a token that is not
// due, unless the stored version moved past forcedAt.
func (c *Connector) refresh(ctx context.Context, owner string, forcedAt int64) (*Connection, error) {
	// One flight per connection, forced or not: a forced refresh and a due
	// one must never run side by side with one refresh token. The key is
	// injective because provider names carry no NUL and checkOwner refuses
	// owners that do.
	key := connKey(c.provider.Name, owner)
	ch := c.flight.DoChan(key, func() (any, error) {
		// Detached from the leader's cancellation: followers still want
		// the result, and a rotated token must reach the store.
		rctx := context.WithoutCancel(ctx)
		return c.refreshLocked(rctx, owner, forcedAt)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Connection).Clone(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// pendingSave is a rotated grant whose save failed: the provider has
// already retired the old refresh token, so the new pair must be saved,
// not fetched again with the old token (security.md H32).
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

func (c *Connector) refreshLocked(ctx context.Context, owner string, forcedAt int64) (*Connection, error) {
	lk, err := c.lockConn(ctx, owner)
	if err != nil {
		return nil, err
	}
	defer lk.release()
	key := connKey(c.provider.Name, owner)
	conn, err := c.store.Load(ctx, c.provider.Name, owner)
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
			saved, err := c.savePending(ctx, key, conn, ps)
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
		return nil, c.markReauth(ctx, conn, errors.New("no refresh token"))
	}
	tok, err := c.refreshGrant(ctx, conn)
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) && te.InvalidGrant() {
			return c.onInvalidGrant(ctx, conn, err)
		}
		c.log.Warn("oauthlink: refresh failed", "provider", c.provider.Name, "owner", owner, "error", err)
		c.emit(ctx, Event{Kind: EventRefreshFailed, Provider: c.provider.Name, Owner: owner, Err: err})
		return nil, fmt.Errorf("oauthlink: refresh: %w", err)
	}
	next := conn.Clone()
	next.AccessToken = Secret(tok.AccessToken)
	if tok.RefreshToken != "" {
		next.RefreshToken = Secret(tok.RefreshToken)
	}
	next.TokenType = tok.TokenType
	next.Expiry = c.now().Add(tok.Lifetime)
	if tok.ScopeSet {
		next.Scopes = strings.Fields(tok.Scope)
	}
	if tok.Extra != nil {
		next.Extra = Secret(tok.Extra)
	}
	ps := &pendingSave{oldRefresh: conn.RefreshToken.Reveal(), conn: next}
	return c.savePending(ctx, key, conn, ps)
}

// savePending writes a refreshed grant with compare-and-swap on the version
// that was refreshed. On a conflict the store wins: a disconnect makes the
// new grant pointless (it is revoked), a peer's refresh is used as is.
func (c *Connector) savePending(ctx context.Context, key string, base *Connection, ps *pendingSave) (*Connection, error) {
	sctx, cancel := context.WithTimeout(ctx, c.cfg.ExchangeTimeout)
	defer cancel()
	next := ps.conn.Clone()
	next.Version = base.Version
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			if werr := sleepCtx(sctx, time.Duration(attempt)*100*time.Millisecond); werr != nil {
				break
			}
		}
		if err = c.store.Save(sctx, next); err == nil || errors.Is(err, ErrVersionConflict) {
			break
		}
	}
	switch {
	case err == nil:
		c.pending.put(key, nil)
		if c.log.Enabled(ctx, slog.LevelInfo) {
			c.log.Info("oauthlink: refreshed", "provider", c.provider.Name, "owner", next.Owner)
		}
		c.emit(ctx, Event{Kind: EventRefreshed, Provider: c.provider.Name, Owner: next.Owner})
		return next, nil
	case errors.Is(err, ErrVersionConflict):
		c.pending.put(key, nil)
		cur, lerr := c.store.Load(ctx, c.provider.Name, next.Owner)
		if lerr != nil {
			return nil, fmt.Errorf("%w: %w", ErrStore, lerr)
		}
		if cur.Status == StatusDisconnected {
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

// refreshGrant calls the token endpoint with the refresh token, retrying
// 429, 5xx and network failures with capped, jittered exponential backoff
// that honours Retry-After (security.md G23). An ambiguous failure (no
// answer: the provider may have rotated) is retried only where the provider
// does not rotate, or inside its grace window.
func (c *Connector) refreshGrant(ctx context.Context, conn *Connection) (*tokenResponse, error) {
	form := c.newForm().add("grant_type", "refresh_token").add("refresh_token", conn.RefreshToken.Reveal())
	if c.provider.ResendRedirectURIOnRefresh && conn.RedirectURI != "" {
		form = form.add("redirect_uri", conn.RedirectURI)
	}
	start := c.now()
	var err error
	for attempt := 0; attempt < c.cfg.RefreshAttempts; attempt++ {
		var tok *tokenResponse
		tok, err = c.tokenRequest(ctx, form)
		if err == nil {
			return tok, nil
		}
		var te *TokenError
		var wait time.Duration
		switch {
		case errors.As(err, &te) && te.Temporary():
			wait = te.RetryAfter
		case errors.As(err, &te), errors.Is(err, ErrTokenResponse):
			return nil, err
		case ctx.Err() != nil:
			return nil, err
		default: // no answer
			if c.provider.RotatesRefreshTokens && c.now().Sub(start) >= c.provider.RefreshGrace {
				return nil, err
			}
		}
		if attempt+1 == c.cfg.RefreshAttempts {
			break
		}
		backoff := min(c.cfg.RetryBase<<attempt, c.cfg.RetryMax)
		backoff = backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		if err := sleepCtx(ctx, min(max(wait, backoff), c.cfg.RetryMax)); err != nil {
			return nil, err
		}
	}
	return nil, err
}

// onInvalidGrant handles a refused refresh token: a peer (another request
// whose lock expired, or another instance without a shared lock) may have
// rotated it, so the store decides; only when nothing changed is the
// connection marked for reconnection.
func (c *Connector) onInvalidGrant(ctx context.Context, conn *Connection, cause error) (*Connection, error) {
	cur, err := c.store.Load(ctx, c.provider.Name, conn.Owner)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	if serr := statusErr(cur); serr != nil {
		return nil, serr
	}
	if cur.RefreshToken != conn.RefreshToken || cur.AccessToken != conn.AccessToken {
		return cur, nil
	}
	return nil, c.markReauth(ctx, cur, cause)
}

// markReauth flags the connection StatusReauthRequired (never deleting it)
// and returns the typed error.
func (c *Connector) markReauth(ctx context.Context, conn *Connection, cause error) error {
	next := conn.Clone()
	next.Status = StatusReauthRequired
	sctx, cancel := context.WithTimeout(ctx, c.cfg.ExchangeTimeout)
	defer cancel()
	if err := c.store.Save(sctx, next); err != nil && !errors.Is(err, ErrVersionConflict) {
		c.log.Error("oauthlink: marking connection reauth_required failed", "provider", c.provider.Name, "owner", conn.Owner, "error", err)
	}
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
type TokenSource struct {
	c     *Connector
	owner string
}

// Token implements oauth2.TokenSource.
func (ts *TokenSource) Token() (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ts.c.cfg.ExchangeTimeout*2)
	defer cancel()
	return ts.TokenContext(ctx)
}

// TokenContext is Token under the caller's context.
func (ts *TokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	conn, err := ts.c.Fresh(ctx, ts.owner)
	if err != nil {
		return nil, err
	}
	return conn.OAuth2Token(), nil
}

var _ oauth2.TokenSource = (*TokenSource)(nil)

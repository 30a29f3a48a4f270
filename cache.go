package oauthlink

import (
	"context"
	"sync"
	"time"
)

// loaded is what the middleware puts in the context: the connection or the
// reason there is none. Cached entries are shared read-only.
type loaded struct {
	conn  *Connection
	err   error
	until time.Time
}

// tokenCache keeps fresh connections per owner for Config.Tokens.CacheTTL, so the
// per-request path neither reads the store nor allocates.
type tokenCache struct{ m sync.Map }

func (e *engine) cached(ctx context.Context, owner string) *loaded {
	if e.opts.CacheTTL > 0 {
		if v, ok := e.cache.m.Load(owner); ok {
			if l := v.(*loaded); e.stillBefore(l.until) {
				return l
			}
		}
	}
	now := e.now()
	conn, err := e.fresh(ctx, owner)
	if err != nil {
		return &loaded{err: err}
	}
	// Kept for CacheTTL, never past the point where the token is due for
	// refresh; until is now plus a duration, so on the real clock it keeps
	// now's monotonic reading for stillBefore.
	ttl := e.opts.CacheTTL
	if conn.Expiry.IsZero() {
		// No known expiry: nothing to refresh ahead of.
	} else if due := conn.Expiry.Add(-min(e.opts.RefreshAhead, conn.Expiry.Sub(conn.UpdatedAt)/2)); due.Sub(now) < ttl {
		ttl = due.Sub(now)
	}
	l := &loaded{conn: conn, until: now.Add(ttl)}
	if e.opts.CacheTTL > 0 {
		e.cache.m.Store(owner, l)
	}
	return l
}

func (e *engine) forget(owner string) { e.cache.m.Delete(owner) }

// unauthorizedEvery is how often one process forces a refresh of one
// connection because the provider's API answered 401: a provider that
// answers 401 to a good token (a wrong API path) must not turn every
// request into a refresh (Qonto throttles clients after 200 401s an hour).
const unauthorizedEvery = time.Minute

// unauthorized handles a 401 from the provider's API to used: it returns
// the stored connection when a peer already replaced the token, or forces
// one refresh of the stored token. It returns nil, nil when the refresh is
// throttled.
func (e *engine) unauthorized(ctx context.Context, owner string, used *Connection) (*Connection, error) {
	cur, err := e.loadConn(ctx, owner)
	if err != nil {
		return nil, err
	}
	if err := statusErr(cur); err != nil {
		return nil, err
	}
	if cur.AccessToken != used.AccessToken {
		return cur, nil
	}
	now := e.now()
	if last, ok := e.unauthorizedAt.Load(owner); ok && now.Sub(last.(time.Time)) < unauthorizedEvery && now.Sub(last.(time.Time)) >= 0 {
		return nil, nil
	}
	e.unauthorizedAt.Store(owner, now)
	return e.refresh(ctx, owner, cur.Version, refreshUnauthorized)
}

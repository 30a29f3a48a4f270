package oauthlink

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/oauthlink/oauthlink/internal/tokenwire"
	"github.com/oauthlink/oauthlink/store"
)

// engine is the connection lifecycle of one provider: every rule about
// when a token is refreshed, how a rotated refresh token is kept, how a
// reconnect replaces a grant and how a grant is revoked lives in its
// methods. The handlers, the middleware, the API client and Disconnect
// delegate to it; it knows nothing about cookies, pages or requests.
//
// It holds the store, the process-wide refresh flights (one per
// connection), the rotated pairs whose save failed, the cache of fresh
// connections, the token endpoint and the clock. Across processes the
// store's lease lock (lease.go) admits one refresher at a time.
//
// Its files: engine.go (this type, the clock, events), refresh.go (fresh
// tokens, refresh under the lease, pending saves), connect.go (the
// exchange and commit of a new grant), retire.go (revoking replaced
// grants), disconnect.go (Disconnect), revoked.go (a connection the
// merchant revoked at the provider), lease.go (the lease), cache.go (the
// cache and the 401 repair), token.go (the token endpoint),
// revocation.go (a custom Provider.Revoke, the account id of a token
// answer) and
// lifecycle.go (what package fleet may ask of it).
type engine struct {
	provider    Provider
	store       store.TokenStore
	opts        TokenOptions
	redirectURL string
	// scopes are those requested, recorded when the provider's answer
	// names none.
	scopes   []string
	identify func(ctx context.Context, conn *Connection) error
	onEvent  func(ctx context.Context, e Event)
	log      *slog.Logger
	clock    func() time.Time
	// realClock is set when Config.Now was left to time.Now.
	realClock bool
	endpoint  *tokenwire.Endpoint
	// clientID, clientSecret and revokeHTTP are what a custom
	// Provider.Revoke receives in its Revocation.
	clientID     string
	clientSecret store.Secret
	revokeHTTP   *http.Client

	flight  singleflight.Group
	pending pendingSaves
	cache   tokenCache
	// unauthorizedAt holds, per owner, when a 401 last forced a refresh.
	unauthorizedAt sync.Map
}

// newEngine builds the engine for a validated, normalised cfg, p (the
// provider with its defaults applied) and the requested scopes.
func newEngine(cfg *Config, p Provider, scopes []string) *engine {
	e := &engine{
		provider: p, store: cfg.Store, opts: cfg.Tokens, redirectURL: cfg.RedirectURL, scopes: scopes,
		identify: cfg.Hooks.Identify, onEvent: cfg.Hooks.OnEvent, log: cfg.Logger, clock: cfg.Now,
	}
	if e.clock == nil {
		e.clock, e.realClock = time.Now, true
	}
	e.endpoint = newEndpoint(cfg, &e.provider, e.now)
	if p.Revoke != nil {
		e.clientID, e.clientSecret, e.revokeHTTP = cfg.ClientID, store.Secret(cfg.ClientSecret), revokeClient(cfg)
	}
	return e
}

func (e *engine) now() time.Time { return e.clock() }

// stillBefore reports whether the clock has not reached t. On the real
// clock, with t derived from a time.Now reading, it reads only the
// monotonic clock: half the cost of time.Now on the per-request path, and
// immune to steps of the wall clock.
func (e *engine) stillBefore(t time.Time) bool {
	if e.realClock {
		return time.Until(t) > 0
	}
	return e.now().Before(t)
}

// connected reports whether the owner has an active connection, asking the
// store for at most d; a store that cannot answer in time says no.
func (e *engine) connected(ctx context.Context, owner string, d time.Duration) bool {
	ctx, cancel := within(ctx, d)
	defer cancel()
	conn, err := e.store.Load(ctx, e.provider.Name, owner)
	return err == nil && conn.Status == store.StatusActive
}

// emit hands ev to Hooks.OnEvent, stamped with the clock and, unless the
// caller set it, the Duration since ctx's operation started (opStart).
func (e *engine) emit(ctx context.Context, ev Event) {
	noteEvent(ctx, ev.Kind) // a Keeper's count of its own refreshes
	if e.onEvent == nil {
		return
	}
	ev.Time = e.now()
	if start, ok := ctx.Value(opStartKey{}).(time.Time); ok && ev.Duration == 0 {
		ev.Duration = max(ev.Time.Sub(start), 0)
	}
	e.onEvent(ctx, ev)
}

// within bounds ctx by d, reusing ctx when its own deadline already comes
// first (a context.WithTimeout costs a timer and several allocations).
func within(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

func connKey(provider, owner string) string { return provider + "\x00" + owner }

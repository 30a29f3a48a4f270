package oauthlink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// ctxKey is the request-context key of one provider's loaded connection.
// Keys are interned per provider name so the package-level accessors find
// what any Connector for that provider stored.
type ctxKey struct{ provider string }

var ctxKeys sync.Map // provider name → *ctxKey

func keyFor(provider string) *ctxKey {
	if k, ok := ctxKeys.Load(provider); ok {
		return k.(*ctxKey)
	}
	k, _ := ctxKeys.LoadOrStore(provider, &ctxKey{provider})
	return k.(*ctxKey)
}

// loaded is what the middleware puts in the context: the connection or the
// reason there is none. Cached entries are shared read-only.
type loaded struct {
	conn  *Connection
	err   error
	until time.Time
}

// tokenCache keeps fresh connections per owner for Config.CacheTTL, so the
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

// Load is middleware that loads the current owner's connection for this
// provider, refreshing its token when due, and puts it in the request
// context for ConnectionFromContext and TokenFromContext. It never rejects
// a request: a missing owner, a missing connection or a failed refresh
// travel in the context as the error. Use Require to enforce.
func (c *Connector) LoadConnection(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), c.ctxKey, c.load(r))))
	})
}

var noOwner = &loaded{err: ErrNoOwner}

func (c *Connector) load(r *http.Request) *loaded {
	if v, ok := r.Context().Value(c.ctxKey).(*loaded); ok {
		return v
	}
	owner, err := c.owner(r)
	if err != nil {
		if errors.Is(err, ErrInvalidOwner) {
			return &loaded{err: err}
		}
		return noOwner
	}
	return c.e.cached(r.Context(), owner)
}

// Require is middleware that lets a request through only when the owner
// has a usable connection for this provider (loading it like Load when an
// outer Load did not). Otherwise an HTML request (Accept: text/html) is
// redirected with 303 to startURL, with the current path as return_to, and
// any other request gets 401 with a small JSON body:
//
//	{"error":"not_connected","provider":"mollie","reason":"reauth_required"}
//
// A store or provider failure answers 503 instead, since reconnecting would
// not help.
func (c *Connector) RequireConnection(startURL string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v := c.load(r)
			if v.err == nil {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), c.ctxKey, v)))
				return
			}
			reason, status := "not_connected", http.StatusUnauthorized
			switch {
			case errors.Is(v.err, ErrReauthRequired):
				reason = "reauth_required"
			case errors.Is(v.err, ErrDisconnected):
				reason = "disconnected"
			case errors.Is(v.err, ErrNoOwner):
				reason = "not_authenticated"
			case errors.Is(v.err, store.ErrNotFound):
			default:
				reason, status = "unavailable", http.StatusServiceUnavailable
			}
			if status == http.StatusUnauthorized && reason != "not_authenticated" && wantsHTML(r) {
				target := startURL
				if validReturnTo(r.URL.RequestURI()) {
					sep := "?"
					if strings.Contains(target, "?") {
						sep = "&"
					}
					target += sep + c.cfg.Flow.ReturnToParam + "=" + url.QueryEscape(r.URL.RequestURI())
				}
				w.Header().Set("Location", target)
				w.WriteHeader(http.StatusSeeOther)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "not_connected", "provider": c.provider.Name, "reason": reason})
		})
	}
}

func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// ConnectionFromContext returns the connection that Load or Require put in
// ctx for provider, or the reason there is none. Treat the connection as
// read-only: it may be shared with concurrent requests. Errors: those of
// Fresh, ErrNoOwner, and ErrConfig when no Load or Require middleware ran
// for provider.
func ConnectionFromContext(ctx context.Context, provider string) (*Connection, error) {
	v, ok := ctx.Value(keyFor(provider)).(*loaded)
	if !ok {
		return nil, fmt.Errorf("%w: no connection loaded for %s (is the Load middleware mounted?)", ErrConfig, provider)
	}
	return v.conn, v.err
}

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

// LoadConnection is middleware that loads the current owner's connection for this
// provider, refreshing its token when due, and puts it in the request
// context for ConnectionFromContext. It never rejects
// a request: a missing owner, a missing connection or a failed refresh
// travel in the context as the error. Use RequireConnection to enforce.
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

// RequireConnection is middleware that lets a request through only when the owner
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

// ConnectionFromContext returns the connection that LoadConnection or RequireConnection put in
// ctx for provider, or the reason there is none. Treat the connection as
// read-only: it may be shared with concurrent requests. Errors: those of
// Connector.Connection, ErrNoOwner, and ErrConfig when no LoadConnection or RequireConnection middleware ran
// for provider.
func ConnectionFromContext(ctx context.Context, provider string) (*Connection, error) {
	v, ok := ctx.Value(keyFor(provider)).(*loaded)
	if !ok {
		return nil, fmt.Errorf("%w: no connection loaded for %s (is the Load middleware mounted?)", ErrConfig, provider)
	}
	return v.conn, v.err
}

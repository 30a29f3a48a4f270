package oauthlink

import (
	"context"
	"fmt"
	"net/http"
)

// ContextClient returns an *http.Client that calls the provider's API as
// the owner each request's context names, for an SDK client built once at
// start-up and shared by every request (stripe-go and most generated
// clients take an *http.Client): pass the incoming request's context to
// the SDK call, and the call goes out with that owner's fresh token.
//
// owner names the owner from the context of the outgoing request; return
// an error (or "") when it names none. When owner is nil the owner is the
// one whose connection LoadConnection or RequireConnection put in the
// context for this provider, so a handler behind that middleware needs
// nothing else; outside it (a background job) pass a function that reads
// your own context key. A request whose context names no owner fails with
// an error wrapping ErrNoOwner, and one whose middleware found no usable
// connection fails with the middleware's error (store.ErrNotFound,
// ErrReauthRequired, ...), before anything is sent.
//
// The transport sets the Authorization header, replacing one the SDK set:
// give an SDK that insists on an API key a placeholder. Everything else
// is Client's, per request: the token goes only to the
// origin of Provider.APIURL (the same scheme, host and port; no
// cross-origin redirect is followed), a 401 re-reads the connection and
// forces at most one refresh, and errors arrive in a *url.Error (test
// with errors.Is).
func (c *Connector) ContextClient(owner func(ctx context.Context) (string, error)) *http.Client {
	ownerOf := c.middlewareOwner
	if owner != nil {
		ownerOf = func(ctx context.Context) (string, error) {
			o, err := owner(ctx)
			switch {
			case err != nil:
				return "", fmt.Errorf("%w: %w", ErrNoOwner, err)
			case o == "":
				return "", fmt.Errorf("%w: the request's context names no owner for %s", ErrNoOwner, c.provider.Name)
			}
			return o, checkOwner(o)
		}
	}
	return c.apiClient(&bearerTransport{c: c, ownerOf: ownerOf})
}

// middlewareOwner is the owner of the connection LoadConnection or
// RequireConnection put in ctx, or the reason there is none (returned
// as is, so that ErrReauthRequired stays itself).
func (c *Connector) middlewareOwner(ctx context.Context) (string, error) {
	v, ok := ctx.Value(c.ctxKey).(*loaded)
	if !ok {
		return "", fmt.Errorf("%w: no %s connection in the context: mount LoadConnection or RequireConnection, or pass ContextClient an owner function", ErrNoOwner, c.provider.Name)
	}
	if v.err != nil {
		return "", v.err
	}
	return v.conn.Owner, nil
}

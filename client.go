package oauthlink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/oauthlink/oauthlink/store"
)

// errNotAPIOrigin is returned (through *url.Error: test with errors.Is) by
// a request through Connector.Client whose URL is not on the origin of
// Provider.APIURL, or when the provider has no APIURL. The request was not
// sent and carried no token.
var errNotAPIOrigin = fmt.Errorf("%w: not the provider's API origin", ErrBadRequest)

// Client returns an *http.Client that calls the provider's API as owner: it
// injects a fresh bearer token (refreshing with write-back as needed) and
// the provider's extra headers. On a 401 it re-reads the connection: when a
// peer already replaced the token (a refresh at Hydra revokes the access
// token it replaced) it retries once with the stored one; when the stored
// token is the one the provider rejected, it forces one refresh (under the
// same lock and singleflight as every refresh, at most once a minute per
// connection and process) and retries once with the new token. When that
// refresh is refused, or the connection has no refresh token, the
// connection is marked store.StatusReauthRequired and the request fails with an
// error wrapping ErrReauthRequired (through *url.Error: test with
// errors.Is). A request whose body cannot be replayed is not retried, but
// the connection is still repaired for the next request.
//
// The token goes only to the origin of Provider.APIURL: the same scheme,
// host and port (a missing port is the scheme's default). A request to any
// other origin, plain http to an https API included, fails with an error
// wrapping ErrBadRequest before a token is read, and a redirect to another origin
// is not followed (the 3xx is returned), so the token reaches no third
// party (golang.org/x/oauth2 issue 500) and never travels in clear: New
// accepts an http APIURL only with AllowInsecureHTTP. Client has no error
// to return, so without a Provider.APIURL it returns a client whose every
// request fails with an error wrapping both ErrConfig and ErrBadRequest.
//
// Errors arrive in a *url.Error (test with errors.Is and errors.As): those
// of Connection (also when a 401 finds the connection gone or refused), and
// ErrBadRequest for a request to another origin. A failure of the API request itself (the network, a redirect
// loop) is net/http's own.
func (c *Connector) Client(owner string) *http.Client {
	return c.apiClient(&bearerTransport{c: c, owner: owner})
}

// apiClient wraps t in the *http.Client that Client and ContextClient
// return: over the configured transport, following redirects only on the
// API's origin.
func (c *Connector) apiClient(t *bearerTransport) *http.Client {
	t.base = http.DefaultTransport
	if c.cfg.HTTPClient != nil && c.cfg.HTTPClient.Transport != nil {
		t.base = c.cfg.HTTPClient.Transport
	}
	return &http.Client{
		Transport: t,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if !c.api.has(req.URL) {
				return http.ErrUseLastResponse
			}
			if len(via) >= 5 {
				return errors.New("oauthlink: too many redirects")
			}
			return nil
		},
	}
}

// origin is a URL's scheme, host and port, lower-cased, the port filled in
// from the scheme when absent (RFC 6454).
type origin struct{ scheme, host, port string }

// apiOrigin returns the origin of p.APIURL, which New has
// checked when set, or the error every Client request fails with.
func apiOrigin(p *Provider) (origin, error) {
	if p.APIURL == "" {
		return origin{}, fmt.Errorf("%w: %w: provider %s has no APIURL, so Client sends its token nowhere", ErrConfig, errNotAPIOrigin, p.Name)
	}
	u, err := url.Parse(p.APIURL)
	if err != nil || u.Host == "" {
		return origin{}, fmt.Errorf("%w: %w: provider %s APIURL is not an absolute URL", ErrConfig, errNotAPIOrigin, p.Name)
	}
	o := origin{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Hostname()), port: u.Port()}
	if o.port == "" {
		o.port = defaultPort(o.scheme)
	}
	return o, nil
}

func defaultPort(scheme string) string {
	switch strings.ToLower(scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// has reports whether u is on origin o. It does not allocate.
func (o origin) has(u *url.URL) bool {
	port := u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	return o.host != "" && port == o.port &&
		strings.EqualFold(u.Scheme, o.scheme) && strings.EqualFold(u.Hostname(), o.host)
}

func (o origin) String() string {
	return o.scheme + "://" + net.JoinHostPort(o.host, o.port)
}

type bearerTransport struct {
	c     *Connector
	owner string
	// ownerOf, when set, names the owner of each request from its context
	// instead (ContextClient).
	ownerOf func(context.Context) (string, error)
	base    http.RoundTripper
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			req.Body.Close()
		}
	}
	if t.c.apiErr != nil {
		closeBody()
		return nil, t.c.apiErr
	}
	if !t.c.api.has(req.URL) {
		closeBody()
		return nil, fmt.Errorf("%w: refusing to send the %s token to %s://%s (the API is %s)",
			errNotAPIOrigin, t.c.provider.Name, req.URL.Scheme, req.URL.Host, t.c.api)
	}
	owner := t.owner
	if t.ownerOf != nil {
		var err error
		if owner, err = t.ownerOf(req.Context()); err != nil {
			closeBody()
			return nil, err
		}
	}
	v := t.c.e.cached(req.Context(), owner)
	if v.err != nil {
		closeBody()
		return nil, v.err
	}
	resp, err := t.base.RoundTrip(t.authorized(req, v.conn))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	t.c.e.forget(owner)
	cur, ferr := t.c.e.unauthorized(req.Context(), owner, v.conn)
	if ferr != nil {
		if errors.Is(ferr, ErrReauthRequired) || errors.Is(ferr, ErrDisconnected) || errors.Is(ferr, store.ErrNotFound) {
			drain(resp)
			return nil, ferr
		}
		return resp, nil // a temporary failure: the caller sees the 401
	}
	if cur == nil || cur.AccessToken == v.conn.AccessToken {
		return resp, nil
	}
	if req.Body != nil && req.GetBody == nil {
		return resp, nil
	}
	retry := t.authorized(req, cur)
	if req.GetBody != nil {
		body, berr := req.GetBody()
		if berr != nil {
			return resp, nil
		}
		retry.Body = body
	}
	drain(resp)
	return t.base.RoundTrip(retry)
}

// drain reads a little of a response body that is dropped, so the
// connection can be reused, and closes it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// authorized clones req (a RoundTripper must not modify its request) with
// the bearer token and the provider's headers.
func (t *bearerTransport) authorized(req *http.Request, conn *Connection) *http.Request {
	r := req.Clone(req.Context())
	for k, vs := range t.c.provider.Header {
		r.Header[k] = vs
	}
	r.Header.Set("Authorization", "Bearer "+conn.AccessToken.Reveal())
	return r
}

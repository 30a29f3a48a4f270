package oauthlink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Client returns an *http.Client that calls the provider's API as owner: it
// injects a fresh bearer token (refreshing with write-back as needed) and
// the provider's extra headers. On a 401 it re-reads the connection: when a
// peer already replaced the token (a refresh at Hydra revokes the access
// token it replaced) it retries once with the stored one; when the stored
// token is the one the provider rejected, it forces one refresh (under the
// same lock and singleflight as every refresh, at most once a minute per
// connection and process) and retries once with the new token. When that
// refresh is refused, or the connection has no refresh token, the
// connection is marked StatusReauthRequired and the request fails with an
// error wrapping ErrReauthRequired (through *url.Error: test with
// errors.Is). A request whose body cannot be replayed is not retried, but
// the connection is still repaired for the next request. It sends the
// token only to the host of Provider.APIURL (when set) and never follows a
// redirect to another host, so the token cannot leak to a third party
// (golang.org/x/oauth2 issue 500).
//
// Errors arrive in a *url.Error (test with errors.Is and errors.As): those
// of Fresh (also when a 401 finds the connection gone or refused), and
// ErrBadRequest for a request to a host other than Provider.APIURL's. A
// failure of the API request itself (the network, a redirect loop) is
// net/http's own.
func (c *Connector) Client(owner string) *http.Client {
	base := http.DefaultTransport
	if c.cfg.HTTPClient != nil && c.cfg.HTTPClient.Transport != nil {
		base = c.cfg.HTTPClient.Transport
	}
	var apiHost string
	if u, err := url.Parse(c.provider.APIURL); err == nil {
		apiHost = u.Host
	}
	return &http.Client{
		Transport: &bearerTransport{c: c, owner: owner, base: base, host: apiHost},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
				return http.ErrUseLastResponse
			}
			if len(via) >= 5 {
				return errors.New("oauthlink: too many redirects")
			}
			return nil
		},
	}
}

type bearerTransport struct {
	c     *Connector
	owner string
	base  http.RoundTripper
	host  string
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			req.Body.Close()
		}
	}
	if t.host != "" && req.URL.Host != t.host {
		closeBody()
		return nil, fmt.Errorf("%w: refusing to send the %s token to %s", ErrBadRequest, t.c.provider.Name, req.URL.Host)
	}
	v := t.c.cached(req.Context(), t.owner)
	if v.err != nil {
		closeBody()
		return nil, v.err
	}
	resp, err := t.base.RoundTrip(t.authorized(req, v.conn))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	t.c.forget(t.owner)
	cur, ferr := t.c.unauthorized(req.Context(), t.owner, v.conn)
	if ferr != nil {
		if errors.Is(ferr, ErrReauthRequired) || errors.Is(ferr, ErrDisconnected) || errors.Is(ferr, ErrNotFound) {
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

// unauthorizedEvery is how often one process forces a refresh of one
// connection because the provider's API answered 401: a provider that
// answers 401 to a good token (a wrong API path) must not turn every
// request into a refresh (Qonto throttles clients after 200 401s an hour).
const unauthorizedEvery = time.Minute

// unauthorized handles a 401 from the provider's API to used: it returns
// the stored connection when a peer already replaced the token, or forces
// one refresh of the stored token. It returns nil, nil when the refresh is
// throttled.
func (c *Connector) unauthorized(ctx context.Context, owner string, used *Connection) (*Connection, error) {
	cur, err := c.loadConn(ctx, owner)
	if err != nil {
		return nil, err
	}
	if err := statusErr(cur); err != nil {
		return nil, err
	}
	if cur.AccessToken != used.AccessToken {
		return cur, nil
	}
	now := c.now()
	if last, ok := c.unauthorizedAt.Load(owner); ok && now.Sub(last.(time.Time)) < unauthorizedEvery && now.Sub(last.(time.Time)) >= 0 {
		return nil, nil
	}
	c.unauthorizedAt.Store(owner, now)
	return c.refresh(ctx, owner, cur.Version, refreshUnauthorized)
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

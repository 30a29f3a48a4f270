package oauthlink

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Client returns an *http.Client that calls the provider's API as owner: it
// injects a fresh bearer token (refreshing with write-back as needed) and
// the provider's extra headers. On a 401 it re-reads the connection (a
// peer's refresh on Hydra revokes the access token it replaced) and retries
// once with a different token; a request whose body cannot be replayed is
// not retried. It sends the token only to the host of Provider.APIURL (when
// set) and never follows a redirect to another host, so the token cannot
// leak to a third party (security.md M40; golang.org/x/oauth2 #500).
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
		return nil, fmt.Errorf("oauthlink: refusing to send the %s token to %s", t.c.provider.Name, req.URL.Host)
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
	if req.Body != nil && req.GetBody == nil {
		return resp, nil
	}
	t.c.forget(t.owner)
	cur, ferr := t.c.Fresh(req.Context(), t.owner)
	if ferr != nil || cur.AccessToken == v.conn.AccessToken {
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
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return t.base.RoundTrip(retry)
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

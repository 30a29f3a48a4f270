package apiclient

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/oauthlink/oauthlink/store"
)

// TokenClient returns an *http.Client that sends every request for base's
// origin (scheme, host and port) with "Authorization: Bearer token" and
// the values of header, and refuses a request for any other origin with
// ErrOtherOrigin before sending it, so a static token (a partner's
// organization token, or a connection's token before the connection is
// stored) goes nowhere else, as a Connector's Client does with its tokens.
// base must come from Base. next's Transport carries the requests (nil:
// http.DefaultTransport) and its Timeout applies; its Jar and CheckRedirect
// are not used: redirects are never followed.
//
// An empty token, or one that cannot travel in a header, is an error that
// never contains the value.
func TokenClient(base string, token store.Secret, header http.Header, next *http.Client) (*http.Client, error) {
	v := token.Reveal()
	if v == "" {
		return nil, fmt.Errorf("the token is required")
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= 0x20 || v[i] >= 0x7f {
			return nil, fmt.Errorf("the token contains whitespace, control or non-ASCII bytes")
		}
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("unusable API URL")
	}
	t := &tokenTransport{token: token, header: header, base: http.DefaultTransport,
		scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Hostname()), port: portOf(u)}
	hc := &http.Client{Transport: t, CheckRedirect: noRedirects}
	if next != nil {
		hc.Timeout = next.Timeout
		if next.Transport != nil {
			t.base = next.Transport
		}
	}
	return hc, nil
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	return DefaultPort(u.Scheme)
}

type tokenTransport struct {
	token              store.Secret
	header             http.Header
	base               http.RoundTripper
	scheme, host, port string
}

func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	u := req.URL
	if !strings.EqualFold(u.Scheme, t.scheme) || !strings.EqualFold(u.Hostname(), t.host) || portOf(u) != t.port {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%w: %s://%s is not %s://%s", ErrOtherOrigin, u.Scheme, u.Host, t.scheme, t.host)
	}
	r := req.Clone(req.Context()) // a RoundTripper must not modify its request
	for k, vs := range t.header {
		r.Header[k] = vs
	}
	r.Header.Set("Authorization", "Bearer "+t.token.Reveal())
	return t.base.RoundTrip(r)
}

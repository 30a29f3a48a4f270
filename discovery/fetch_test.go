package discovery_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/discovery"
)

func opts(a *as) discovery.Options {
	return discovery.Options{HTTPClient: a.srv.Client()}
}

// The RFC 8414 location comes first, with the well-known path inserted
// before the issuer's path (§3.1); a trailing slash is dropped there but
// stays part of the issuer the document must name.
func TestFetchRFC8414Location(t *testing.T) {
	for _, path := range []string{"", "/tenant/one", "/tenant/"} {
		t.Run("path "+path, func(t *testing.T) {
			a := newAS(t)
			a.set(func(a *as) {
				a.path = strings.TrimSuffix(path, "/")
				a.doc = a.standard()
				a.doc["issuer"] = a.srv.URL + path
			})
			m, err := discovery.Fetch(t.Context(), a.srv.URL+path, opts(a))
			require.NoError(t, err)
			assert.Equal(t, a.srv.URL+path, m.Issuer)
			assert.Equal(t, a.srv.URL+"/token", m.TokenEndpoint)
			assert.Equal(t, 1, a.total(), "one request, at the RFC 8414 location")
		})
	}
}

// A 404 (or another client error) at the RFC 8414 location falls back to
// the OpenID location, appended to the issuer.
func TestFetchFallsBackToOpenIDLocation(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusForbidden, http.StatusMethodNotAllowed} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			a := newAS(t)
			a.set(func(a *as) {
				a.path = "/realms/x"
				doc := a.standard()
				a.handler = func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != "/realms/x/.well-known/openid-configuration" {
						w.WriteHeader(status)
						return
					}
					json.NewEncoder(w).Encode(doc)
				}
			})
			m, err := discovery.Fetch(t.Context(), a.issuer(), opts(a))
			require.NoError(t, err)
			assert.Equal(t, a.issuer(), m.Issuer)
			assert.Equal(t, 1, a.count("/.well-known/oauth-authorization-server/realms/x"))
			assert.Equal(t, 1, a.count("/realms/x/.well-known/openid-configuration"))
		})
	}
}

// A 200 at the RFC 8414 location that is not this issuer's metadata (a
// web application's catch-all page, another issuer's document) is never
// used, and the OpenID location is tried.
func TestFetchFallsBackPastAnInvalidDocument(t *testing.T) {
	for name, first := range map[string]func(u string) string{
		"catch-all page": func(string) string { return "<!doctype html><title>app</title>" },
		"another issuer": func(string) string {
			return `{"issuer":"https://other.example","authorization_endpoint":"https://other.example/a","token_endpoint":"https://other.example/t"}`
		},
	} {
		t.Run(name, func(t *testing.T) {
			a := newAS(t)
			a.set(func(a *as) {
				doc, u := a.standard(), a.srv.URL
				a.handler = func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/.well-known/openid-configuration" {
						json.NewEncoder(w).Encode(doc)
						return
					}
					w.Write([]byte(first(u)))
				}
			})
			m, err := discovery.Fetch(t.Context(), a.issuer(), opts(a))
			require.NoError(t, err)
			assert.Equal(t, a.issuer(), m.Issuer)
			assert.Equal(t, 2, a.total())
		})
	}
}

// A server error, a 429 or a 408 is not "no document here": the lookup
// ends without trying the next location.
func TestFetchDoesNotFallBackOnServerErrors(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusRequestTimeout} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			a := newAS(t)
			a.set(func(a *as) { a.handler = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) } })
			_, err := discovery.Fetch(t.Context(), a.issuer(), opts(a))
			assert.ErrorIs(t, err, discovery.ErrFetch)
			assert.Equal(t, 1, a.total())
		})
	}
	a := newAS(t)
	a.set(func(a *as) { a.handler = http.NotFound })
	_, err := discovery.Fetch(t.Context(), a.issuer(), opts(a))
	assert.ErrorIs(t, err, discovery.ErrFetch)
	assert.ErrorContains(t, err, "404")
	assert.Equal(t, 2, a.total(), "both locations tried")
}

// RFC 8414 §3.3: the document must name exactly the issuer asked for.
func TestFetchRequiresTheSameIssuer(t *testing.T) {
	for name, issuer := range map[string]func(u string) string{
		"another host":       func(string) string { return "https://evil.example" },
		"trailing slash":     func(u string) string { return u + "/" },
		"case of the scheme": func(u string) string { return "HTTPS" + strings.TrimPrefix(u, "https") },
		"missing":            func(string) string { return "" },
	} {
		t.Run(name, func(t *testing.T) {
			a := newAS(t)
			a.set(func(a *as) { a.doc["issuer"] = issuer(a.srv.URL) })
			_, err := discovery.Fetch(t.Context(), a.issuer(), opts(a))
			assert.ErrorIs(t, err, discovery.ErrInvalid)
			assert.ErrorContains(t, err, "RFC 8414 §3.3")
		})
	}
}

func TestFetchRefusesInvalidDocuments(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(doc map[string]any, u string)
		body string // raw body instead of doc
		want error
	}{
		{name: "not JSON", body: "<html>hello</html>", want: discovery.ErrInvalid},
		{name: "an array", body: "[]", want: discovery.ErrInvalid},
		{name: "two objects", body: `{"issuer":"x"} {}`, want: discovery.ErrInvalid},
		{name: "truncated", body: `{"issuer":`, want: discovery.ErrInvalid},
		{name: "wrong type", edit: func(d map[string]any, _ string) { d["token_endpoint_auth_methods_supported"] = "client_secret_basic" }, want: discovery.ErrInvalid},
		{name: "no authorization endpoint", edit: func(d map[string]any, _ string) { delete(d, "authorization_endpoint") }, want: discovery.ErrInvalid},
		{name: "no token endpoint", edit: func(d map[string]any, _ string) { delete(d, "token_endpoint") }, want: discovery.ErrInvalid},
		{name: "relative token endpoint", edit: func(d map[string]any, _ string) { d["token_endpoint"] = "/token" }, want: discovery.ErrInvalid},
		{name: "http token endpoint", edit: func(d map[string]any, u string) {
			d["token_endpoint"] = "http://" + strings.TrimPrefix(u, "https://") + "/token"
		}, want: discovery.ErrInvalid},
		{name: "http revocation endpoint", edit: func(d map[string]any, _ string) { d["revocation_endpoint"] = "http://as.example/revoke" }, want: discovery.ErrInvalid},
		{name: "fragment", edit: func(d map[string]any, u string) { d["authorization_endpoint"] = u + "/authorize#x" }, want: discovery.ErrInvalid},
		{name: "userinfo", edit: func(d map[string]any, _ string) { d["token_endpoint"] = "https://user:pw@as.example/token" }, want: discovery.ErrInvalid},
		{name: "ftp", edit: func(d map[string]any, _ string) { d["token_endpoint"] = "ftp://as.example/token" }, want: discovery.ErrInvalid},
		{name: "no code response type", edit: func(d map[string]any, _ string) { d["response_types_supported"] = []string{"token"} }, want: discovery.ErrUnsupported},
		{name: "no code grant", edit: func(d map[string]any, _ string) { d["grant_types_supported"] = []string{"client_credentials"} }, want: discovery.ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAS(t)
			if tc.body != "" {
				a.set(func(a *as) {
					a.handler = func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(tc.body)) }
				})
			} else {
				a.set(func(a *as) { tc.edit(a.doc, a.srv.URL) })
			}
			_, err := discovery.Fetch(t.Context(), a.issuer(), opts(a))
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

// Absent optional lists keep their RFC 8414 defaults, and members oauthlink
// does not use are ignored.
func TestFetchAcceptsAMinimalDocument(t *testing.T) {
	a := newAS(t)
	a.set(func(a *as) {
		a.doc = map[string]any{"issuer": a.srv.URL, "authorization_endpoint": a.srv.URL + "/a",
			"token_endpoint": a.srv.URL + "/t", "jwks_uri": a.srv.URL + "/jwks", "x-vendor": map[string]any{"n": 1}}
	})
	p, err := discovery.Provider(t.Context(), "acme", a.issuer(), opts(a))
	require.NoError(t, err)
	assert.Equal(t, oauthlink.AuthStyleBasic, p.AuthStyle)
	assert.False(t, p.PKCE)
	assert.Empty(t, p.RevokeURL)
}

// https only: an http issuer is a configuration error without
// AllowInsecureHTTP, refused before any request.
func TestFetchHTTPSOnly(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := "http://" + r.Host
		json.NewEncoder(w).Encode(map[string]any{"issuer": u, "authorization_endpoint": u + "/a", "token_endpoint": u + "/t"})
	}))
	t.Cleanup(plain.Close)
	_, err := discovery.Fetch(t.Context(), plain.URL, discovery.Options{})
	assert.ErrorIs(t, err, oauthlink.ErrConfig)
	assert.ErrorContains(t, err, "AllowInsecureHTTP")

	m, err := discovery.Fetch(t.Context(), plain.URL, discovery.Options{AllowInsecureHTTP: true})
	require.NoError(t, err)
	assert.Equal(t, plain.URL+"/t", m.TokenEndpoint)

	for _, bad := range []string{"", "as.example", "/relative", "https://as.example?tenant=1", "https://as.example/#frag", "https://u:p@as.example", "ftp://as.example"} {
		_, err := discovery.Fetch(t.Context(), bad, discovery.Options{})
		assert.ErrorIs(t, err, oauthlink.ErrConfig, bad)
	}
}

// Redirects stay on the issuer's origin: a same-origin move is followed,
// another host or a downgrade to http is not, and loops end.
func TestFetchRedirects(t *testing.T) {
	other := newAS(t)
	for _, tc := range []struct {
		name string
		to   func(a *as) string
		ok   bool
	}{
		{"same origin", func(a *as) string { return "/moved/metadata.json" }, true},
		{"another host", func(a *as) string { return other.srv.URL + "/.well-known/oauth-authorization-server" }, false},
		{"down to http", func(a *as) string { return "http://" + a.srv.Listener.Addr().String() + "/moved/metadata.json" }, false},
		{"loop", func(a *as) string { return "/.well-known/oauth-authorization-server" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAS(t)
			a.set(func(a *as) {
				doc, to := a.standard(), tc.to(a)
				a.handler = func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/moved/metadata.json" {
						json.NewEncoder(w).Encode(doc)
						return
					}
					http.Redirect(w, r, to, http.StatusFound)
				}
			})
			_, err := discovery.Fetch(t.Context(), a.issuer(), discovery.Options{HTTPClient: a.srv.Client(), AllowInsecureHTTP: true})
			if tc.ok {
				require.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, discovery.ErrFetch)
			assert.Zero(t, other.total(), "nothing reached another host")
			assert.LessOrEqual(t, a.total(), 4, "at most 3 redirects followed")
		})
	}
}

// The document is bounded in size and the fetch in time (Options.Timeout
// and HTTPClient.Timeout).
func TestFetchBounds(t *testing.T) {
	a := newAS(t)
	a.set(func(a *as) { a.doc["padding"] = strings.Repeat("x", 4096) })
	_, err := discovery.Fetch(t.Context(), a.issuer(), discovery.Options{HTTPClient: a.srv.Client(), MaxBytes: 2048})
	assert.ErrorIs(t, err, discovery.ErrFetch)
	assert.ErrorContains(t, err, "larger than 2048 bytes")

	hang := newAS(t)
	hang.set(func(a *as) {
		a.handler = func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	})
	_, err = discovery.Fetch(t.Context(), hang.issuer(), discovery.Options{HTTPClient: hang.srv.Client(), Timeout: 50 * time.Millisecond})
	assert.ErrorIs(t, err, discovery.ErrFetch)

	client := hang.srv.Client()
	client.Timeout = 50 * time.Millisecond
	_, err = discovery.Fetch(t.Context(), hang.issuer(), discovery.Options{HTTPClient: client})
	assert.ErrorIs(t, err, discovery.ErrFetch)
}

// The injected client's transport is used, and its cookie jar is not.
func TestFetchUsesTheInjectedTransport(t *testing.T) {
	a := newAS(t)
	var seen int
	client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		seen++
		assert.Empty(t, r.Header.Get("Cookie"))
		assert.Equal(t, "application/json", r.Header.Get("Accept"))
		return a.srv.Client().Transport.RoundTrip(r)
	})}
	_, err := discovery.Fetch(t.Context(), a.issuer(), discovery.Options{HTTPClient: client})
	require.NoError(t, err)
	assert.Equal(t, 1, seen)
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

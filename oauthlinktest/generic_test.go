package oauthlinktest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
)

func newTestGeneric(t *testing.T, opts GenericOptions) *Generic {
	t.Helper()
	if opts.RedirectURIs == nil {
		opts.RedirectURIs = []string{appCallback}
	}
	g := NewGeneric(opts)
	t.Cleanup(g.Close)
	return g
}

// getJSON GETs target with s's client and decodes a JSON object.
func getJSON(t *testing.T, s *server, target string, header http.Header) (int, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var doc map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	return resp.StatusCode, doc
}

func list(v ...string) []any {
	out := make([]any, len(v))
	for i, s := range v {
		out[i] = s
	}
	return out
}

// The document lists exactly what each configuration does, at the
// RFC 8414 location of the issuer (with its path inserted after the
// well-known path).
func TestGenericMetadataDocument(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts GenericOptions
		want func(g *Generic) map[string]any
	}{
		{"defaults", GenericOptions{}, func(g *Generic) map[string]any {
			return map[string]any{
				"issuer":                                     g.URL(),
				"authorization_endpoint":                     g.URL() + "/authorize",
				"token_endpoint":                             g.URL() + "/token",
				"revocation_endpoint":                        g.URL() + "/revoke",
				"scopes_supported":                           list("read", "write"),
				"response_types_supported":                   list("code"),
				"grant_types_supported":                      list("authorization_code", "refresh_token"),
				"token_endpoint_auth_methods_supported":      list("client_secret_basic", "client_secret_post"),
				"revocation_endpoint_auth_methods_supported": list("client_secret_basic", "client_secret_post"),
				"code_challenge_methods_supported":           list("S256"),
			}
		}},
		{"body auth, PKCE required, iss sent, TLS", GenericOptions{AuthMethods: []string{AuthMethodPost}, RequirePKCE: true,
			IssuerParameter: true, TLS: true, Scopes: []string{"profile"}}, func(g *Generic) map[string]any {
			return map[string]any{
				"issuer":                                         g.URL(),
				"authorization_endpoint":                         g.URL() + "/authorize",
				"token_endpoint":                                 g.URL() + "/token",
				"revocation_endpoint":                            g.URL() + "/revoke",
				"scopes_supported":                               list("profile"),
				"response_types_supported":                       list("code"),
				"grant_types_supported":                          list("authorization_code", "refresh_token"),
				"token_endpoint_auth_methods_supported":          list("client_secret_post"),
				"revocation_endpoint_auth_methods_supported":     list("client_secret_post"),
				"code_challenge_methods_supported":               list("S256"),
				"authorization_response_iss_parameter_supported": true,
			}
		}},
		{"Basic auth, issuer path, no revocation", GenericOptions{AuthMethods: []string{AuthMethodBasic}, IssuerPath: "/tenants/t1",
			NoRevocation: true}, func(g *Generic) map[string]any {
			return map[string]any{
				"issuer":                                g.URL() + "/tenants/t1",
				"authorization_endpoint":                g.URL() + "/tenants/t1/authorize",
				"token_endpoint":                        g.URL() + "/tenants/t1/token",
				"scopes_supported":                      list("read", "write"),
				"response_types_supported":              list("code"),
				"grant_types_supported":                 list("authorization_code", "refresh_token"),
				"token_endpoint_auth_methods_supported": list("client_secret_basic"),
				"code_challenge_methods_supported":      list("S256"),
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGeneric(t, tc.opts)
			u, _ := url.Parse(g.Issuer())
			assert.Equal(t, g.URL()+"/.well-known/oauth-authorization-server"+u.Path, g.MetadataURL())
			status, doc := getJSON(t, g.server, g.MetadataURL(), nil)
			require.Equal(t, http.StatusOK, status)
			want := tc.want(g)
			assert.Equal(t, want, doc)
			assert.Equal(t, want["revocation_endpoint"] == nil, g.RevokeURL() == "")
			assert.Equal(t, 1, g.Calls(EndpointMetadata))
			if u.Path != "" {
				status, _ := getJSON(t, g.server, g.URL()+"/.well-known/oauth-authorization-server", nil)
				assert.Equal(t, http.StatusNotFound, status, "only the issuer's own location")
			}
		})
	}
}

// The client authentication the document lists is accepted at the token
// and revocation endpoints, and what it does not list is refused.
func TestGenericAuthMethodsMatchDocument(t *testing.T) {
	for _, methods := range [][]string{{AuthMethodBasic}, {AuthMethodPost}, {AuthMethodBasic, AuthMethodPost}} {
		t.Run(strings.Join(methods, "+"), func(t *testing.T) {
			g := newTestGeneric(t, GenericOptions{AuthMethods: methods})
			_, doc := getJSON(t, g.server, g.MetadataURL(), nil)
			listed := map[string]bool{}
			for _, m := range doc["token_endpoint_auth_methods_supported"].([]any) {
				listed[m.(string)] = true
			}
			assert.Equal(t, doc["token_endpoint_auth_methods_supported"], doc["revocation_endpoint_auth_methods_supported"])
			for _, m := range []string{AuthMethodBasic, AuthMethodPost} {
				rq := func(e Endpoint, form url.Values) request {
					target := g.TokenURL()
					if e == EndpointRevoke {
						target = g.RevokeURL()
					}
					if m == AuthMethodBasic {
						return request{method: http.MethodPost, url: target, form: form, basic: g.basic()}
					}
					return request{method: http.MethodPost, url: target, form: g.withCreds(form)}
				}
				c := code(t, g.server, authParams(g.server, "read"))
				got := send(t, g.server, rq(EndpointToken, exchangeForm(c, appCallback)))
				if !listed[m] {
					assert.Equal(t, http.StatusUnauthorized, got.status, m)
					assert.Equal(t, "invalid_client", got.Error, m)
					got = send(t, g.server, rq(EndpointRevoke, url.Values{"token": {"anything"}}))
					assert.Equal(t, http.StatusUnauthorized, got.status, m)
					continue
				}
				require.Equal(t, http.StatusOK, got.status, "%s: %s", m, got.raw)
				require.NotEmpty(t, got.RefreshToken)
				refreshed := send(t, g.server, rq(EndpointToken, refreshForm(got.RefreshToken)))
				require.Equal(t, http.StatusOK, refreshed.status, "%s: %s", m, refreshed.raw)
				revoked := send(t, g.server, rq(EndpointRevoke, url.Values{"token": {got.RefreshToken}}))
				assert.Equal(t, http.StatusOK, revoked.status, m)
				assert.False(t, g.RefreshTokenValid(got.RefreshToken), m)
				assert.False(t, g.AccessTokenValid(refreshed.AccessToken), m)
			}
		})
	}
}

// With IssuerParameter every authorization response carries the issuer,
// approval and error alike; without it none does.
func TestGenericIssuerParameter(t *testing.T) {
	for _, on := range []bool{false, true} {
		g := newTestGeneric(t, GenericOptions{IssuerParameter: on, IssuerPath: "/t"})
		approved := authorize(t, g.server, authParams(g.server, "read"))
		require.NotEmpty(t, approved.Get("code"))
		g.DenyNext("access_denied", "")
		denied := authorize(t, g.server, authParams(g.server, "read"))
		require.Equal(t, "access_denied", denied.Get("error"))
		bad := authorize(t, g.server, authParams(g.server, "unknown"))
		require.Equal(t, "invalid_scope", bad.Get("error"))
		for _, q := range []url.Values{approved, denied, bad} {
			if on {
				assert.Equal(t, []string{g.Issuer()}, q["iss"])
			} else {
				assert.NotContains(t, q, "iss")
			}
		}
	}
}

// PKCE: the document's S256 is enforced whenever a challenge is sent,
// plain is refused, and RequirePKCE refuses a request without one.
func TestGenericPKCE(t *testing.T) {
	verifier := "v-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGH"
	for _, required := range []bool{false, true} {
		g := newTestGeneric(t, GenericOptions{RequirePKCE: required})
		plain := authParams(g.server, "read")
		q := authorize(t, g.server, plain)
		if required {
			assert.Equal(t, "invalid_request", q.Get("error"))
		} else {
			require.NotEmpty(t, q.Get("code"))
		}
		p := authParams(g.server, "read")
		p.Set("code_challenge", verifier)
		p.Set("code_challenge_method", "plain")
		assert.Equal(t, "invalid_request", authorize(t, g.server, p).Get("error"))

		p.Set("code_challenge", s256(verifier))
		p.Set("code_challenge_method", "S256")
		c := code(t, g.server, p)
		form := exchangeForm(c, appCallback)
		form.Set("code_verifier", verifier+"x")
		got := send(t, g.server, request{method: http.MethodPost, url: g.TokenURL(), form: form, basic: g.basic()})
		assert.Equal(t, "invalid_grant", got.Error)
	}
}

// Refresh tokens are reusable and need no redirect_uri by default; with
// RotateRefreshTokens a used one is retired and presenting it again
// revokes the grant.
func TestGenericRefresh(t *testing.T) {
	g := newTestGeneric(t, GenericOptions{})
	first := send(t, g.server, request{method: http.MethodPost, url: g.TokenURL(),
		form: exchangeForm(code(t, g.server, authParams(g.server, "read")), appCallback), basic: g.basic()})
	require.Equal(t, http.StatusOK, first.status)
	for range 2 {
		r := send(t, g.server, request{method: http.MethodPost, url: g.TokenURL(), form: refreshForm(first.RefreshToken), basic: g.basic()})
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		assert.Equal(t, first.RefreshToken, r.RefreshToken, "not rotated")
	}

	g = newTestGeneric(t, GenericOptions{RotateRefreshTokens: true})
	first = send(t, g.server, request{method: http.MethodPost, url: g.TokenURL(),
		form: exchangeForm(code(t, g.server, authParams(g.server, "read")), appCallback), basic: g.basic()})
	second := send(t, g.server, request{method: http.MethodPost, url: g.TokenURL(), form: refreshForm(first.RefreshToken), basic: g.basic()})
	require.Equal(t, http.StatusOK, second.status)
	require.NotEmpty(t, second.RefreshToken)
	again := send(t, g.server, request{method: http.MethodPost, url: g.TokenURL(), form: refreshForm(first.RefreshToken), basic: g.basic()})
	assert.Equal(t, "invalid_grant", again.Error)
	assert.False(t, g.RefreshTokenValid(second.RefreshToken), "reuse revoked the grant")
	assert.Equal(t, 1, g.ReuseDetections())
}

// Provider says what the document says.
func TestGenericProvider(t *testing.T) {
	g := newTestGeneric(t, GenericOptions{AuthMethods: []string{AuthMethodPost}, IssuerParameter: true, IssuerPath: "/x"})
	p := g.Provider()
	assert.Equal(t, oauthlink.AuthStyleBody, p.AuthStyle)
	assert.Equal(t, g.Issuer(), p.Issuer)
	assert.True(t, p.IssuerRequired)
	assert.True(t, p.PKCE)
	assert.Equal(t, g.URL()+"/x/revoke", p.RevokeURL)
	assert.Equal(t, http.MethodPost, p.RevokeMethod)
	assert.Equal(t, []string{"read", "write"}, p.DefaultScopes)

	g = newTestGeneric(t, GenericOptions{NoRevocation: true})
	p = g.Provider()
	assert.Equal(t, oauthlink.AuthStyleBasic, p.AuthStyle)
	assert.Empty(t, p.RevokeURL)
	assert.Empty(t, p.RevokeMethod)
	assert.False(t, p.IssuerRequired)
}

func TestGenericOptionsPanic(t *testing.T) {
	for _, opts := range []GenericOptions{
		{IssuerPath: "tenant"}, {IssuerPath: "/tenant/"}, {IssuerPath: "/t?x"},
		{AuthMethods: []string{}}, {AuthMethods: []string{"private_key_jwt"}},
	} {
		assert.Panics(t, func() { NewGeneric(opts).Close() }, "%+v", opts)
	}
}

// The Qonto fake serves Hydra's OpenID Connect discovery location, with
// the body authentication it accepts, its RFC 7009 revocation and no iss;
// the RFC 8414 location is absent, as at Hydra. In the sandbox the
// document needs the staging header like every server-side call.
func TestQontoMetadata(t *testing.T) {
	q := newTestQonto(t, QontoOptions{Scopes: []string{"offline_access", "organization.read"}})
	assert.Equal(t, q.URL(), q.Issuer())
	assert.Equal(t, q.URL()+"/.well-known/openid-configuration", q.MetadataURL())
	status, doc := getJSON(t, q.server, q.MetadataURL(), nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{
		"issuer":                                     q.URL(),
		"authorization_endpoint":                     q.URL() + "/oauth2/auth",
		"token_endpoint":                             q.URL() + "/oauth2/token",
		"revocation_endpoint":                        q.URL() + "/oauth2/revoke",
		"scopes_supported":                           list("offline_access", "organization.read"),
		"response_types_supported":                   list("code"),
		"grant_types_supported":                      list("authorization_code", "refresh_token"),
		"token_endpoint_auth_methods_supported":      list("client_secret_post"),
		"revocation_endpoint_auth_methods_supported": list("client_secret_post"),
		"code_challenge_methods_supported":           list("S256"),
	}, doc)
	status, _ = getJSON(t, q.server, q.URL()+"/.well-known/oauth-authorization-server", nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.NotContains(t, authorize(t, q.server, authParams(q.server, "organization.read")), "iss")

	staged := newTestQonto(t, QontoOptions{StagingToken: "stage"})
	status, doc = getJSON(t, staged.server, staged.MetadataURL(), http.Header{StagingHeader: {"stage"}})
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, staged.Issuer(), doc["issuer"])
	resp, err := staged.Client().Get(staged.MetadataURL())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/html", "the sandbox's login page")
}

// The other fakes' providers publish no metadata, so neither do the fakes.
func TestPresetsPublishNoMetadata(t *testing.T) {
	m := newTestMollie(t, MollieOptions{})
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		status, _ := getJSON(t, m.server, m.URL()+path, nil)
		assert.Equal(t, http.StatusNotFound, status, path)
	}
}

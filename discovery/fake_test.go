package discovery_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/discovery"
	"github.com/oauthlink/oauthlink/oauthlinktest"
)

// fakeApp is an app whose Connector is built from p and talks to fake,
// with its handlers mounted on mux; failed holds the last handler error.
type fakeApp struct {
	link   *oauthlink.Connector
	failed atomic.Pointer[error]
}

func newFakeApp(t *testing.T, fake interface {
	ClientID() string
	ClientSecret() string
	Client() *http.Client
}, p oauthlink.Provider, callback string, mux *http.ServeMux, scopes ...string) *fakeApp {
	t.Helper()
	a := &fakeApp{}
	cfg := testConfig(p, fake.Client())
	cfg.ClientID, cfg.ClientSecret = fake.ClientID(), fake.ClientSecret()
	cfg.RedirectURL = callback
	cfg.Scopes = scopes
	cfg.Hooks.OnError = func(w http.ResponseWriter, r *http.Request, err error) {
		a.failed.Store(&err)
		oauthlink.DefaultErrorHandler(w, r, err)
	}
	link, err := oauthlink.New(cfg)
	require.NoError(t, err)
	a.link = link
	mux.Handle("/start", link.StartHandler())
	mux.Handle("/callback", link.CallbackHandler())
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("home")) })
	return a
}

// A Provider discovered from oauthlinktest's Generic fake runs the whole
// lifecycle against it, in every configuration the metadata can express:
// the client authentication it pins is the only one the fake accepts,
// PKCE, the issuer (required when the fake sends iss), and revocation
// when the fake has it.
func TestDiscoveryAgainstGenericFake(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts oauthlinktest.GenericOptions
		auth oauthlinktest.ClientAuth
	}{
		{"defaults", oauthlinktest.GenericOptions{}, oauthlinktest.ClientAuthBasic},
		{"body auth, PKCE required, iss sent", oauthlinktest.GenericOptions{
			AuthMethods: []string{oauthlinktest.AuthMethodPost}, RequirePKCE: true, IssuerParameter: true}, oauthlinktest.ClientAuthBody},
		{"Basic only, issuer path, rotation, no revocation", oauthlinktest.GenericOptions{
			AuthMethods: []string{oauthlinktest.AuthMethodBasic}, IssuerPath: "/realms/acme", RotateRefreshTokens: true,
			NoRevocation: true}, oauthlinktest.ClientAuthBasic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			srv := httptest.NewTLSServer(mux)
			t.Cleanup(srv.Close)
			tc.opts.TLS = true
			tc.opts.RedirectURIs = []string{srv.URL + "/callback"}
			fake := oauthlinktest.NewGeneric(tc.opts)
			t.Cleanup(fake.Close)

			m, err := discovery.Fetch(t.Context(), fake.Issuer(), discovery.Options{HTTPClient: fake.Client()})
			require.NoError(t, err)
			assert.Equal(t, fake.Issuer(), m.Issuer)
			assert.Equal(t, fake.RevokeURL(), m.RevocationEndpoint)
			assert.Equal(t, tc.opts.IssuerParameter, m.AuthorizationResponseIssParameterSupported)

			p, err := discovery.Provider(t.Context(), "acme", fake.Issuer(), discovery.Options{HTTPClient: fake.Client()})
			require.NoError(t, err)
			assert.Equal(t, 2, fake.Calls(oauthlinktest.EndpointMetadata), "found at the RFC 8414 location at once")
			want := fake.Provider()
			for _, f := range []struct {
				name      string
				got, want any
			}{
				{"AuthURL", p.AuthURL, want.AuthURL}, {"TokenURL", p.TokenURL, want.TokenURL},
				{"RevokeURL", p.RevokeURL, want.RevokeURL}, {"RevokeMethod", p.RevokeMethod, want.RevokeMethod},
				{"AuthStyle", p.AuthStyle, want.AuthStyle}, {"PKCE", p.PKCE, want.PKCE},
				{"Issuer", p.Issuer, want.Issuer}, {"IssuerRequired", p.IssuerRequired, want.IssuerRequired},
			} {
				assert.Equal(t, f.want, f.got, f.name)
			}
			p.RotatesRefreshTokens = tc.opts.RotateRefreshTokens // what metadata cannot say

			app := newFakeApp(t, fake, p, srv.URL+"/callback", mux, "read")
			status := browse(t, srv.Client(), srv.URL+"/start")
			if e := app.failed.Load(); e != nil {
				t.Fatalf("a handler failed: %v", *e)
			}
			require.Equal(t, http.StatusOK, status)
			last := fake.LastAuthorize()
			assert.Equal(t, "S256", last.CodeChallengeMethod)
			assert.Equal(t, 1, fake.Exchanges())
			conn, err := app.link.Connection(t.Context(), "shop-1")
			require.NoError(t, err)
			assert.True(t, fake.AccessTokenValid(conn.AccessToken.Reveal()))

			refreshed, err := app.link.ForceRefresh(t.Context(), "shop-1")
			require.NoError(t, err)
			assert.NotEqual(t, conn.AccessToken, refreshed.AccessToken)
			assert.Equal(t, 1, fake.Refreshes())
			assert.Equal(t, 0, fake.ReuseDetections())

			require.NoError(t, app.link.Disconnect(t.Context(), "shop-1"))
			if fake.RevokeURL() != "" {
				assert.Equal(t, 1, fake.Revocations())
				assert.False(t, fake.RefreshTokenValid(refreshed.RefreshToken.Reveal()))
				assert.Equal(t, []oauthlinktest.ClientAuth{tc.auth}, fake.ClientAuths(oauthlinktest.EndpointRevoke))
			} else {
				assert.Equal(t, 0, fake.Revocations())
			}
			assert.Equal(t, []oauthlinktest.ClientAuth{tc.auth, tc.auth}, fake.ClientAuths(oauthlinktest.EndpointToken))
		})
	}
}

// A client that departs from the fake's metadata fails: discovery refuses
// a client authentication the document does not list, and a Provider
// whose authentication was changed after discovery is refused by the
// fake's token endpoint, so no connection is stored.
func TestDiscoveryGenericFakeRefusesOtherClients(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	fake := oauthlinktest.NewGeneric(oauthlinktest.GenericOptions{TLS: true, RedirectURIs: []string{srv.URL + "/callback"},
		AuthMethods: []string{oauthlinktest.AuthMethodPost}})
	t.Cleanup(fake.Close)

	_, err := discovery.Provider(t.Context(), "acme", fake.Issuer(), discovery.Options{HTTPClient: fake.Client(), AuthStyle: oauthlink.AuthStyleBasic})
	require.ErrorIs(t, err, discovery.ErrUnsupported)

	p, err := discovery.Provider(t.Context(), "acme", fake.Issuer(), discovery.Options{HTTPClient: fake.Client()})
	require.NoError(t, err)
	require.Equal(t, oauthlink.AuthStyleBody, p.AuthStyle)
	p.AuthStyle = oauthlink.AuthStyleBasic
	app := newFakeApp(t, fake, p, srv.URL+"/callback", mux, "read")
	browse(t, srv.Client(), srv.URL+"/start")
	require.NotNil(t, app.failed.Load(), "the callback failed")
	assert.Equal(t, []oauthlinktest.ClientAuth{oauthlinktest.ClientAuthBasic}, fake.ClientAuths(oauthlinktest.EndpointToken))
	_, err = app.link.Connection(t.Context(), "shop-1")
	assert.Error(t, err, "nothing stored")
}

// Discovery refuses the fake's document for any issuer but the fake's own
// (RFC 8414 §3.3): one with a trailing slash, another host name for the
// same server, the host without the issuer's path.
func TestDiscoveryGenericFakeOtherIssuer(t *testing.T) {
	fake := oauthlinktest.NewGeneric(oauthlinktest.GenericOptions{IssuerPath: "/t1"})
	t.Cleanup(fake.Close)
	opts := discovery.Options{AllowInsecureHTTP: true}
	_, err := discovery.Fetch(t.Context(), fake.Issuer(), opts)
	require.NoError(t, err)

	_, err = discovery.Fetch(t.Context(), fake.Issuer()+"/", opts)
	assert.ErrorIs(t, err, discovery.ErrInvalid, "a trailing slash is another issuer")
	other := strings.Replace(fake.Issuer(), "127.0.0.1", "localhost", 1)
	require.NotEqual(t, fake.Issuer(), other)
	_, err = discovery.Fetch(t.Context(), other, opts)
	assert.ErrorIs(t, err, discovery.ErrInvalid, "the same server under another name")
	_, err = discovery.Fetch(t.Context(), fake.URL(), opts)
	assert.ErrorIs(t, err, discovery.ErrFetch, "no document for the bare host")
}

// The Qonto fake publishes Ory Hydra's OpenID Connect discovery document
// only: discovery finds it after the RFC 8414 location answers 404, pins
// the body authentication Qonto requires, and the Provider it builds (with
// what metadata cannot say: offline_access, rotation) connects, refreshes
// and revokes.
func TestDiscoveryAgainstQontoFake(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	fake := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{TLS: true, RedirectURIs: []string{srv.URL + "/callback"}})
	t.Cleanup(fake.Close)

	p, err := discovery.Provider(t.Context(), "qonto", fake.Issuer(), discovery.Options{HTTPClient: fake.Client()})
	require.NoError(t, err)
	assert.Equal(t, 1, fake.Calls(oauthlinktest.EndpointMetadata))
	want := fake.Provider()
	assert.Equal(t, want.AuthStyle, p.AuthStyle)
	assert.Equal(t, want.AuthURL, p.AuthURL)
	assert.Equal(t, want.TokenURL, p.TokenURL)
	assert.Equal(t, want.RevokeURL, p.RevokeURL)
	assert.Equal(t, want.RevokeMethod, p.RevokeMethod)
	assert.True(t, p.PKCE)
	assert.False(t, p.IssuerRequired)
	p.RequiredScopes = want.RequiredScopes
	p.RotatesRefreshTokens, p.RefreshGrace = want.RotatesRefreshTokens, want.RefreshGrace

	app := newFakeApp(t, fake, p, srv.URL+"/callback", mux, "organization.read")
	status := browse(t, srv.Client(), srv.URL+"/start")
	if e := app.failed.Load(); e != nil {
		t.Fatalf("a handler failed: %v", *e)
	}
	require.Equal(t, http.StatusOK, status)
	refreshed, err := app.link.ForceRefresh(t.Context(), "shop-1")
	require.NoError(t, err)
	require.NoError(t, app.link.Disconnect(t.Context(), "shop-1"))
	assert.Equal(t, 1, fake.Revocations())
	assert.False(t, fake.RefreshTokenValid(refreshed.RefreshToken.Reveal()))
	assert.Equal(t, []oauthlinktest.ClientAuth{oauthlinktest.ClientAuthBody, oauthlinktest.ClientAuthBody},
		fake.ClientAuths(oauthlinktest.EndpointToken))
}

package discovery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/discovery"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// testConfig is a Connector configuration for p whose server-side calls
// go through client.
func testConfig(p oauthlink.Provider, client *http.Client) oauthlink.Config {
	return oauthlink.Config{
		Provider: p, ClientID: "client", ClientSecret: "secret",
		RedirectURL:   "https://app.example/callback",
		Store:         memstore.New(),
		CookieSecrets: [][]byte{bytes.Repeat([]byte{7}, 32)},
		Owner:         func(*http.Request) (string, error) { return "shop-1", nil },
		HTTPClient:    client,
		Logger:        slog.New(slog.DiscardHandler),
	}
}

// issAS publishes metadata for the fake Qonto (Ory Hydra's rules) with
// PKCE required and RFC 9207 advertised. Its authorization endpoint
// forwards to the fake's and adds the iss that iss returns to the
// redirect back.
type issAS struct {
	srv  *httptest.Server
	fake *oauthlinktest.Qonto

	mu  sync.Mutex
	iss func(issuer string) (string, bool) // the iss to add, or none
}

func newIssAS(t *testing.T, callback string) *issAS {
	t.Helper()
	a := &issAS{fake: oauthlinktest.NewQonto(oauthlinktest.QontoOptions{TLS: true, RequirePKCE: true, RedirectURIs: []string{callback}})}
	t.Cleanup(a.fake.Close)
	a.srv = httptest.NewTLSServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	a.iss = func(issuer string) (string, bool) { return issuer, true }
	return a
}

func (a *issAS) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/oauth-authorization-server":
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                         a.srv.URL,
			"authorization_endpoint":                         a.srv.URL + "/authorize",
			"token_endpoint":                                 a.fake.TokenURL(),
			"revocation_endpoint":                            a.fake.RevokeURL(),
			"token_endpoint_auth_methods_supported":          []string{"client_secret_post"},
			"code_challenge_methods_supported":               []string{"S256"},
			"authorization_response_iss_parameter_supported": true,
		})
	case "/authorize":
		back, err := a.fake.Authorize(r.Context(), a.fake.AuthURL()+"?"+r.URL.RawQuery)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		iss, ok := a.iss(a.srv.URL)
		a.mu.Unlock()
		if ok {
			q := back.Query()
			q.Set("iss", iss)
			back.RawQuery = q.Encode()
		}
		http.Redirect(w, r, back.String(), http.StatusFound)
	default:
		http.NotFound(w, r)
	}
}

// A discovered provider runs the whole lifecycle against the fake Qonto:
// PKCE (which the fake requires), the RFC 9207 issuer, the pinned body
// authentication, a refresh and a revocation.
func TestDiscoveredProviderConnects(t *testing.T) {
	for _, tc := range []struct {
		name string
		iss  func(issuer string) (string, bool)
		want error
	}{
		{"iss sent", func(issuer string) (string, bool) { return issuer, true }, nil},
		{"iss missing", func(string) (string, bool) { return "", false }, oauthlink.ErrIssuer},
		{"iss of another server", func(string) (string, bool) { return "https://evil.example", true }, oauthlink.ErrIssuer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			app := httptest.NewTLSServer(mux)
			t.Cleanup(app.Close)
			a := newIssAS(t, app.URL+"/callback")
			a.mu.Lock()
			a.iss = tc.iss
			a.mu.Unlock()

			p, err := discovery.Provider(t.Context(), "acme", a.srv.URL, discovery.Options{HTTPClient: a.srv.Client()})
			require.NoError(t, err)
			require.True(t, p.PKCE)
			require.True(t, p.IssuerRequired)
			p.RequiredScopes = []string{"offline_access"}
			p.RotatesRefreshTokens = true

			var failed atomic.Pointer[error] // set by the server, read by the test
			cfg := testConfig(p, a.fake.Client())
			cfg.ClientID, cfg.ClientSecret = a.fake.ClientID(), a.fake.ClientSecret()
			cfg.RedirectURL = app.URL + "/callback"
			cfg.Hooks.OnError = func(w http.ResponseWriter, r *http.Request, err error) {
				failed.Store(&err)
				oauthlink.DefaultErrorHandler(w, r, err)
			}
			link, err := oauthlink.New(cfg)
			require.NoError(t, err)
			mux.Handle("/start", link.StartHandler())
			mux.Handle("/callback", link.CallbackHandler())
			mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("home")) })

			status := browse(t, app.Client(), app.URL+"/start")
			if tc.want != nil {
				require.NotNil(t, failed.Load(), "the callback failed")
				assert.ErrorIs(t, *failed.Load(), tc.want)
				assert.Equal(t, 0, a.fake.Exchanges(), "no code spent")
				return
			}
			if e := failed.Load(); e != nil {
				t.Fatalf("a handler failed: %v", *e)
			}
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, []oauthlinktest.ClientAuth{oauthlinktest.ClientAuthBody}, a.fake.ClientAuths(oauthlinktest.EndpointToken))
			conn, err := link.Connection(t.Context(), "shop-1")
			require.NoError(t, err)
			assert.True(t, a.fake.AccessTokenValid(conn.AccessToken.Reveal()))

			refreshed, err := link.ForceRefresh(t.Context(), "shop-1")
			require.NoError(t, err)
			assert.NotEqual(t, conn.AccessToken, refreshed.AccessToken)
			assert.Equal(t, 1, a.fake.Refreshes())

			require.NoError(t, link.Disconnect(t.Context(), "shop-1"))
			assert.Equal(t, 1, a.fake.Revocations())
			assert.False(t, a.fake.RefreshTokenValid(refreshed.RefreshToken.Reveal()))
		})
	}
}

// browse follows redirects from target like a browser with a cookie jar,
// across the app and the servers, and returns the last status.
func browse(t *testing.T, tlsClient *http.Client, target string) int {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, Transport: tlsClient.Transport}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, target, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	if err != nil && !errors.Is(err, http.ErrUseLastResponse) {
		require.NoError(t, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

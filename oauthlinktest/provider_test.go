package oauthlinktest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProvider(t *testing.T) {
	t.Run("mollie", func(t *testing.T) {
		m := newTestMollie(t, MollieOptions{})
		p := m.Provider()
		requireValidProvider(t, p)
		assert.Equal(t, "mollie", p.Name)
		assert.Equal(t, m.AuthURL(), p.AuthURL)
		assert.Equal(t, m.URL()+"/oauth2/tokens", p.TokenURL)
		assert.Equal(t, p.TokenURL, p.RevokeURL)
		assert.Equal(t, http.MethodDelete, p.RevokeMethod)
		assert.Equal(t, oauthlink.AuthStyleBasic, p.AuthStyle)
		assert.True(t, p.ResendRedirectURIOnRefresh)
		assert.False(t, p.PKCE)
		assert.ElementsMatch(t, []string{"approval_prompt", "locale"}, p.AuthParams)
		assert.Equal(t, m.URL(), p.APIURL)
		assert.Nil(t, p.Header)
	})
	tests := []struct {
		name      string
		opts      QontoOptions
		wantGrace time.Duration
		wantPKCE  bool
		wantHdr   string
	}{
		{"qonto defaults", QontoOptions{}, time.Minute, false, ""},
		{"qonto no grace", QontoOptions{Grace: NoGrace}, 0, false, ""},
		{"qonto sandbox with PKCE", QontoOptions{Grace: 5 * time.Minute, RequirePKCE: true, StagingToken: "stg"}, 5 * time.Minute, true, "stg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newTestQonto(t, tc.opts)
			p := q.Provider()
			requireValidProvider(t, p)
			assert.Equal(t, "qonto", p.Name)
			assert.Equal(t, q.URL()+"/oauth2/auth", p.AuthURL)
			assert.Equal(t, q.URL()+"/oauth2/token", p.TokenURL)
			assert.Equal(t, q.URL()+"/oauth2/revoke", p.RevokeURL)
			assert.Equal(t, oauthlink.AuthStyleBody, p.AuthStyle)
			assert.Equal(t, []string{"offline_access"}, p.RequiredScopes)
			assert.True(t, p.RequireRefreshToken)
			assert.Equal(t, tc.wantGrace, p.RefreshGrace)
			assert.Equal(t, tc.wantGrace, q.Grace())
			assert.Equal(t, tc.wantPKCE, p.PKCE)
			assert.ElementsMatch(t, []string{"organization_id", "registration_id"}, p.AuthParams)
			assert.Equal(t, tc.wantHdr, p.Header.Get(StagingHeader))
		})
	}
}

func TestTLS(t *testing.T) {
	tests := []struct {
		name string
		s    func(t *testing.T) *server
	}{
		{"mollie", func(t *testing.T) *server { return newTestMollie(t, MollieOptions{TLS: true}).server }},
		{"qonto", func(t *testing.T) *server { return newTestQonto(t, QontoOptions{TLS: true}).server }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s(t)
			assert.Regexp(t, `^https://127\.0\.0\.1:\d+$`, s.URL())
			scopes := "organizations.read"
			if s.cfg.name == "qonto" {
				scopes = "organization.read"
			}
			assert.NotEmpty(t, code(t, s, authParams(s, scopes)), "Client and Authorize trust the certificate")
			_, err := http.Get(s.AuthURL())
			assert.Error(t, err, "other clients do not")
			http.DefaultClient.CloseIdleConnections()
		})
	}
}

func TestHandleAddsAPIRoutes(t *testing.T) {
	q := newTestQonto(t, QontoOptions{StagingToken: "stg"})
	q.Handle("GET /v2/memberships", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"memberships":[]}`))
	}))
	q.Fault(EndpointAPI, Fault{Status: http.StatusTooManyRequests})
	hdr := http.Header{StagingHeader: {"stg"}}
	assert.Equal(t, http.StatusTooManyRequests, send(t, q.server, request{method: http.MethodGet, url: q.APIURL() + "/v2/memberships", header: hdr}).status)
	r := send(t, q.server, request{method: http.MethodGet, url: q.APIURL() + "/v2/memberships", header: hdr})
	assert.Equal(t, `{"memberships":[]}`, string(r.raw))
	r = send(t, q.server, request{method: http.MethodGet, url: q.APIURL() + "/v2/memberships"})
	assert.Contains(t, string(r.raw), "Sign in", "added routes get the staging check")
	assert.Equal(t, 3, q.Calls(EndpointAPI))
}

func TestCloseTwice(t *testing.T) {
	m := NewMollie(MollieOptions{})
	m.Close()
	m.Close()
}

func TestSecretsAreRandomAndShaped(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		for _, s := range []string{randomAlnum(40), randomHydra("ory_rt_"), newUUID()} {
			require.False(t, seen[s], "duplicate secret")
			seen[s] = true
		}
	}
	assert.Regexp(t, `^[A-Za-z0-9]{40}$`, randomAlnum(40))
	assert.Regexp(t, `^ory_at_[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$`, randomHydra("ory_at_"))
}

// A client in another process trusts a TLS fake through Certificate.
func TestCertificate(t *testing.T) {
	assert.Nil(t, newTestQonto(t, QontoOptions{}).Certificate(), "plain HTTP")
	q := newTestQonto(t, QontoOptions{TLS: true})
	cert := q.Certificate()
	require.NotNil(t, cert)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Post(q.TokenURL(), "application/x-www-form-urlencoded", strings.NewReader("grant_type=refresh_token"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "reached the token endpoint (no client credentials)")
}

// requireValidProvider fails unless oauthlink.New accepts p: New validates
// every provider it is given.
func requireValidProvider(t *testing.T, p oauthlink.Provider) {
	t.Helper()
	_, err := oauthlink.New(oauthlink.Config{
		Provider: p, ClientID: "app_test", ClientSecret: "secret", RedirectURL: "https://app.example/callback",
		Store: memstore.New(), Owner: func(*http.Request) (string, error) { return "shop-1", nil },
		CookieSecrets: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, AllowInsecureHTTP: true,
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
}

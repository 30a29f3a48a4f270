package oauthlink_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// apiRecorder is an API server that records the Authorization headers it
// receives.
type apiRecorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	auth []string
}

func newAPIRecorder(t *testing.T, tls bool) *apiRecorder {
	t.Helper()
	a := &apiRecorder{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.auth = append(a.auth, r.Header.Get("Authorization"))
		a.mu.Unlock()
		io.WriteString(w, "{}")
	})
	if tls {
		a.srv = httptest.NewTLSServer(h)
	} else {
		a.srv = httptest.NewServer(h)
	}
	t.Cleanup(a.srv.Close)
	return a
}

func (a *apiRecorder) host() string { return a.srv.Listener.Addr().String() }

func (a *apiRecorder) received() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.auth...)
}

// apiConnector is a Connector whose provider's API is at apiURL, with one
// fresh connection for shop-1 whose access token is accessToken, so Client
// needs no provider call.
func apiConnector(t *testing.T, apiURL string, insecure bool, client *http.Client, accessToken string) *oauthlink.Connector {
	t.Helper()
	st := memstore.New()
	now := time.Now()
	require.NoError(t, st.Save(context.Background(), &oauthlink.Connection{
		Provider: "api", Owner: "shop-1", AccessToken: store.Secret(accessToken), RefreshToken: "rt-unused",
		TokenType: "Bearer", Expiry: now.Add(time.Hour), Status: store.StatusActive,
		CreatedAt: now, UpdatedAt: now,
	}))
	link, err := oauthlink.New(oauthlink.Config{
		Provider: oauthlink.Provider{Name: "api", AuthURL: "https://provider.example/auth",
			TokenURL: "https://provider.example/token", APIURL: apiURL, AuthStyle: oauthlink.AuthStyleBody},
		ClientID: "client", ClientSecret: "secret", RedirectURL: "https://app.example/cb", Store: st,
		Owner:             func(*http.Request) (string, error) { return "shop-1", nil },
		CookieSecrets:     [][]byte{make([]byte, 32)},
		HTTPClient:        client,
		AllowInsecureHTTP: insecure,
		Logger:            slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	return link
}

// The bearer token goes only to Provider.APIURL's origin (scheme, host and
// port): never over plain http to an https API, never to another host or
// port, and nowhere at all without an APIURL. Plain http needs an http
// APIURL, which New accepts only with AllowInsecureHTTP.
func TestClientSendsTokenOnlyToAPIOrigin(t *testing.T) {
	const token = "at-CANARY-bearer"
	tlsAPI := newAPIRecorder(t, true)
	plainAPI := newAPIRecorder(t, false)
	_, tlsPort, err := net.SplitHostPort(tlsAPI.host())
	require.NoError(t, err)
	// The same port under another name is another origin.
	otherName := "https://localhost:" + tlsPort

	tests := []struct {
		name     string
		apiURL   string
		insecure bool
		target   string
		// sentTo is the server that must receive the token; nil: none may.
		sentTo  *apiRecorder
		wantErr []error
	}{
		{name: "https API origin", apiURL: tlsAPI.srv.URL, target: tlsAPI.srv.URL + "/v2/me", sentTo: tlsAPI},
		{name: "API origin with a path in APIURL", apiURL: tlsAPI.srv.URL + "/v2", target: tlsAPI.srv.URL + "/v2/me", sentTo: tlsAPI},
		{name: "plain http to the https API's host and port", apiURL: "https://" + plainAPI.host(),
			target: "http://" + plainAPI.host() + "/v2/me", wantErr: []error{oauthlink.ErrNotAPIOrigin}},
		{name: "plain http to an https API even with AllowInsecureHTTP", apiURL: "https://" + plainAPI.host(), insecure: true,
			target: "http://" + plainAPI.host() + "/v2/me", wantErr: []error{oauthlink.ErrNotAPIOrigin}},
		{name: "another host on the API's port", apiURL: tlsAPI.srv.URL,
			target: otherName + "/v2/me", wantErr: []error{oauthlink.ErrNotAPIOrigin}},
		{name: "another port on the API's host", apiURL: "https://" + plainAPI.host(),
			target: tlsAPI.srv.URL + "/v2/me", wantErr: []error{oauthlink.ErrNotAPIOrigin}},
		{name: "no APIURL", apiURL: "",
			target: tlsAPI.srv.URL + "/v2/me", wantErr: []error{oauthlink.ErrConfig, oauthlink.ErrNotAPIOrigin}},
		{name: "no APIURL, plain http", apiURL: "",
			target: plainAPI.srv.URL + "/v2/me", wantErr: []error{oauthlink.ErrConfig, oauthlink.ErrNotAPIOrigin}},
		{name: "http API with AllowInsecureHTTP", apiURL: plainAPI.srv.URL, insecure: true,
			target: plainAPI.srv.URL + "/v2/me", sentTo: plainAPI},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			beforeTLS, beforePlain := len(tlsAPI.received()), len(plainAPI.received())
			link := apiConnector(t, tc.apiURL, tc.insecure, tlsAPI.srv.Client(), token)
			resp, err := link.Client("shop-1").Get(tc.target)
			if err == nil {
				resp.Body.Close()
			}
			if tc.sentTo != nil {
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				got := tc.sentTo.received()
				require.NotEmpty(t, got)
				assert.Equal(t, "Bearer "+token, got[len(got)-1])
				return
			}
			require.Error(t, err)
			for _, want := range tc.wantErr {
				assert.ErrorIs(t, err, want)
			}
			assert.NotContains(t, err.Error(), token)
			assert.Len(t, tlsAPI.received(), beforeTLS, "the request was not sent")
			assert.Len(t, plainAPI.received(), beforePlain, "the request was not sent")
		})
	}
}

// A request body refused by the origin check is closed, as a RoundTripper
// must.
func TestClientClosesRefusedBody(t *testing.T) {
	api := newAPIRecorder(t, true)
	link := apiConnector(t, api.srv.URL, false, api.srv.Client(), "at-1")
	body := &closeRecorder{Reader: strings.NewReader("{}")}
	req, err := http.NewRequest(http.MethodPost, "http://"+api.host()+"/v2/payments", body)
	require.NoError(t, err)
	_, err = link.Client("shop-1").Do(req)
	require.ErrorIs(t, err, oauthlink.ErrNotAPIOrigin)
	assert.True(t, body.closed)
	assert.Empty(t, api.received())
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

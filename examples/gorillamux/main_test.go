package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store/memstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFlows runs each provider's whole flow on the gorilla/mux router against the
// fakes: start, the fake's consent, callback, the Require-protected API
// route, disconnect.
func TestFlows(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	public := "http://" + srv.Listener.Addr().String()
	m := oauthlinktest.NewMollie(oauthlinktest.MollieOptions{ConsentPage: true, RedirectURIs: []string{public + "/connect/mollie/callback"}})
	t.Cleanup(m.Close)
	q := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{ConsentPage: true, RedirectURIs: []string{public + "/connect/qonto/callback"}})
	t.Cleanup(q.Close)
	secret, tokenKey := make([]byte, 32), make([]byte, 32)
	rand.Read(secret)
	rand.Read(tokenKey)
	h, err := newRouter(public, memstore.New(), secret, tokenKey,
		provider{m.Provider(), m.ClientID(), m.ClientSecret(), "/v2/organizations/me"},
		provider{q.Provider(), q.ClientID(), q.ClientSecret(), "/v2/organization"})
	require.NoError(t, err)
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	browser := &http.Client{Jar: jar, Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path, accept string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, public+path, nil)
		require.NoError(t, err)
		req.Header.Set("Accept", accept)
		resp, err := browser.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	for _, tc := range []struct {
		name string
		fake interface {
			Authorize(context.Context, string) (*url.URL, error)
			LastAuthorize() oauthlinktest.AuthorizeRequest
		}
	}{{"mollie", m}, {"qonto", q}} {
		t.Run(tc.name, func(t *testing.T) {
			resp := send(http.MethodGet, "/"+tc.name+"/organization", "text/html")
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "Require sends a page to the start handler")
			assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/connect/"+tc.name+"?return_to="))

			resp = send(http.MethodGet, "/connect/"+tc.name, "text/html")
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			callback, err := tc.fake.Authorize(t.Context(), resp.Header.Get("Location")) // clicks Approve
			require.NoError(t, err)
			resp = send(http.MethodGet, callback.RequestURI(), "text/html")
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			assert.Equal(t, "/", resp.Header.Get("Location"))

			resp = send(http.MethodGet, "/"+tc.name+"/organization", "application/json")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			var org map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&org))
			raw, _ := json.Marshal(org)
			assert.Contains(t, string(raw), tc.fake.LastAuthorize().AccountID)

			resp = send(http.MethodPost, "/connect/"+tc.name+"/disconnect", "text/html")
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
			resp = send(http.MethodGet, "/"+tc.name+"/organization", "application/json")
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		})
	}
}

package main

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/oauthlink/oauthlink/oauthlinktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFlows runs each provider's whole flow on the ServeMux against the
// fakes: start, consent, callback, the dashboard, disconnect, and a
// cross-site POST refused.
func TestFlows(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	public := "http://" + srv.Listener.Addr().String()
	m := oauthlinktest.NewMollie(oauthlinktest.MollieOptions{ConsentPage: true, RedirectURIs: []string{public + "/connect/mollie/callback"}})
	t.Cleanup(m.Close)
	q := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{ConsentPage: true, RedirectURIs: []string{public + "/connect/qonto/callback"}})
	t.Cleanup(q.Close)
	secret := make([]byte, 32)
	rand.Read(secret)
	h, err := newMux(public, secret, []provider{
		{"mollie", m.Provider(), m.ClientID(), m.ClientSecret(), m.URL()},
		{"qonto", q.Provider(), q.ClientID(), q.ClientSecret(), q.URL()},
	})
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
	send := func(method, path string, header ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, public+path, nil)
		require.NoError(t, err)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := browser.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	for _, tc := range []struct {
		name string
		fake interface {
			Authorize(context.Context, string) (*url.URL, error)
			RefreshTokenValid(string) bool
		}
	}{{"mollie", m}, {"qonto", q}} {
		t.Run(tc.name, func(t *testing.T) {
			resp := send(http.MethodGet, "/connect/"+tc.name)
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			callback, err := tc.fake.Authorize(t.Context(), resp.Header.Get("Location")) // clicks Approve
			require.NoError(t, err)
			resp = send(http.MethodGet, callback.RequestURI())
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			assert.Equal(t, "/", resp.Header.Get("Location"))
			body, err := io.ReadAll(send(http.MethodGet, "/").Body)
			require.NoError(t, err)
			assert.Regexp(t, "<td>"+tc.name+"</td><td>active \\(token until", string(body))

			resp = send(http.MethodPost, "/connect/"+tc.name+"/disconnect", "Sec-Fetch-Site", "cross-site")
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "cross-site POST refused")
			resp = send(http.MethodPost, "/connect/"+tc.name+"/disconnect", "Sec-Fetch-Site", "same-origin")
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
		})
	}
	assert.Equal(t, 1, m.Exchanges())
	assert.Equal(t, 1, q.Exchanges())
	assert.Equal(t, 1, m.Revocations())
	assert.Equal(t, 1, q.Revocations())
}

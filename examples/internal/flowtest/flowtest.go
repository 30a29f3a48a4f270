// Package flowtest drives the examples' connect flows in their tests: it
// serves an app on a test server, plays its browser, and runs the flows
// the router examples share.
package flowtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/examples/internal/exampleapp"
	"github.com/oauthlink/oauthlink/oauthlinktest"
)

// Fake is what a flow needs of a fake provider.
type Fake interface {
	// Authorize plays the user on the fake's consent page (Approve) and
	// returns the callback URL.
	Authorize(ctx context.Context, authURL string) (*url.URL, error)
	// LastAuthorize returns the last decided authorization request.
	LastAuthorize() oauthlinktest.AuthorizeRequest
}

// Browser is a cookie-keeping client of the app under test that does not
// follow redirects, so a test sees each one.
type Browser struct {
	// Public is the app's base URL.
	Public string
	client *http.Client
}

// Serve starts the handler newHandler builds for an app at the returned
// browser's Public URL (known before the handler is built, since the
// callback URLs depend on it), and stops it when t ends.
func Serve(t *testing.T, newHandler func(public string) (http.Handler, error)) *Browser {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	public := "http://" + srv.Listener.Addr().String()
	h, err := newHandler(public)
	require.NoError(t, err)
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	return &Browser{Public: public, client: &http.Client{Jar: jar, Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Send requests path on the app with the given header name and value
// pairs; the body is closed when t ends.
func (b *Browser) Send(t *testing.T, method, path string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, b.Public+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// Connect runs provider name's connect flow as a browser does: the start
// handler at /connect/{name} redirects to the fake, the user approves, and
// the callback sends the browser back home.
func (b *Browser) Connect(t *testing.T, name string, fake Fake) {
	t.Helper()
	resp := b.Send(t, http.MethodGet, "/connect/"+name, "Accept", "text/html")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	callback, err := fake.Authorize(t.Context(), resp.Header.Get("Location")) // clicks Approve
	require.NoError(t, err)
	resp = b.Send(t, http.MethodGet, callback.RequestURI(), "Accept", "text/html")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/", resp.Header.Get("Location"))
}

// Provider is a provider of the app under test and its fake.
type Provider struct {
	Name string
	Fake Fake
}

// Flows runs each provider's whole flow on the app b serves, as every
// example mounts it: RequireConnection's redirect to the start handler,
// start, the fake's consent, callback, the home page showing the account
// Identify recorded, the Require-protected API route /{name}/organization,
// and disconnect, after which the API route answers 401.
func Flows(t *testing.T, b *Browser, providers []Provider) {
	for _, tc := range providers {
		t.Run(tc.Name, func(t *testing.T) {
			resp := b.Send(t, http.MethodGet, "/"+tc.Name+"/organization", "Accept", "text/html")
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "Require sends a page to the start handler")
			assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/connect/"+tc.Name+"?return_to="))

			b.Connect(t, tc.Name, tc.Fake)
			account := tc.Fake.LastAuthorize().AccountID
			require.NotEmpty(t, account)
			home, err := io.ReadAll(b.Send(t, http.MethodGet, "/").Body)
			require.NoError(t, err)
			assert.Contains(t, string(home), "active, account "+account, "Identify recorded the organization")

			resp = b.Send(t, http.MethodGet, "/"+tc.Name+"/organization", "Accept", "application/json")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			var org map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&org))
			raw, _ := json.Marshal(org)
			assert.Contains(t, string(raw), account)

			resp = b.Send(t, http.MethodPost, "/connect/"+tc.Name+"/disconnect", "Accept", "text/html")
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
			resp = b.Send(t, http.MethodGet, "/"+tc.Name+"/organization", "Accept", "application/json")
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		})
	}
}

// RouterFlows serves the app newRouter builds (the chi and gorilla/mux
// examples) against the fakes and runs Flows on it.
func RouterFlows(t *testing.T, newRouter func(*exampleapp.App) http.Handler) {
	var fakes *exampleapp.Fakes
	b := Serve(t, func(public string) (http.Handler, error) {
		fakes = exampleapp.StartFakes(public)
		t.Cleanup(fakes.Close)
		app, err := exampleapp.New(public, fakes)
		if err != nil {
			return nil, err
		}
		return newRouter(app), nil
	})
	Flows(t, b, []Provider{{"mollie", fakes.Mollie}, {"qonto", fakes.Qonto}})
}

package adyen_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// Adyen documents no revocation endpoint; the customer uninstalls the app
// in their Customer Area, which invalidates all active access at once
// (docs.adyen.com, "Installed OAuth apps"). The connection then needs a
// reconnect, and Disconnect calls nothing at Adyen.
func TestCustomerUninstallsApp(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	fake := oauthlinktest.NewAdyen(oauthlinktest.AdyenOptions{RedirectURIs: []string{srv.URL + "/connect/adyen/callback"}})
	t.Cleanup(fake.Close)
	st := memstore.New()
	conn, err := oauthlink.New(oauthlink.Config{
		Provider: fake.Provider(), ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
		RedirectURL: srv.URL + "/connect/adyen/callback", Store: st,
		Owner:         func(*http.Request) (string, error) { return "shop-1", nil },
		CookieSecrets: [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
		HTTPClient:    fake.Client(), AllowInsecureHTTP: true, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	mux.Handle("/connect/adyen", conn.StartHandler())
	mux.Handle("/connect/adyen/callback", conn.CallbackHandler())

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	start, err := browser.Get(srv.URL + "/connect/adyen")
	require.NoError(t, err)
	start.Body.Close()
	require.Equal(t, http.StatusSeeOther, start.StatusCode)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cb, err := fake.Authorize(ctx, start.Header.Get("Location"))
	require.NoError(t, err)
	resp, err := browser.Get(cb.String())
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	before, err := st.Load(ctx, "adyen", "shop-1")
	require.NoError(t, err)
	assert.Contains(t, before.Extra.Reveal(), fake.LastAuthorize().AccountID, "the accounts list is kept")

	fake.RevokeAccess(fake.LastAuthorize().AccountID)
	_, err = conn.ForceRefresh(ctx, "shop-1")
	assert.ErrorIs(t, err, oauthlink.ErrReauthRequired)

	require.NoError(t, conn.Disconnect(ctx, "shop-1"))
	assert.Zero(t, fake.Calls(oauthlinktest.EndpointRevoke), "no revocation endpoint is called")
}

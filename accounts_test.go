package oauthlink_test

import (
	"bytes"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// The several-accounts pattern (Example_severalAccountsPerUser) fails
// safe: a callback whose slot cookie no longer names the slot its flow
// was started for (a second tab started another slot, or the cookie was
// changed) is refused as another owner's, before the code is spent.
func TestSeveralAccountsSlotMismatchFailsSafe(t *testing.T) {
	fake := oauthlinktest.NewMollie(oauthlinktest.MollieOptions{TLS: true})
	t.Cleanup(fake.Close)
	mux := http.NewServeMux()
	app := httptest.NewTLSServer(mux)
	t.Cleanup(app.Close)
	var mu sync.Mutex
	var failures []error
	link, err := oauthlink.New(oauthlink.Config{
		Provider: fake.Provider(), ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
		RedirectURL: app.URL + "/connect/mollie/callback",
		Store:       memstore.New(), CookieSecrets: [][]byte{bytes.Repeat([]byte{1}, 32)},
		Owner: accountsOwner, HTTPClient: fake.Client(),
		Hooks: oauthlink.Hooks{OnError: func(w http.ResponseWriter, r *http.Request, err error) {
			mu.Lock()
			failures = append(failures, err)
			mu.Unlock()
			oauthlink.DefaultErrorHandler(w, r, err)
		}},
	})
	require.NoError(t, err)
	mux.Handle("GET /connect/mollie/{slot}", rememberSlot(link.StartHandler()))
	mux.Handle("GET /connect/mollie/callback", link.CallbackHandler())

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar, Transport: app.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(target string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, target, nil)
		require.NoError(t, err)
		req.Header.Set("X-User", "alice")
		resp, err := browser.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	// authorize starts a flow for slot and returns the provider's
	// redirect back to the callback, not yet followed.
	authorize := func(slot string) string {
		start := get(app.URL + "/connect/mollie/" + slot)
		require.Equal(t, http.StatusSeeOther, start.StatusCode)
		back := get(start.Header.Get("Location"))
		require.Equal(t, http.StatusFound, back.StatusCode)
		return back.Header.Get("Location")
	}
	lastFailure := func() error {
		mu.Lock()
		defer mu.Unlock()
		require.NotEmpty(t, failures)
		return failures[len(failures)-1]
	}

	// Two tabs: eu started, then nl; eu's callback now reads slot nl.
	euCallback := authorize("eu")
	authorize("nl")
	assert.Equal(t, http.StatusForbidden, get(euCallback).StatusCode)
	assert.ErrorIs(t, lastFailure(), oauthlink.ErrOwnerMismatch)

	// A slot cookie changed by hand.
	cb := authorize("eu")
	u, err := url.Parse(app.URL + "/connect/mollie/callback")
	require.NoError(t, err)
	jar.SetCookies(u, []*http.Cookie{{Name: slotCookie, Value: "other", Path: "/connect/mollie/callback"}})
	assert.Equal(t, http.StatusForbidden, get(cb).StatusCode)
	assert.ErrorIs(t, lastFailure(), oauthlink.ErrOwnerMismatch)

	assert.Zero(t, fake.Exchanges(), "no code was spent")
	for _, owner := range []string{"alice/eu", "alice/nl", "alice/other"} {
		_, err := link.Connection(t.Context(), owner)
		assert.Error(t, err, owner)
	}
}

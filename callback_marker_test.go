package oauthlink_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
)

// lateCallback starts a flow in a browser that honours the flow cookie's
// Max-Age on the connector's clock, lets after pass, and returns the
// callback's answer. The cookie jar of the other tests runs on the wall
// clock, so it would keep a cookie a real browser has dropped.
func lateCallback(t *testing.T, e *env, after time.Duration) hop {
	t.Helper()
	b := e.browser("shop-1")
	start := b.get(e.app.URL + "/connect/qonto")
	require.Equal(t, http.StatusSeeOther, start.Status, start.Body)
	cks := (&http.Response{Header: start.Header}).Cookies()
	require.Len(t, cks, 1)
	flowCookie := cks[0]
	auth := b.get(start.Header.Get("Location"))
	require.Equal(t, http.StatusFound, auth.Status, auth.Body)
	e.clk.Advance(after)
	cookie := "user=shop-1"
	if time.Duration(flowCookie.MaxAge)*time.Second > after {
		cookie += "; " + flowCookie.Name + "=" + flowCookie.Value
	}
	return e.browser("").do(http.MethodGet, auth.Header.Get("Location"), http.Header{"Cookie": {cookie}})
}

// A callback that comes back after the flow's lifetime, in the browser
// that started it, is told the attempt expired: the cookie outlives the
// flow so the callback can tell. Much later still, the browser has dropped
// the cookie and the callback says it has no record.
func TestCallbackReasonExpired(t *testing.T) {
	e := newEnv(t, withQonto(oauthlinktest.QontoOptions{CodeLifetime: 24 * time.Hour}))
	h := lateCallback(t, e, 11*time.Minute)
	assert.Equal(t, http.StatusBadRequest, h.Status)
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrStateExpired)
	assertSays(t, h.Body, sayExpired)

	h = lateCallback(t, e, 45*time.Minute)
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrStateExpired)
	assertSays(t, h.Body, sayExpired)

	h = lateCallback(t, e, 2*time.Hour)
	assert.Equal(t, http.StatusBadRequest, h.Status)
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrNoFlowCookie)
	assertSays(t, h.Body, sayNoCookie)
	assert.Zero(t, e.tokenCalls())
}

// Reloading the callback after it connected (the back button, a reload, a
// double submit) tells the user the account is connected, and changes
// nothing: the code is not spent again.
func TestCallbackReasonAlreadyConnected(t *testing.T) {
	for _, provider := range []string{"mollie", "qonto"} {
		t.Run(provider, func(t *testing.T) {
			e := newEnv(t)
			f := e.fakes[provider]
			b := e.browser("shop-1")
			cb := b.authorize(provider, "?return_to=/settings")
			original := b.cookieHeader() // the flow cookie as it was before the callback
			require.Equal(t, http.StatusSeeOther, b.get(cb).Status)
			before, err := e.load(provider, "shop-1")
			require.NoError(t, err)

			for range 2 { // a second reload is told the same
				h := b.get(cb)
				assert.Equal(t, http.StatusBadRequest, h.Status)
				err := e.lastErr()
				assert.ErrorIs(t, err, oauthlink.ErrAlreadyConnected)
				assert.ErrorIs(t, err, oauthlink.ErrStateReplayed, "existing callers still see a replay")
				assertSays(t, h.Body, sayConnected)
			}

			// The original cookie, replayed (a reload sent before the
			// first answer arrived): the replay guard refuses it, and the
			// owner is connected.
			h := e.browser("").do(http.MethodGet, cb, http.Header{"Cookie": {original}})
			assert.Equal(t, http.StatusBadRequest, h.Status)
			assert.ErrorIs(t, e.lastErr(), oauthlink.ErrAlreadyConnected)
			assertSays(t, h.Body, sayConnected)

			after, err := e.load(provider, "shop-1")
			require.NoError(t, err)
			assert.Equal(t, before.Version, after.Version, "nothing changed")
			assert.Equal(t, 1, f.Exchanges(), "the code was spent once")

			// The same browser connects again as usual.
			assert.Equal(t, http.StatusSeeOther, b.connect(provider, "").Status)
			assert.Equal(t, 2, f.Exchanges())
		})
	}
}

// The callback that connects replaces the flow cookie with the completion
// marker: one Set-Cookie under the same name, with the flow cookie's
// attributes and a new sealed value. With the app's session store too.
func TestCallbackLeavesCompletionMarker(t *testing.T) {
	t.Run("cookie", func(t *testing.T) {
		e := newEnv(t)
		b := e.browser("shop-1")
		cb := b.authorize("mollie", "")
		u, err := url.Parse(e.app.URL)
		require.NoError(t, err)
		var flowCookie *http.Cookie
		for _, c := range b.jar.Cookies(u) {
			if strings.HasPrefix(c.Name, "__Host-oauthlink-mollie-") {
				flowCookie = c
			}
		}
		require.NotNil(t, flowCookie)
		h := b.get(cb)
		require.Equal(t, http.StatusSeeOther, h.Status, h.Body)
		cks := (&http.Response{Header: h.Header}).Cookies()
		require.Len(t, cks, 1, "one Set-Cookie: the marker replaces the flow cookie")
		m := cks[0]
		assert.Equal(t, flowCookie.Name, m.Name)
		assert.NotEqual(t, flowCookie.Value, m.Value)
		assert.True(t, m.HttpOnly)
		assert.True(t, m.Secure)
		assert.Equal(t, http.SameSiteLaxMode, m.SameSite)
		assert.Equal(t, "/", m.Path)
		assert.Equal(t, 3600, m.MaxAge)
		assert.Less(t, len(m.Value), len(flowCookie.Value), "no verifier, no return-to")
	})
}

// A replayed callback is "already connected" only while the owner is:
// after a disconnect it is the plain replay, and in another owner's session
// the owner mismatch.
func TestCallbackReasonReplayNotConnected(t *testing.T) {
	e := newEnv(t)
	b := e.browser("shop-1")
	cb := b.authorize("qonto", "")
	require.Equal(t, http.StatusSeeOther, b.get(cb).Status)
	withMarker := b.cookieHeader()

	h := e.browser("").do(http.MethodGet, cb, http.Header{"Cookie": {strings.Replace(withMarker, "user=shop-1", "user=shop-2", 1)}})
	assert.Equal(t, http.StatusForbidden, h.Status)
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrOwnerMismatch)
	assertSays(t, h.Body, sayOwner)

	require.NoError(t, e.links["qonto"].Disconnect(context.Background(), "shop-1"))
	h = b.get(cb)
	assert.Equal(t, http.StatusBadRequest, h.Status)
	err := e.lastErr()
	assert.ErrorIs(t, err, oauthlink.ErrStateReplayed)
	assert.NotErrorIs(t, err, oauthlink.ErrAlreadyConnected)
	assertSays(t, h.Body, sayReplayed)
	assert.Equal(t, 1, e.qonto.Exchanges())
}

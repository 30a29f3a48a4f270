package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
)

// connect runs the authorization-code flow for owner at the fake, without
// a browser, through a Connector on st configured as keep configures its
// own.
func connect(t *testing.T, st *encrypted.Store, q *oauthlinktest.Qonto, owner string) {
	t.Helper()
	p := q.Provider()
	c, err := oauthlink.New(oauthlink.Config{
		Provider: p, ClientID: q.ClientID(), ClientSecret: q.ClientSecret(),
		RedirectURL: "http://127.0.0.1:8080/connect/qonto/callback", Store: st,
		CookieSecrets: [][]byte{make([]byte, 32)}, AllowInsecureHTTP: true,
		Owner: func(r *http.Request) (string, error) { return r.Header.Get("X-User"), nil },
	})
	require.NoError(t, err)
	start := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/connect/qonto", nil)
	r.Header.Set("X-User", owner)
	c.StartHandler().ServeHTTP(start, r)
	cbURL, err := q.Authorize(t.Context(), start.Header().Get("Location"))
	require.NoError(t, err)
	cb := httptest.NewRequest(http.MethodGet, cbURL.String(), nil)
	cb.Header.Set("X-User", owner)
	for _, ck := range start.Result().Cookies() {
		cb.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	c.CallbackHandler().ServeHTTP(w, cb)
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
}

// keep --once refreshes the idle Qonto connections through a Keeper: one
// with a live grant is refreshed, one whose grant the provider no longer
// knows needs a reconnect; fresh ones are left alone.
func TestKeepOnce(t *testing.T) {
	q := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{})
	t.Cleanup(q.Close)
	f := memoryFleet(t, newKey())
	st := f.store(t, nil)
	seed(t, st) // qonto shop-1 is 80 days idle, with a grant the fake never issued
	connect(t, st, q, "shop-live")
	c, err := st.Load(t.Context(), "qonto", "shop-live")
	require.NoError(t, err)
	c.RefreshedAt = now.Add(-70 * day)
	require.NoError(t, st.Save(t.Context(), c))
	p := q.Provider()
	env := map[string]string{"QONTO_CLIENT_ID": q.ClientID(), "QONTO_CLIENT_SECRET": q.ClientSecret(),
		"QONTO_AUTHORIZE_URL": p.AuthURL, "QONTO_TOKEN_URL": p.TokenURL, "QONTO_REVOKE_URL": p.RevokeURL, "QONTO_API_URL": p.APIURL}

	code, _, errOut := f.run(t, nil, "keep")
	assert.Equal(t, 2, code, "keep without --once")
	assert.Contains(t, errOut, "keep needs --once")
	code, _, errOut = f.run(t, nil, "keep", "--once")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no provider configured")

	code, out, errOut := f.run(t, env, "keep", "--once", "--json")
	require.Equal(t, 0, code, errOut)
	var got keepOut
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	assert.Equal(t, "qonto", got.Provider)
	assert.Equal(t, 1, got.Refreshed, out)
	assert.Equal(t, 1, got.ReauthRequired, out)
	assert.Empty(t, got.Failed)

	live, err := st.Load(t.Context(), "qonto", "shop-live")
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), live.RefreshedAt, time.Minute)
	assert.True(t, q.RefreshTokenValid(live.RefreshToken.Reveal()), "the new refresh token is stored")
	dead, err := st.Load(t.Context(), "qonto", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, store.StatusReauthRequired, dead.Status)

	code, out, errOut = f.run(t, env, "keep", "--once")
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, out+errOut, q.ClientSecret())
	assert.Regexp(t, `^qonto: checked \d+, refreshed 0, already fresh 0, reauth required 0, revocations completed 0, failed map\[\] \(`, out)
}

// revoke PROVIDER OWNER revokes the grant at the provider and deletes the
// record; a missing connection, an unconfigured provider and a bad command
// line are refused.
func TestRevoke(t *testing.T) {
	q := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{})
	t.Cleanup(q.Close)
	f := memoryFleet(t, newKey())
	st := f.store(t, nil)
	connect(t, st, q, "shop-live")
	before, err := st.Load(t.Context(), "qonto", "shop-live")
	require.NoError(t, err)
	require.True(t, q.RefreshTokenValid(before.RefreshToken.Reveal()))
	p := q.Provider()
	env := map[string]string{"QONTO_CLIENT_ID": q.ClientID(), "QONTO_CLIENT_SECRET": q.ClientSecret(),
		"QONTO_AUTHORIZE_URL": p.AuthURL, "QONTO_TOKEN_URL": p.TokenURL, "QONTO_REVOKE_URL": p.RevokeURL, "QONTO_API_URL": p.APIURL}

	code, _, errOut := f.run(t, env, "revoke", "qonto")
	assert.Equal(t, 2, code, "one argument")
	assert.Contains(t, errOut, "Run 'oauthlink revoke --help'")
	code, _, errOut = f.run(t, nil, "revoke", "qonto", "shop-live")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "not configured")
	code, _, errOut = f.run(t, env, "revoke", "qonto", "nobody")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no qonto connection")

	code, out, errOut := f.run(t, env, "revoke", "qonto", "shop-live")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, `revoked at qonto and deleted: qonto "shop-live"`)
	assert.NotContains(t, out+errOut, before.RefreshToken.Reveal())
	_, err = st.Load(t.Context(), "qonto", "shop-live")
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.False(t, q.RefreshTokenValid(before.RefreshToken.Reveal()), "the grant is revoked at the provider")
}

package oauthlinktest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPersistQonto: a Qonto fake with a state file, closed and started
// again on the same file and port, still knows the grant: the access token
// works, the refresh token rotates, the webhook subscription is kept, and
// revocation works; a fake started without the file knows nothing.
func TestPersistQonto(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qonto.json")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()

	first := NewQonto(QontoOptions{RedirectURIs: []string{appCallback}, Listener: ln})
	loaded, err := first.PersistTo(path)
	require.NoError(t, err)
	assert.False(t, loaded, "no file yet")
	assert.Equal(t, "http://"+addr, first.URL(), "served on the listener given")
	tok := qontoToken(t, first, exchangeForm(code(t, first.server, authParams(first.server, "offline_access organization.read webhook")), appCallback))
	require.Equal(t, http.StatusOK, tok.status)
	org := first.LastAuthorize().AccountID
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(hook.Close)
	req, err := http.NewRequest(http.MethodPost, first.APIURL()+"/v2/webhook_subscriptions",
		strings.NewReader(`{"callback_url":"`+hook.URL+`","types":["v1/consent-revocations"]}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := first.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	first.Close()
	require.NoError(t, first.PersistErr())
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	ln2, err := net.Listen("tcp", addr)
	require.NoError(t, err, "the port is free again")
	second := newTestQonto(t, QontoOptions{Listener: ln2})
	loaded, err = second.PersistTo(path)
	require.NoError(t, err)
	assert.True(t, loaded)
	assert.Equal(t, first.URL(), second.URL())
	assert.True(t, second.AccessTokenValid(tok.AccessToken), "the access token survived")
	assert.True(t, second.RefreshTokenValid(tok.RefreshToken))
	subs := second.WebhookSubscriptions()
	require.Len(t, subs, 1)
	assert.Equal(t, org, subs[0].OrganizationID)
	require.Len(t, second.Consents(), 1)
	assert.Equal(t, org, second.Consents()[0].OrganizationID)

	rotated := qontoToken(t, second, refreshForm(tok.RefreshToken))
	require.Equal(t, http.StatusOK, rotated.status, string(rotated.raw))
	assert.NotEqual(t, tok.RefreshToken, rotated.RefreshToken)

	// The rotation was written: a third start knows the new token.
	second.Close()
	third := newTestQonto(t, QontoOptions{RedirectURIs: []string{appCallback}})
	_, err = third.PersistTo(path)
	require.NoError(t, err)
	assert.True(t, third.RefreshTokenValid(rotated.RefreshToken))
	assert.True(t, third.AccessTokenValid(rotated.AccessToken))
	revoke := send(t, third.server, request{method: http.MethodPost, url: third.RevokeURL(),
		form: third.withCreds(url.Values{"token": {rotated.RefreshToken}})})
	assert.Equal(t, http.StatusOK, revoke.status)
	assert.False(t, third.AccessTokenValid(rotated.AccessToken), "revoking the grant revokes its tokens")
	assert.Empty(t, third.Consents())

	fresh := newTestQonto(t, QontoOptions{})
	assert.False(t, fresh.AccessTokenValid(rotated.AccessToken), "a fake without the file knows nothing")
}

// TestPersistMollie: the Mollie fake keeps its organizations, tokens and
// client links.
func TestPersistMollie(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mollie.json")
	first := newTestMollie(t, MollieOptions{})
	_, err := first.PersistTo(path)
	require.NoError(t, err)
	tok := mollieToken(t, first, exchangeForm(code(t, first.server, authParams(first.server, "organizations.read")), appCallback))
	require.Equal(t, http.StatusOK, tok.status)
	first.Close()

	second := newTestMollie(t, MollieOptions{})
	loaded, err := second.PersistTo(path)
	require.NoError(t, err)
	require.True(t, loaded)
	assert.True(t, second.AccessTokenValid(tok.AccessToken))
	form := refreshForm(tok.RefreshToken)
	form.Set("redirect_uri", appCallback) // Mollie wants it again, as at the exchange
	again := mollieToken(t, second, form)
	assert.Equal(t, http.StatusOK, again.status, string(again.raw))
}

// TestPersistRefusesForeignFile: a state file of another provider, or not
// a state file at all, is refused and changes nothing.
func TestPersistRefusesForeignFile(t *testing.T) {
	dir := t.TempDir()
	m := newTestMollie(t, MollieOptions{})
	mpath := filepath.Join(dir, "mollie.json")
	_, err := m.PersistTo(mpath)
	require.NoError(t, err)
	code(t, m.server, authParams(m.server, "organizations.read"))
	m.Close()
	_, err = os.Stat(mpath)
	require.NoError(t, err)

	q := newTestQonto(t, QontoOptions{})
	_, err = q.PersistTo(mpath)
	assert.ErrorIs(t, err, ErrStateFile)
	garbage := filepath.Join(dir, "garbage.json")
	require.NoError(t, os.WriteFile(garbage, []byte("not json"), 0o600))
	_, err = q.PersistTo(garbage)
	assert.ErrorIs(t, err, ErrStateFile)
	assert.Empty(t, q.Consents())
}

// TestQontoConsentsPage: the page lists the organization, and its Revoke
// access button revokes the grant and delivers the webhook; a cross-site
// post is refused.
func TestQontoConsentsPage(t *testing.T) {
	q := newTestQonto(t, QontoOptions{})
	q.Handle("GET /sandbox/consents", q.ConsentsHandler("http://app.example.test/"))
	q.Handle("POST /sandbox/consents", q.ConsentsHandler("http://app.example.test/"))
	tok := qontoToken(t, q, exchangeForm(code(t, q.server, authParams(q.server, "offline_access organization.read")), appCallback))
	org := q.LastAuthorize().AccountID

	get := send(t, q.server, request{method: http.MethodGet, url: q.URL() + "/sandbox/consents"})
	assert.Equal(t, http.StatusOK, get.status)
	assert.Contains(t, string(get.raw), "Sandbox Company 1")
	assert.Contains(t, string(get.raw), "Revoke access")

	cross := send(t, q.server, request{method: http.MethodPost, url: q.URL() + "/sandbox/consents",
		form: url.Values{"organization_id": {org}}, header: http.Header{"Sec-Fetch-Site": {"cross-site"}}})
	assert.Equal(t, http.StatusForbidden, cross.status)
	assert.True(t, q.AccessTokenValid(tok.AccessToken), "nothing revoked")

	post := send(t, q.server, request{method: http.MethodPost, url: q.URL() + "/sandbox/consents",
		form: url.Values{"organization_id": {org}}, header: http.Header{"Sec-Fetch-Site": {"same-origin"}}})
	assert.Equal(t, http.StatusOK, post.status)
	assert.Contains(t, string(post.raw), "Access revoked for Sandbox Company 1")
	assert.Contains(t, string(post.raw), "no webhook was sent")
	assert.False(t, q.AccessTokenValid(tok.AccessToken))
	assert.Empty(t, q.Consents())

	again := send(t, q.server, request{method: http.MethodPost, url: q.URL() + "/sandbox/consents",
		form: url.Values{"organization_id": {org}}})
	assert.Equal(t, http.StatusNotFound, again.status)
}

// TestQontoConsentPageRevokeAccess: with ServeConsents, the consent page
// lists the organizations whose consent stands, each with a Revoke access
// button that posts to the connected-applications page, which revokes.
func TestQontoConsentPageRevokeAccess(t *testing.T) {
	q := newTestQonto(t, QontoOptions{ConsentPage: true})
	params := authParams(q.server, "offline_access organization.read")
	_, page := rawAuthorize(t, q.server, http.MethodGet, params)
	assert.NotContains(t, page, "Revoke access", "without ServeConsents the page has no such control")

	q.ServeConsents("/sandbox/consents", "http://app.example.test/")
	_, page = rawAuthorize(t, q.server, http.MethodGet, params)
	assert.Contains(t, page, `id="no-consents"`, "nobody authorized yet")

	form := cloneValues(params)
	form.Set("decision", "approve")
	resp, _ := rawAuthorize(t, q.server, http.MethodPost, form)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	org := q.LastAuthorize().AccountID
	loc, err := resp.Location()
	require.NoError(t, err)
	tok := qontoToken(t, q, exchangeForm(loc.Query().Get("code"), appCallback))

	_, page = rawAuthorize(t, q.server, http.MethodGet, params)
	assert.Contains(t, page, `<form method="post" action="/sandbox/consents"><input type="hidden" name="organization_id" value="`+org+`">`)
	assert.Contains(t, page, "Revoke access for Sandbox Company 1")

	post := send(t, q.server, request{method: http.MethodPost, url: q.URL() + "/sandbox/consents",
		form: url.Values{"organization_id": {org}}, header: http.Header{"Sec-Fetch-Site": {"same-origin"}}})
	assert.Equal(t, http.StatusOK, post.status)
	assert.False(t, q.AccessTokenValid(tok.AccessToken))
	_, page = rawAuthorize(t, q.server, http.MethodGet, params)
	assert.NotContains(t, page, "Revoke access for")
}

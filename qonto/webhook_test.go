package qonto_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/qonto"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// TestVerifySignatureVector is the example of Qonto's webhook guide.
func TestVerifySignatureVector(t *testing.T) {
	const header = "t=1704110400,v1=56aff06dc227db80d6568a5070f912c601c31f20451745d257cbc0b5dfa93805"
	at := time.Unix(1704110400, 0)
	body := []byte(`{"test":"data"}`)
	require.NoError(t, qonto.VerifySignature(header, body, at, []byte("test-secret")))
	assert.Equal(t, header, oauthlinktest.SignQontoWebhook("test-secret", at, body), "the fake signs alike")
}

func TestVerifySignatureRefusals(t *testing.T) {
	secret := []byte("test-secret")
	body := []byte(`{"test":"data"}`)
	at := time.Unix(1704110400, 0)
	good := oauthlinktest.SignQontoWebhook("test-secret", at, body)
	tests := []struct {
		name    string
		header  string
		body    []byte
		now     time.Time
		secrets [][]byte
	}{
		{"tampered body", good, []byte(`{"test":"datA"}`), at, [][]byte{secret}},
		{"wrong secret", good, body, at, [][]byte{[]byte("other-secret")}},
		{"older than 5 minutes", good, body, at.Add(5*time.Minute + time.Second), [][]byte{secret}},
		{"from the future", good, body, at.Add(-qonto.SignatureMaxSkew - time.Second), [][]byte{secret}},
		{"missing", "", body, at, [][]byte{secret}},
		{"no v1", "t=1704110400", body, at, [][]byte{secret}},
		{"no t", good[strings.Index(good, ",")+1:], body, at, [][]byte{secret}},
		{"bad hex", "t=1704110400,v1=zz", body, at, [][]byte{secret}},
		{"bad timestamp", strings.Replace(good, "t=1704110400", "t=abc", 1), body, at, [][]byte{secret}},
		{"no secret", good, body, at, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := qonto.VerifySignature(tt.header, tt.body, tt.now, tt.secrets...)
			require.ErrorIs(t, err, qonto.ErrSignature)
			assert.NotContains(t, err.Error(), "56aff06d")
		})
	}
	require.NoError(t, qonto.VerifySignature(good, body, at.Add(5*time.Minute), secret), "exactly 5 minutes old")
	require.NoError(t, qonto.VerifySignature(good, body, at.Add(-qonto.SignatureMaxSkew), secret), "within the skew")
	require.NoError(t, qonto.VerifySignature(good, body, at, []byte("new-secret"), secret), "rotation: any secret")
	require.NoError(t, qonto.VerifySignature("t=1704110400, v1="+strings.Repeat("00", 32)+","+good[len("t=1704110400,"):], body, at, secret),
		"any of several v1 values")
}

// webhookEnv is a WebhookHandler on a memstore holding owner u1 connected
// to organization org-1.
type webhookEnv struct {
	h    *qonto.WebhookHandler
	conn *oauthlink.Connector
	ms   *memstore.Store
	now  time.Time
}

const hookSecret = "a webhook secret of at least 32 bytes"

func newWebhookEnv(t *testing.T) *webhookEnv {
	t.Helper()
	fake := newFake(t)
	conn, st := connected(t, fake)
	ms := st.(*memstore.Store)
	c, err := ms.Load(context.Background(), "qonto", "u1")
	require.NoError(t, err)
	c.AccountID = "org-1"
	require.NoError(t, ms.Save(context.Background(), c))
	w := &webhookEnv{conn: conn, ms: ms, now: time.Unix(1_800_000_000, 0)}
	w.h, err = qonto.NewWebhookHandler(conn, ms, [][]byte{[]byte(hookSecret)}, w.options(""))
	require.NoError(t, err)
	return w
}

func (w *webhookEnv) options(clientID string) qonto.WebhookOptions {
	return qonto.WebhookOptions{ClientID: clientID, Now: func() time.Time { return w.now }, Logger: slog.New(slog.DiscardHandler)}
}

func (w *webhookEnv) post(t *testing.T, body string, sign func(string) string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/webhooks/qonto", strings.NewReader(body))
	r.Header.Set(qonto.SignatureHeader, sign(body))
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, r)
	return rec
}

func (w *webhookEnv) signed(body string) string {
	return oauthlinktest.SignQontoWebhook(hookSecret, w.now, []byte(body))
}

func (w *webhookEnv) status(t *testing.T) store.Status {
	t.Helper()
	c, err := w.ms.Load(context.Background(), "qonto", "u1")
	require.NoError(t, err)
	return c.Status
}

const revocation = `{"id":"01968118-96ca-702f-8d57-63c23479dd5b","subscription_id":"s","organization_id":"org-1",` +
	`"membership_id":"m","type":"v1/consent-revocations","created_at":"2025-01-01T10:00:00Z",` +
	`"data":{"client_id":"c","revoked_at":"2025-01-01T10:00:00Z"}}`

func TestWebhookHandler(t *testing.T) {
	w := newWebhookEnv(t)
	bad := func(string) string {
		return oauthlinktest.SignQontoWebhook("not the secret, not the secret!!", w.now, []byte(revocation))
	}
	assert.Equal(t, http.StatusUnauthorized, w.post(t, revocation, bad).Code)
	assert.Equal(t, store.StatusActive, w.status(t), "a bad signature changes nothing")

	other := strings.Replace(revocation, "v1/consent-revocations", "v1/transactions", 1)
	assert.Equal(t, http.StatusNoContent, w.post(t, other, w.signed).Code, "unknown types are acknowledged")
	assert.Equal(t, store.StatusActive, w.status(t))

	elsewhere := strings.Replace(revocation, "org-1", "org-2", 1)
	assert.Equal(t, http.StatusNoContent, w.post(t, elsewhere, w.signed).Code)
	assert.Equal(t, store.StatusActive, w.status(t), "another organization")

	assert.Equal(t, http.StatusNoContent, w.post(t, revocation, w.signed).Code)
	assert.Equal(t, store.StatusRevoked, w.status(t))
	assert.Equal(t, http.StatusNoContent, w.post(t, revocation, w.signed).Code, "a duplicate is acknowledged")
	assert.Equal(t, store.StatusRevoked, w.status(t))

	assert.Equal(t, http.StatusBadRequest, w.post(t, `{"type":"v1/consent-revocations"}`, w.signed).Code, "no organization")
	assert.Equal(t, http.StatusBadRequest, w.post(t, `not json`, w.signed).Code)
	big := `{"pad":"` + strings.Repeat("x", qonto.DefaultWebhookMaxBody) + `"}`
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.post(t, big, w.signed).Code)

	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/webhooks/qonto", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

// TestWebhookHandlerClientID: a revocation for another app sharing the
// endpoint is acknowledged and ignored.
func TestWebhookHandlerClientID(t *testing.T) {
	w := newWebhookEnv(t)
	h, err := qonto.NewWebhookHandler(w.conn, w.ms, [][]byte{[]byte(hookSecret)}, w.options("my-app"))
	require.NoError(t, err)
	w.h = h
	assert.Equal(t, http.StatusNoContent, w.post(t, revocation, w.signed).Code)
	assert.Equal(t, store.StatusActive, w.status(t), "client c is not my-app")
	assert.Equal(t, http.StatusNoContent, w.post(t, strings.Replace(revocation, `"client_id":"c"`, `"client_id":"my-app"`, 1), w.signed).Code)
	assert.Equal(t, store.StatusRevoked, w.status(t))
}

func TestNewWebhookHandlerErrors(t *testing.T) {
	fake := newFake(t)
	conn, ms := connected(t, fake)
	secrets := [][]byte{[]byte(hookSecret)}
	_, err := qonto.NewWebhookHandler(nil, ms, secrets, qonto.WebhookOptions{})
	assert.Error(t, err, "no connector")
	_, err = qonto.NewWebhookHandler(conn, ms, [][]byte{nil, {}}, qonto.WebhookOptions{})
	assert.Error(t, err, "no secret")
	_, err = qonto.NewWebhookHandler(conn, noScan{ms}, secrets, qonto.WebhookOptions{})
	assert.Error(t, err, "no store.Scanner")
}

// noScan hides the store's capabilities.
type noScan struct{ store.TokenStore }

// TestWebhookHandlerSeveralHolders: two owners linked organization org-1,
// each through their own Qonto user. A consent revocation names one
// membership, which oauthlink does not record: the handler marks neither,
// so the working connection is never declared dead.
func TestWebhookHandlerSeveralHolders(t *testing.T) {
	w := newWebhookEnv(t)
	ctx := context.Background()
	u1, err := w.ms.Load(ctx, "qonto", "u1")
	require.NoError(t, err)
	u2 := u1.Clone()
	u2.Owner, u2.Version = "u2", 0
	require.NoError(t, w.ms.Save(ctx, u2))

	assert.Equal(t, http.StatusNoContent, w.post(t, revocation, w.signed).Code)
	for _, owner := range []string{"u1", "u2"} {
		c, err := w.ms.Load(ctx, "qonto", owner)
		require.NoError(t, err)
		assert.Equal(t, store.StatusActive, c.Status, owner)
	}

	// Once u2 has gone, u1 is the only holder, and is marked.
	require.NoError(t, w.conn.Disconnect(ctx, "u2")) // u2 holds u1's tokens: the fake revokes them
	_, err = w.ms.Load(ctx, "qonto", "u2")
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Equal(t, http.StatusNoContent, w.post(t, revocation, w.signed).Code)
	assert.Equal(t, store.StatusRevoked, w.status(t))
}

// TestWebhookHandlerLateDelivery: the merchant revoked, then connected
// again; Qonto delivers the old revocation afterwards (late, or once
// more). The new connection's tokens were obtained after revoked_at, so
// it is left working.
func TestWebhookHandlerLateDelivery(t *testing.T) {
	w := newWebhookEnv(t)
	ctx := context.Background()
	c, err := w.ms.Load(ctx, "qonto", "u1")
	require.NoError(t, err)
	c.RefreshedAt = time.Date(2025, 1, 1, 10, 0, 1, 1e6, time.UTC) // past revoked_at's second
	require.NoError(t, w.ms.Save(ctx, c))
	assert.Equal(t, http.StatusNoContent, w.post(t, revocation, w.signed).Code)
	assert.Equal(t, store.StatusActive, w.status(t), "a newer consent")

	// revoked_at is to the second: tokens obtained within that second are
	// the revoked consent's.
	c, err = w.ms.Load(ctx, "qonto", "u1")
	require.NoError(t, err)
	c.RefreshedAt = time.Date(2025, 1, 1, 10, 0, 0, 600e6, time.UTC)
	require.NoError(t, w.ms.Save(ctx, c))
	assert.Equal(t, http.StatusNoContent, w.post(t, revocation, w.signed).Code)
	assert.Equal(t, store.StatusRevoked, w.status(t), "tokens obtained before revoked_at")
}

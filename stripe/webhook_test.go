package stripe_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/stripe"
)

const whsec = "whsec_oauthlinkTestSigningSecret"

func TestVerifySignature(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"evt_1","type":"account.application.deauthorized"}`)
	good := oauthlinktest.SignStripeWebhook(whsec, now, body)
	require.NoError(t, stripe.VerifySignature(good, body, now, []byte(whsec)))
	require.NoError(t, stripe.VerifySignature(good, body, now.Add(stripe.SignatureMaxAge), []byte("whsec_old"), []byte(whsec)), "a rolled secret")
	other := oauthlinktest.SignStripeWebhook("whsec_other", now, body)
	both := other + "," + strings.TrimPrefix(good, "t="+strconv.FormatInt(now.Unix(), 10)+",")
	require.NoError(t, stripe.VerifySignature(both+",v0=00", body, now, []byte(whsec)), "one v1 per secret while Stripe rolls it; v0 ignored")

	for name, c := range map[string]struct {
		header string
		body   []byte
		now    time.Time
		want   string
	}{
		"missing":        {"", body, now, "missing Stripe-Signature"},
		"other secret":   {other, body, now, "no secret matches"},
		"changed body":   {good, append(bytes.Clone(body), ' '), now, "no secret matches"},
		"too old":        {good, body, now.Add(stripe.SignatureMaxAge + time.Second), "older than"},
		"future":         {good, body, now.Add(-stripe.SignatureMaxSkew - time.Second), "future"},
		"v0 only":        {"t=" + strconv.FormatInt(now.Unix(), 10) + ",v0=" + strings.Repeat("ab", 32), body, now, "no v1"},
		"two timestamps": {good + ",t=1", body, now, "two timestamps"},
		"bad timestamp":  {"t=x,v1=" + strings.Repeat("ab", 32), body, now, "bad timestamp"},
	} {
		err := stripe.VerifySignature(c.header, c.body, c.now, []byte(whsec))
		require.ErrorIs(t, err, stripe.ErrSignature, name)
		assert.Contains(t, err.Error(), c.want, name)
		assert.NotContains(t, err.Error(), whsec, name)
	}
}

// webhookApp is the Stripe app with a Connect webhook endpoint at
// /webhooks/stripe that the fake delivers to, on a clock both share.
type webhookApp struct {
	*app
	clk  *oauthlinktest.Clock
	logs *bytes.Buffer
}

func newWebhookApp(t *testing.T, opts stripe.WebhookOptions) *webhookApp {
	t.Helper()
	w := &webhookApp{clk: oauthlinktest.NewClock(time.Time{}), logs: &bytes.Buffer{}}
	mux := http.NewServeMux()
	w.app = newAppWith(t, mux, func(srvURL string, o *oauthlinktest.StripeOptions) {
		o.Now = w.clk.Now
		o.WebhookURL, o.WebhookSecret = srvURL+"/webhooks/stripe", whsec
	})
	opts.Now = w.clk.Now
	opts.Logger = slog.New(slog.NewTextHandler(w.logs, nil))
	h, err := stripe.NewWebhookHandler(w.conn, [][]byte{[]byte(whsec)}, opts)
	require.NoError(t, err)
	mux.Handle("/webhooks/stripe", h)
	return w
}

func (w *webhookApp) connection(t *testing.T) *store.Connection {
	t.Helper()
	conn, err := w.store.Load(context.Background(), "stripe", "shop-1")
	require.NoError(t, err)
	return conn
}

// A user who disconnects the platform in their Stripe Dashboard: the
// signed webhook marks the connection revoked, nothing is sent to Stripe,
// and a repeated delivery changes nothing.
func TestWebhookHandlerDeauthorized(t *testing.T) {
	w := newWebhookApp(t, stripe.WebhookOptions{})
	ctx := context.Background()
	require.Equal(t, http.StatusSeeOther, w.connect(t, "").StatusCode)
	account := w.connection(t).AccountID
	require.NotEmpty(t, account)
	_, err := w.conn.Connection(ctx, "shop-1")
	require.NoError(t, err)
	deauths := w.fake.Revocations()

	w.clk.Advance(time.Minute)
	d, err := w.fake.UserDeauthorizes(ctx, account)
	require.NoError(t, err)
	require.NoError(t, d.Err)
	assert.Equal(t, http.StatusOK, d.Status)
	got := w.connection(t)
	assert.Equal(t, store.StatusRevoked, got.Status)
	assert.Empty(t, got.AccessToken)
	assert.Equal(t, deauths, w.fake.Revocations(), "nothing sent to Stripe")
	_, err = w.conn.Connection(ctx, "shop-1")
	require.ErrorIs(t, err, oauthlink.ErrDisconnected)

	d, err = w.fake.DeliverDeauthorized(ctx, account)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, d.Status, "a repeat is acknowledged")
	assert.Equal(t, store.StatusRevoked, w.connection(t).Status)
	assert.NotContains(t, w.logs.String(), whsec)
}

// A deauthorization delivered after the merchant connected again leaves
// the new connection alone.
func TestWebhookHandlerLateDeauthorization(t *testing.T) {
	w := newWebhookApp(t, stripe.WebhookOptions{})
	ctx := context.Background()
	require.Equal(t, http.StatusSeeOther, w.connect(t, "").StatusCode)
	account := w.connection(t).AccountID
	body := []byte(`{"id":"evt_late","type":"account.application.deauthorized","account":"` + account +
		`","created":` + strconv.FormatInt(w.clk.Now().Add(-time.Hour).Unix(), 10) + `,"data":{"object":{"id":"ca_x","object":"application"}}}`)
	resp := w.post(t, body, oauthlinktest.SignStripeWebhook(whsec, w.clk.Now(), body))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, store.StatusActive, w.connection(t).Status, "revoked an hour before these tokens were obtained")
	_, err := w.conn.Connection(ctx, "shop-1")
	require.NoError(t, err)
}

func (w *webhookApp) post(t *testing.T, body []byte, signature string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.srv.URL+"/webhooks/stripe", bytes.NewReader(body))
	require.NoError(t, err)
	if signature != "" {
		req.Header.Set(stripe.SignatureHeader, signature)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

// Every refusal answers without changing the connection.
func TestWebhookHandlerRefusals(t *testing.T) {
	w := newWebhookApp(t, stripe.WebhookOptions{ClientID: "ca_thisPlatform", MaxBody: 1024})
	require.Equal(t, http.StatusSeeOther, w.connect(t, "").StatusCode)
	account := w.connection(t).AccountID
	event := func(typ, application string) []byte {
		return []byte(`{"id":"evt_1","type":"` + typ + `","account":"` + account + `","created":` +
			strconv.FormatInt(w.clk.Now().Unix(), 10) + `,"data":{"object":{"id":"` + application + `","object":"application"}}}`)
	}
	sign := func(b []byte) string { return oauthlinktest.SignStripeWebhook(whsec, w.clk.Now(), b) }
	ours := event(stripe.EventAccountApplicationDeauthorized, "ca_thisPlatform")

	for name, c := range map[string]struct {
		body      []byte
		signature string
		want      int
	}{
		"unsigned":                  {ours, "", http.StatusBadRequest},
		"signed with another key":   {ours, oauthlinktest.SignStripeWebhook("whsec_other", w.clk.Now(), ours), http.StatusBadRequest},
		"another application":       {event(stripe.EventAccountApplicationDeauthorized, "ca_otherPlatform"), "", http.StatusOK},
		"another event type":        {event("account.updated", "ca_thisPlatform"), "", http.StatusOK},
		"too large":                 {append(bytes.Repeat([]byte(" "), 1025), ours...), "", http.StatusRequestEntityTooLarge},
		"not JSON":                  {[]byte("{"), "", http.StatusBadRequest},
		"deauthorized, no account":  {[]byte(`{"id":"evt_2","type":"account.application.deauthorized","data":{"object":{"id":"ca_thisPlatform"}}}`), "", http.StatusBadRequest},
		"deauthorized, data broken": {[]byte(`{"id":"evt_3","type":"account.application.deauthorized","account":"` + account + `","data":[]}`), "", http.StatusBadRequest},
	} {
		sig := c.signature
		if sig == "" && name != "unsigned" {
			sig = sign(c.body)
		}
		resp := w.post(t, c.body, sig)
		assert.Equal(t, c.want, resp.StatusCode, name)
		assert.Equal(t, store.StatusActive, w.connection(t).Status, name)
	}
	req, err := http.NewRequest(http.MethodGet, w.srv.URL+"/webhooks/stripe", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	resp = w.post(t, ours, sign(ours))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, store.StatusRevoked, w.connection(t).Status, "this platform's deauthorization counts")
}

func TestNewWebhookHandlerErrors(t *testing.T) {
	a := newApp(t)
	_, err := stripe.NewWebhookHandler(nil, [][]byte{[]byte(whsec)}, stripe.WebhookOptions{})
	require.Error(t, err)
	_, err = stripe.NewWebhookHandler(a.conn, [][]byte{nil, {}}, stripe.WebhookOptions{})
	require.ErrorContains(t, err, "signing secret")

	noScan, err := oauthlink.New(oauthlink.Config{
		Provider: a.fake.Provider(), ClientID: a.fake.ClientID(), ClientSecret: a.fake.ClientSecret(),
		RedirectURL: a.srv.URL + "/connect/stripe/callback", Store: struct{ store.TokenStore }{a.store},
		Owner:         func(*http.Request) (string, error) { return "shop-1", nil },
		CookieSecrets: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, AllowInsecureHTTP: true,
	})
	require.NoError(t, err)
	_, err = stripe.NewWebhookHandler(noScan, [][]byte{[]byte(whsec)}, stripe.WebhookOptions{})
	require.ErrorContains(t, err, "store.Scanner")
	require.False(t, errors.Is(err, stripe.ErrSignature))
}

// The fake refuses to deliver without an endpoint.
func TestDeliverDeauthorizedNeedsEndpoint(t *testing.T) {
	a := newApp(t)
	_, err := a.fake.DeliverDeauthorized(context.Background(), "acct_1")
	require.ErrorContains(t, err, "WebhookURL")
}

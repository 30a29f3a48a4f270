package oauthlink_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/fleet"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/qonto"
	"github.com/oauthlink/oauthlink/store"
)

// eventLog collects the events of a Connector.
type eventLog struct {
	mu    sync.Mutex
	kinds []oauthlink.EventKind
}

func (l *eventLog) add(_ context.Context, ev oauthlink.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.kinds = append(l.kinds, ev.Kind)
}

func (l *eventLog) count(k oauthlink.EventKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, x := range l.kinds {
		if x == k {
			n++
		}
	}
	return n
}

// TestMarkRevoked: the record stays, revoked, without tokens or retired
// grants; nothing is sent to the provider; Connection and Client treat
// the owner as not connected; calling it again, or for nobody, is nil.
func TestMarkRevoked(t *testing.T) {
	events := &eventLog{}
	e := newEnv(t, withConfig(func(c *oauthlink.Config) { c.Hooks.OnEvent = events.add }))
	ctx := context.Background()
	before := e.connected("mollie", "shop-1")
	_, err := e.links["mollie"].Connection(ctx, "shop-1") // cached
	require.NoError(t, err)
	calls := e.mollie.Calls(oauthlinktest.EndpointRevoke) + e.mollie.Calls(oauthlinktest.EndpointToken)

	marked, err := fleet.MarkRevoked(ctx, e.links["mollie"], "shop-1", fleet.Revocation{})
	require.NoError(t, err)
	require.True(t, marked)
	got, err := e.load("mollie", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, store.StatusRevoked, got.Status)
	assert.Empty(t, got.AccessToken)
	assert.Empty(t, got.RefreshToken)
	assert.Empty(t, got.Extra)
	assert.Empty(t, got.Retired)
	assert.Equal(t, before.AccountID, got.AccountID, "the account is kept")
	assert.Equal(t, calls, e.mollie.Calls(oauthlinktest.EndpointRevoke)+e.mollie.Calls(oauthlinktest.EndpointToken), "nothing sent to the provider")
	assert.Equal(t, 1, events.count(fleet.EventRevoked))

	_, err = e.links["mollie"].Connection(ctx, "shop-1")
	require.ErrorIs(t, err, oauthlink.ErrDisconnected, "the cache was dropped")
	assert.Contains(t, err.Error(), "revoked")
	resp, err := e.links["mollie"].Client("shop-1").Get(e.mollie.APIURL() + "/v2/organizations/me")
	if err == nil {
		resp.Body.Close()
	}
	require.ErrorIs(t, err, oauthlink.ErrDisconnected)

	marked, err = fleet.MarkRevoked(ctx, e.links["mollie"], "shop-1", fleet.Revocation{})
	require.NoError(t, err, "idempotent")
	require.False(t, marked, "already revoked")
	marked, err = fleet.MarkRevoked(ctx, e.links["mollie"], "nobody", fleet.Revocation{})
	require.NoError(t, err, "no connection")
	require.False(t, marked)
	assert.Equal(t, 1, events.count(fleet.EventRevoked), "no event for a no-op")
	_, err = fleet.MarkRevoked(ctx, e.links["mollie"], "", fleet.Revocation{})
	assert.ErrorIs(t, err, oauthlink.ErrInvalidOwner)

	require.NoError(t, e.links["mollie"].Disconnect(ctx, "shop-1"), "a revoked record can be deleted")
	_, err = e.load("mollie", "shop-1")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// TestQontoRevocationWebhook, end to end: connect through the callback,
// subscribe to consent revocations with the merchant's token, revoke the
// consent at the fake, which delivers the signed event to the app's
// WebhookHandler: the record is revoked without tokens, RequireConnection
// answers not connected, a duplicate delivery changes nothing, and the
// merchant can connect again.
func TestQontoRevocationWebhook(t *testing.T) {
	var e *env
	e = newEnv(t, withConfig(func(c *oauthlink.Config) {
		if c.Provider.Name != "qonto" {
			return
		}
		c.Scopes = []string{qonto.ScopeOrganizationRead, qonto.ScopeWebhook}
		c.Hooks.Identify = func(ctx context.Context, conn *oauthlink.Connection) error {
			api := qonto.Client{BaseURL: e.qonto.APIURL(), HTTPClient: e.qonto.Client()}
			return qonto.Identify(api, nil)(ctx, conn)
		}
	}))
	ctx := context.Background()
	conn := e.links["qonto"]
	secret := []byte("a webhook secret of at least 32 bytes")
	wh, err := qonto.NewWebhookHandler(conn, e.store, [][]byte{[]byte("an older secret, being rotated out"), secret},
		qonto.WebhookOptions{Now: e.clk.Now})
	require.NoError(t, err)
	hook := httptest.NewServer(wh)
	t.Cleanup(hook.Close)
	e.mux.Handle("/api/qonto", conn.RequireConnection("/connect/qonto")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	})))

	first := e.connected("qonto", "shop-1")
	require.NotEmpty(t, first.AccountID, "Identify recorded the organization")
	b := e.browser("shop-1")
	require.Equal(t, http.StatusOK, b.get(e.app.URL+"/api/qonto").Status)

	api := &qonto.Client{HTTPClient: conn.Client("shop-1"), BaseURL: e.qonto.APIURL()}
	sub, err := api.CreateWebhookSubscription(ctx, qonto.NewWebhookSubscription{
		CallbackURL: hook.URL, Types: []string{qonto.EventConsentRevocations}, Secret: store.Secret(secret)})
	require.NoError(t, err)
	assert.Equal(t, first.AccountID, sub.OrganizationID)
	require.Len(t, e.qonto.WebhookSubscriptions(), 1)

	deliveries, err := e.qonto.RevokeConsent(ctx, first.AccountID)
	require.NoError(t, err)
	require.Len(t, deliveries, 1)
	require.NoError(t, deliveries[0].Err)
	assert.Equal(t, http.StatusNoContent, deliveries[0].Status)
	assert.False(t, e.qonto.RefreshTokenValid(first.RefreshToken.Reveal()), "the fake revoked the grant")

	got, err := e.load("qonto", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, store.StatusRevoked, got.Status)
	assert.Empty(t, got.AccessToken)
	assert.Empty(t, got.RefreshToken)
	h := b.do(http.MethodGet, e.app.URL+"/api/qonto", http.Header{"Accept": {"application/json"}})
	assert.Equal(t, http.StatusUnauthorized, h.Status)
	assert.Contains(t, h.Body, `"not_connected"`)

	again, err := e.qonto.DeliverConsentRevocation(ctx, first.AccountID)
	require.NoError(t, err)
	require.Len(t, again, 1)
	assert.Equal(t, http.StatusNoContent, again[0].Status, "a duplicate is acknowledged")
	dup, err := e.load("qonto", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, got.Version, dup.Version, "a duplicate changes nothing")

	e.qonto.ApproveNextAs(first.AccountID)
	back := e.connected("qonto", "shop-1")
	assert.Equal(t, store.StatusActive, back.Status)
	assert.NotEmpty(t, back.AccessToken)
	assert.Equal(t, first.AccountID, back.AccountID)
	assert.Equal(t, http.StatusOK, b.get(e.app.URL+"/api/qonto").Status)
}

// TestMarkRevokedDuringRefresh: a revocation that arrives while a refresh
// holds the lock waits for it and then wins: the refreshed tokens are not
// left in the record, and the owner is not connected.
func TestMarkRevokedDuringRefresh(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("qonto", "shop-1")
	e.clk.Advance(2 * time.Hour)
	release := make(chan struct{})
	e.qonto.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{HoldUntil: release})
	refreshed := make(chan error, 1)
	go func() {
		_, err := e.links["qonto"].Connection(ctx, "shop-1")
		refreshed <- err
	}()
	require.Eventually(t, func() bool { return e.qonto.Refreshes() == 1 }, 10*time.Second, time.Millisecond)
	revoked := make(chan error, 1)
	go func() {
		_, err := fleet.MarkRevoked(ctx, e.instance("qonto"), "shop-1", fleet.Revocation{})
		revoked <- err
	}()
	close(release)
	require.NoError(t, <-refreshed)
	require.NoError(t, <-revoked)

	got, err := e.load("qonto", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, store.StatusRevoked, got.Status)
	assert.Empty(t, got.AccessToken)
	assert.Empty(t, got.RefreshToken)
	_, err = e.links["qonto"].Connection(ctx, "shop-1")
	assert.ErrorIs(t, err, oauthlink.ErrDisconnected)
}

// TestMarkRevokedMatchesTheRevokedConsent: a Revocation for another
// account, or older than the connection's tokens (the merchant connected
// again after revoking, and the webhook came late or again), marks
// nothing; the matching one marks. The check is made on the record read
// under the lock, so a reconnect between a webhook's scan and its mark is
// never revoked.
func TestMarkRevokedMatchesTheRevokedConsent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	conn := e.connected("mollie", "shop-1")
	conn.AccountID = "org_1" // as an Identify hook records it
	require.NoError(t, e.store.Save(ctx, conn))
	conn, err := e.load("mollie", "shop-1")
	require.NoError(t, err)
	connectedAt := conn.RefreshedAt
	require.False(t, connectedAt.IsZero())
	link := e.links["mollie"]

	for name, rev := range map[string]fleet.Revocation{
		"another account":                    {AccountID: conn.AccountID + "-other"},
		"revoked before these tokens":        {RevokedAt: connectedAt.Add(-fleet.RevokedAtPrecision - time.Millisecond)},
		"right account, before these tokens": {AccountID: conn.AccountID, RevokedAt: connectedAt.Add(-time.Minute)},
	} {
		marked, err := fleet.MarkRevoked(ctx, link, "shop-1", rev)
		require.NoError(t, err, name)
		assert.False(t, marked, name)
		got, err := e.load("mollie", "shop-1")
		require.NoError(t, err)
		assert.Equal(t, store.StatusActive, got.Status, name)
		assert.Equal(t, conn.AccessToken, got.AccessToken, name)
	}
	_, err = link.Connection(ctx, "shop-1")
	require.NoError(t, err, "the connection still works")

	// Providers state revoked_at to the second: tokens obtained within
	// that second belong to the revoked consent.
	marked, err := fleet.MarkRevoked(ctx, link, "shop-1", fleet.Revocation{AccountID: conn.AccountID, RevokedAt: connectedAt.Truncate(time.Second)})
	require.NoError(t, err)
	assert.True(t, marked, "revoked in the second the tokens were obtained: the same consent")
	got, err := e.load("mollie", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, store.StatusRevoked, got.Status)
}

// TestMarkAccountRevoked wires a webhook that names the provider account
// (Stripe's account.application.deauthorized) to the one connection that
// holds it: marked revoked with nothing sent to Stripe; a repeat, another
// account or a grant obtained after the revocation marks nothing; two
// owners holding the same account mark none.
func TestMarkAccountRevoked(t *testing.T) {
	events := &eventLog{}
	e := newEnv(t, withFake("stripe"), withConfig(func(c *oauthlink.Config) { c.Hooks.OnEvent = events.add }))
	ctx := context.Background()
	link := e.links["stripe"]
	conn := e.connected("stripe", "shop-1")
	require.NotEmpty(t, conn.AccountID, "the preset records stripe_user_id")
	revocations := e.stripe.Revocations()

	for name, rev := range map[string]fleet.Revocation{
		"another account":             {AccountID: conn.AccountID + "x"},
		"revoked before these tokens": {AccountID: conn.AccountID, RevokedAt: conn.RefreshedAt.Add(-time.Minute)},
	} {
		res, err := fleet.MarkAccountRevoked(ctx, link, rev)
		require.NoError(t, err, name)
		assert.Equal(t, fleet.AccountRevocation{}, res, name)
	}
	_, err := link.Connection(ctx, "shop-1")
	require.NoError(t, err, "the connection still works")

	res, err := fleet.MarkAccountRevoked(ctx, link, fleet.Revocation{AccountID: conn.AccountID})
	require.NoError(t, err)
	assert.Equal(t, fleet.AccountRevocation{Holders: 1, Owner: "shop-1", Marked: true}, res)
	got, err := e.load("stripe", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, store.StatusRevoked, got.Status)
	assert.Empty(t, got.AccessToken)
	assert.Equal(t, revocations, e.stripe.Revocations(), "nothing sent to Stripe: the grant is gone there")
	assert.Equal(t, 1, events.count(fleet.EventRevoked))
	_, err = link.Connection(ctx, "shop-1")
	require.ErrorIs(t, err, oauthlink.ErrDisconnected)

	res, err = fleet.MarkAccountRevoked(ctx, link, fleet.Revocation{AccountID: conn.AccountID})
	require.NoError(t, err)
	assert.Equal(t, fleet.AccountRevocation{}, res, "a repeated delivery changes nothing")
	assert.Equal(t, 1, events.count(fleet.EventRevoked))
}

func TestMarkAccountRevokedSeveralHolders(t *testing.T) {
	e := newEnv(t, withFake("stripe"))
	ctx := context.Background()
	link := e.links["stripe"]
	a := e.connected("stripe", "shop-1")
	b := e.connected("stripe", "shop-2")
	b.AccountID = a.AccountID // both linked the same Stripe account
	require.NoError(t, e.store.Save(ctx, b))

	res, err := fleet.MarkAccountRevoked(ctx, link, fleet.Revocation{AccountID: a.AccountID})
	require.NoError(t, err)
	assert.Equal(t, fleet.AccountRevocation{Holders: 2}, res, "whose consent ended is unknown: none is marked")
	for _, owner := range []string{"shop-1", "shop-2"} {
		got, err := e.load("stripe", owner)
		require.NoError(t, err)
		assert.Equal(t, store.StatusActive, got.Status, owner)
	}
}

func TestMarkAccountRevokedRefusals(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	_, err := fleet.MarkAccountRevoked(ctx, e.links["qonto"], fleet.Revocation{})
	require.ErrorIs(t, err, oauthlink.ErrConfig, "no account")

	e = newEnv(t, withStore(struct{ store.TokenStore }{e.store}))
	_, err = fleet.MarkAccountRevoked(ctx, e.links["qonto"], fleet.Revocation{AccountID: "org_1"})
	require.ErrorIs(t, err, oauthlink.ErrConfig, "a store that cannot scan")
	assert.Contains(t, err.Error(), "store.Scanner")
}

package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/qonto"
)

// connectionOf returns the provider's entry of GET /api/connections.
func connectionOf(t *testing.T, b *browser, d *demo, provider string) connectionJSON {
	t.Helper()
	var list []connectionJSON
	p := b.getJSON(d.URL+"/api/connections", &list)
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	for _, c := range list {
		if c.Provider == provider {
			return c
		}
	}
	t.Fatalf("no %s connection in %s", provider, p.Body)
	return connectionJSON{}
}

// postWebhook posts body to the demo's POST /webhooks/qonto with the
// signature header sig, as a server would (no cookie, no Origin) unless
// header adds some.
func postWebhook(t *testing.T, d *demo, body []byte, sig string, header ...string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, d.URL+qontoWebhookPath, strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(qonto.SignatureHeader, sig)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// revocationBody is a consent-revocation event for org, as the fake sends
// it.
func revocationBody(t *testing.T, org, clientID string) []byte {
	t.Helper()
	now := time.Now().UTC().Format(time.RFC3339)
	body, err := json.Marshal(map[string]any{
		"id": "3f0e2a1c-0000-4000-8000-000000000001", "subscription_id": "3f0e2a1c-0000-4000-8000-000000000002",
		"organization_id": org, "membership_id": "3f0e2a1c-0000-4000-8000-000000000003",
		"type": qonto.EventConsentRevocations, "created_at": now,
		"data": map[string]string{"client_id": clientID, "revoked_at": now},
	})
	require.NoError(t, err)
	return body
}

// TestQontoWebhookRevocation: in the sandbox, connecting Qonto subscribes
// the organization to consent revocations at POST /webhooks/qonto (the
// sandbox asks for the webhook scope); a revocation the fake delivers
// there marks the connection revoked, which /api/connections shows, and
// the organization API then answers "not connected". A bad signature gets
// 401 and changes nothing, even from another origin (the route is not
// behind the cross-origin check).
func TestQontoWebhookRevocation(t *testing.T) {
	d := startDemo(t, nil)
	b := newBrowser(t)
	b.login(d, "rita")
	p := b.connect(d, "qonto")
	require.Equal(t, "/", p.URL.Path, p.Body)

	conn := connectionOf(t, b, d, "qonto")
	assert.Equal(t, "active", conn.Status)
	assert.Contains(t, conn.Scopes, qonto.ScopeWebhook, "the sandbox asks for the webhook scope")
	assert.Contains(t, conn.Scopes, "organization.read")
	org := conn.Account
	require.NotEmpty(t, org)

	subs := d.fakeQonto.WebhookSubscriptions()
	require.Len(t, subs, 1, "subscribed right after the connect")
	assert.Equal(t, d.URL+"/webhooks/qonto", subs[0].CallbackURL)
	assert.Equal(t, []string{qonto.EventConsentRevocations}, subs[0].Types)
	assert.Equal(t, org, subs[0].OrganizationID)
	secret := subs[0].Secret
	require.GreaterOrEqual(t, len(secret), 32)

	t.Run("bad signature", func(t *testing.T) {
		body := revocationBody(t, org, d.fakeQonto.ClientID())
		wrong := oauthlinktest.SignQontoWebhook(strings.Repeat("x", 40), time.Now(), body)
		assert.Equal(t, http.StatusUnauthorized, postWebhook(t, d, body, wrong))
		assert.Equal(t, http.StatusUnauthorized, postWebhook(t, d, body, ""), "no signature")
		assert.Equal(t, http.StatusUnauthorized, postWebhook(t, d, body, wrong,
			"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"), "the handler answers, not the cross-origin check")
		old := oauthlinktest.SignQontoWebhook(secret, time.Now().Add(-time.Hour), body)
		assert.Equal(t, http.StatusUnauthorized, postWebhook(t, d, body, old), "an old signature")
		assert.Equal(t, "active", connectionOf(t, b, d, "qonto").Status, "nothing changed")
		var out map[string]any
		assert.Equal(t, http.StatusOK, b.getJSON(d.URL+"/api/qonto/organization", &out).Status)
	})

	t.Run("other event types are acknowledged", func(t *testing.T) {
		body := []byte(`{"id":"e1","organization_id":"` + org + `","type":"v1/transactions"}`)
		sig := oauthlinktest.SignQontoWebhook(secret, time.Now(), body)
		assert.Equal(t, http.StatusNoContent, postWebhook(t, d, body, sig))
		assert.Equal(t, "active", connectionOf(t, b, d, "qonto").Status)
	})

	t.Run("consent revoked", func(t *testing.T) {
		deliveries, err := d.fakeQonto.RevokeConsent(t.Context(), org)
		require.NoError(t, err)
		require.Len(t, deliveries, 1)
		require.NoError(t, deliveries[0].Err)
		assert.Equal(t, http.StatusNoContent, deliveries[0].Status)

		conn := connectionOf(t, b, d, "qonto")
		assert.Equal(t, "revoked", conn.Status)
		assert.Equal(t, org, conn.Account)

		var out map[string]any
		p := b.getJSON(d.URL+"/api/qonto/organization", &out)
		assert.Equal(t, http.StatusUnauthorized, p.Status, p.Body)
		assert.Equal(t, "not_connected", out["error"])
		assert.Equal(t, "qonto", out["provider"])

		assert.Contains(t, section(t, b.get(d.URL+"/").Body, "qonto"), `data-status="revoked"`)

		// Qonto delivers again when unsure: still 204, still revoked.
		deliveries, err = d.fakeQonto.DeliverConsentRevocation(t.Context(), org)
		require.NoError(t, err)
		require.Len(t, deliveries, 1)
		assert.Equal(t, http.StatusNoContent, deliveries[0].Status)
		assert.Equal(t, "revoked", connectionOf(t, b, d, "qonto").Status)
	})

	t.Run("connect again", func(t *testing.T) {
		p := b.connect(d, "qonto")
		require.Equal(t, "/", p.URL.Path, p.Body)
		assert.Equal(t, "active", connectionOf(t, b, d, "qonto").Status)
		var out map[string]any
		assert.Equal(t, http.StatusOK, b.getJSON(d.URL+"/api/qonto/organization", &out).Status)
	})

	logs := d.logs.String()
	assert.NotContains(t, logs, secret, "the webhook secret is never logged")
	assert.Contains(t, logs, "Qonto webhook subscription created")
	assert.Contains(t, logs, "qonto: consent revoked")
	assertNoSecretsLogged(t, logs)
}

// TestQontoWebhookSubscriptionFailure: a subscription that fails is logged
// and the connect succeeds all the same.
func TestQontoWebhookSubscriptionFailure(t *testing.T) {
	d := startDemo(t, nil)
	// The first API call (Identify) goes through, the subscription fails.
	d.fakeQonto.Fault(oauthlinktest.EndpointAPI, oauthlinktest.Fault{}, oauthlinktest.Fault{Status: 500, Body: "oops"})
	b := newBrowser(t)
	b.login(d, "sam")
	p := b.connect(d, "qonto")
	require.Equal(t, "/", p.URL.Path, p.Body)
	assert.Equal(t, http.StatusOK, p.Status)
	assert.Equal(t, "active", connectionOf(t, b, d, "qonto").Status)
	assert.Empty(t, d.fakeQonto.WebhookSubscriptions())
	assert.Contains(t, d.logs.String(), "Qonto webhook subscription failed")
}

// TestQontoWebhookLive: against the real Qonto (a client id), the route
// answers 501 without QONTO_WEBHOOK_SECRET, and with it checks signatures
// against that secret.
func TestQontoWebhookLive(t *testing.T) {
	q := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{})
	t.Cleanup(q.Close)
	live := func(secret string) func(*config) {
		return func(c *config) {
			c.Qonto = providerEnv{ClientID: q.ClientID(), ClientSecret: q.ClientSecret(), WebhookSecret: secret,
				AuthURL: q.AuthURL(), TokenURL: q.TokenURL(), RevokeURL: q.RevokeURL(), APIURL: q.APIURL()}
		}
	}
	t.Run("no secret", func(t *testing.T) {
		d := startDemo(t, live(""))
		body := revocationBody(t, "org", q.ClientID())
		assert.Equal(t, http.StatusNotImplemented, postWebhook(t, d, body, ""))
		assert.Contains(t, d.logs.String(), "Qonto webhooks off: QONTO_WEBHOOK_SECRET is not set")
	})
	t.Run("with a secret", func(t *testing.T) {
		secret := strings.Repeat("s", 32)
		d := startDemo(t, live(secret))
		b := newBrowser(t)
		b.login(d, "uma")
		p := b.get(d.URL + "/connect/qonto") // the fake approves at once
		require.Equal(t, http.StatusOK, p.Status, p.Body)
		conn := connectionOf(t, b, d, "qonto")
		assert.NotContains(t, conn.Scopes, qonto.ScopeWebhook, "the webhook scope is the sandbox's default only")
		assert.Empty(t, q.WebhookSubscriptions(), "no webhook scope, no subscription")

		body := revocationBody(t, conn.Account, q.ClientID())
		wrong := oauthlinktest.SignQontoWebhook(strings.Repeat("x", 32), time.Now(), body)
		assert.Equal(t, http.StatusUnauthorized, postWebhook(t, d, body, wrong))
		assert.Equal(t, "active", connectionOf(t, b, d, "qonto").Status)
		assert.Equal(t, http.StatusNoContent, postWebhook(t, d, body, oauthlinktest.SignQontoWebhook(secret, time.Now(), body)))
		assert.Equal(t, "revoked", connectionOf(t, b, d, "qonto").Status)
	})
}

// TestKeeperLifecycle: the demo runs a keeper per provider from start to
// close, each pass's report in the log at Info, and close stops them (no
// goroutine outlives the tests: TestMain checks with goleak).
func TestKeeperLifecycle(t *testing.T) {
	d := startDemo(t, nil)
	require.NotNil(t, d.keepers, "the memory store scans: keepers on")
	assert.Contains(t, d.logs.String(), "keepers started")
	for _, provider := range []string{"mollie", "qonto"} {
		require.Eventually(t, func() bool {
			return strings.Contains(d.logs.String(), `level=INFO msg="oauthlink: keeper pass" provider=`+provider)
		}, 10*time.Second, 10*time.Millisecond, "a first pass at start for %s", provider)
	}
	select {
	case <-d.keepers:
		t.Fatal("the keepers stopped while the demo runs")
	default:
	}
	d.close()
	select {
	case <-d.keepers:
	default:
		t.Fatal("close returned before the keepers stopped")
	}
	assert.Contains(t, d.logs.String(), "keepers stopped")
}

// TestQontoScopes: the sandbox adds the webhook scope to QONTO_SCOPES or
// to the default (an empty QONTO_SCOPES is the default, as the connector
// reads it); the real Qonto gets QONTO_SCOPES as given.
func TestQontoScopes(t *testing.T) {
	p := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{})
	defer p.Close()
	prov := p.Provider()
	assert.Equal(t, []string{"organization.read", "webhook"}, qontoScopes(providerEnv{}, prov))
	assert.Equal(t, []string{"organization.read", "webhook"}, qontoScopes(providerEnv{Scopes: splitScopes("")}, prov))
	assert.Equal(t, []string{"membership.read", "webhook"}, qontoScopes(providerEnv{Scopes: []string{"membership.read"}}, prov))
	assert.Equal(t, []string{"webhook", "organization.read"}, qontoScopes(providerEnv{Scopes: []string{"webhook", "organization.read"}}, prov))
	live := providerEnv{ClientID: "q", ClientSecret: "s"}
	assert.Empty(t, qontoScopes(live, prov), "the connector's default")
	live.Scopes = []string{"organization.read"}
	assert.Equal(t, []string{"organization.read"}, qontoScopes(live, prov))
}

package oauthlink_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/fleet"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
)

// The Provider hooks for providers that are not RFC-clean (issue 17),
// against the Stripe and GoCardless fakes: the account id from the token
// response, access tokens that never expire, and a custom revocation that
// keeps the engine's guarantees.

func TestAccountIDFromTokenResponse(t *testing.T) {
	for _, provider := range []string{"stripe", "gocardless"} {
		t.Run(provider, func(t *testing.T) {
			identified := 0
			e := newEnv(t, withFake(provider), withConfig(func(c *oauthlink.Config) {
				c.Hooks.Identify = func(_ context.Context, conn *oauthlink.Connection) error {
					identified++
					assert.NotEmpty(t, conn.AccountID, "AccountID is set before Identify runs")
					return nil
				}
			}))
			conn := e.connected(provider, "shop-1")
			f := e.fakes[provider]
			assert.Equal(t, f.LastAuthorize().AccountID, conn.AccountID)
			assert.NotEmpty(t, conn.AccountID)
			assert.Equal(t, 1, identified)
			assert.Zero(t, f.Calls(oauthlinktest.EndpointAPI), "no API call was needed to identify the account")
			assert.True(t, conn.Expiry.IsZero(), "access tokens that never expire get no guessed expiry")
			assert.True(t, f.AccessTokenValid(conn.AccessToken.Reveal()))
			assert.Equal(t, []oauthlinktest.ClientAuth{oauthlinktest.ClientAuthBody}, f.ClientAuths(oauthlinktest.EndpointToken))

			// Never due: reading the connection again later spends nothing.
			e.clk.Advance(400 * 24 * time.Hour)
			got, err := e.links[provider].Connection(context.Background(), "shop-1")
			require.NoError(t, err)
			assert.Equal(t, conn.AccessToken, got.AccessToken)
			assert.Zero(t, f.Refreshes())

			// The token response's other members (Stripe's publishable key,
			// the tokens) are never logged.
			logs := e.logs.String()
			for _, secret := range []string{conn.AccessToken.Reveal(), conn.RefreshToken.Reveal(), "pk_test_", f.ClientSecret()} {
				if secret != "" {
					assert.NotContains(t, logs, secret)
				}
			}
		})
	}
}

func TestAccountIDMissingRefusesTheGrant(t *testing.T) {
	e := newEnv(t, withFake("stripe"), withProvider(func(p *oauthlink.Provider) {
		if p.Name == "stripe" {
			p.AccountIDField = "stripe_account" // a member the answer does not carry
		}
	}))
	h := e.browser("shop-1").connect("stripe", "")
	assert.NotEqual(t, http.StatusSeeOther, h.Status)
	require.Error(t, e.lastErr())
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrExchange)
	assert.Contains(t, e.lastErr().Error(), "no stripe_account string")
	_, err := e.load("stripe", "shop-1")
	assert.ErrorIs(t, err, store.ErrNotFound, "nothing is stored")
	// Without its account the grant cannot be deauthorized: the custom
	// revoke refuses rather than guessing, and the failure is logged.
	assert.Zero(t, e.stripe.Revocations())
	assert.Contains(t, e.logs.String(), "revoking an unsaved grant failed")
	assert.Contains(t, e.logs.String(), "stripe_user_id is unknown")
}

func TestLongLivedTokenWithoutRefreshToken(t *testing.T) {
	e := newEnv(t, withFake("gocardless"))
	conn := e.connected("gocardless", "shop-1")
	assert.Empty(t, conn.RefreshToken)
	assert.True(t, conn.Expiry.IsZero())
	api := e.links["gocardless"].Client("shop-1")
	resp, err := api.Get(e.gocardless.APIURL() + "/creditors")
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// The user disconnects the app at GoCardless: the 401 marks the
	// connection reauth_required; nothing is refreshed.
	e.gocardless.RevokeAccess(conn.AccountID)
	_, err = api.Get(e.gocardless.APIURL() + "/creditors")
	require.ErrorIs(t, err, oauthlink.ErrReauthRequired)
	stored, err := e.load("gocardless", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, store.StatusReauthRequired, stored.Status)
	assert.Zero(t, e.gocardless.Refreshes())
	assert.Equal(t, 1, e.gocardless.Exchanges())
}

func TestCustomRevokeOnDisconnect(t *testing.T) {
	e := newEnv(t, withFake("stripe"))
	conn := e.connected("stripe", "shop-1")
	require.NoError(t, e.links["stripe"].Disconnect(context.Background(), "shop-1"))
	assert.True(t, e.stripe.Deauthorized(conn.AccountID))
	assert.False(t, e.stripe.AccessTokenValid(conn.AccessToken.Reveal()))
	assert.Equal(t, []oauthlinktest.ClientAuth{oauthlinktest.ClientAuthBasic}, e.stripe.ClientAuths(oauthlinktest.EndpointRevoke))
	_, err := e.load("stripe", "shop-1")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestCustomRevokeFailureStaysPendingForKeeper(t *testing.T) {
	e := keeperEnv(t, withFake("stripe"))
	conn := e.connected("stripe", "shop-1")
	for range 4 {
		e.stripe.Fault(oauthlinktest.EndpointRevoke, oauthlinktest.Fault{Status: http.StatusServiceUnavailable,
			Body: `{"error":"temporarily_unavailable","error_description":"try again"}`, ContentType: "application/json"})
	}
	err := e.links["stripe"].Disconnect(context.Background(), "shop-1")
	require.ErrorIs(t, err, oauthlink.ErrRevoke)
	var pe *oauthlink.ProviderError
	require.True(t, errors.As(err, &pe), "the custom revoke's ProviderError reaches the caller: %v", err)
	assert.Equal(t, http.StatusServiceUnavailable, pe.StatusCode)
	assert.False(t, e.stripe.Deauthorized(conn.AccountID))
	stored, err := e.load("stripe", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, store.StatusDisconnected, stored.Status, "kept for a retry")

	k, _ := e.keeper(e.links["stripe"], fleet.KeeperOptions{})
	rep, err := k.Pass(passCtx(t))
	require.NoError(t, err)
	assert.Equal(t, 1, rep.RevocationsCompleted)
	assert.True(t, e.stripe.Deauthorized(conn.AccountID))
	_, err = e.load("stripe", "shop-1")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestCustomRevokeAccountAwareReconnect(t *testing.T) {
	e := newEnv(t, withFake("stripe"))
	first := e.connected("stripe", "shop-1")

	// The same Stripe account again: one authorization, nothing retired,
	// nothing deauthorized.
	e.stripe.ApproveNextAs(first.AccountID)
	second := e.connected("stripe", "shop-1")
	assert.Equal(t, first.AccountID, second.AccountID)
	assert.Empty(t, second.Retired)
	assert.Zero(t, e.stripe.Revocations())
	assert.True(t, e.stripe.AccessTokenValid(second.AccessToken.Reveal()))

	// Another account: the old one is deauthorized, with its account id.
	third := e.connected("stripe", "shop-1")
	require.NotEqual(t, first.AccountID, third.AccountID)
	assert.True(t, e.stripe.Deauthorized(first.AccountID))
	assert.False(t, e.stripe.Deauthorized(third.AccountID))
	assert.Equal(t, 1, e.stripe.Revocations(), "the old account is deauthorized once")
	stored, err := e.load("stripe", "shop-1")
	require.NoError(t, err)
	assert.Empty(t, stored.Retired, "confirmed and dropped")
}

func TestCustomRevokeRetiredKeepsAccount(t *testing.T) {
	e := newEnv(t, withFake("stripe"))
	first := e.connected("stripe", "shop-1")
	for range 4 {
		e.stripe.Fault(oauthlinktest.EndpointRevoke, oauthlinktest.Fault{Status: http.StatusBadGateway})
	}
	third := e.connected("stripe", "shop-1")
	stored, err := e.load("stripe", "shop-1")
	require.NoError(t, err)
	require.Len(t, stored.Retired, 1, "the failed deauthorization stays recorded")
	assert.Equal(t, first.AccountID, stored.Retired[0].AccountID)
	assert.Equal(t, third.AccountID, stored.AccountID)

	require.NoError(t, e.links["stripe"].Disconnect(context.Background(), "shop-1"))
	assert.True(t, e.stripe.Deauthorized(first.AccountID))
	assert.True(t, e.stripe.Deauthorized(third.AccountID))
}

func TestCustomRevokeConfig(t *testing.T) {
	base := newEnv(t, withFake("stripe")).cfgs["stripe"]
	tests := []struct {
		name string
		edit func(p *oauthlink.Provider)
		want string
	}{
		{"revoke without URL", func(p *oauthlink.Provider) { p.RevokeURL = "" }, "Revoke needs RevokeURL"},
		{"per account without revoke", func(p *oauthlink.Provider) { p.Revoke = nil }, "RevokesAccount needs Revoke and AccountIDField"},
		{"per account without field", func(p *oauthlink.Provider) { p.AccountIDField = "" }, "RevokesAccount needs Revoke and AccountIDField"},
		{"standard member as account", func(p *oauthlink.Provider) { p.RevokesAccount, p.AccountIDField = false, "scope" }, "not a provider-specific"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.edit(&cfg.Provider)
			_, err := oauthlink.New(cfg)
			require.ErrorIs(t, err, oauthlink.ErrConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	assert.Contains(t, fmt.Sprint(base.Provider), "Revoke:custom RevokesAccount:true")
	js, err := json.Marshal(base.Provider)
	require.NoError(t, err, "a Provider with a Revoke function still marshals")
	assert.NotContains(t, string(js), "Revoke\":")
}

func TestAdyenPKCEAndRotatingRefresh(t *testing.T) {
	e := newEnv(t, withFake("adyen"))
	conn := e.connected("adyen", "shop-1")
	assert.Equal(t, "S256", e.adyen.LastAuthorize().CodeChallengeMethod)
	assert.Contains(t, conn.Extra.Reveal(), e.adyen.LastAuthorize().AccountID, "the accounts list is kept in Extra")
	assert.Empty(t, conn.AccountID, "a list names no single account")
	assert.Equal(t, []oauthlinktest.ClientAuth{oauthlinktest.ClientAuthBasic}, e.adyen.ClientAuths(oauthlinktest.EndpointToken))

	e.clk.Advance(time.Hour)
	got, err := e.links["adyen"].Connection(context.Background(), "shop-1")
	require.NoError(t, err)
	assert.NotEqual(t, conn.RefreshToken, got.RefreshToken, "refreshed and rotated")
	assert.False(t, e.adyen.RefreshTokenValid(conn.RefreshToken.Reveal()))
	assert.True(t, e.adyen.RefreshTokenValid(got.RefreshToken.Reveal()))
	assert.Equal(t, 1, e.adyen.Refreshes())
	assert.Zero(t, e.adyen.ReuseDetections())

	// No revocation endpoint: Disconnect forgets without calling Adyen.
	require.NoError(t, e.links["adyen"].Disconnect(context.Background(), "shop-1"))
	assert.Zero(t, e.adyen.Calls(oauthlinktest.EndpointRevoke))
	_, err = e.load("adyen", "shop-1")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestAccountIDMalformedInAnswer(t *testing.T) {
	const canary = "sk_test_CANARYaccessXYZ"
	tests := []struct {
		name, member string
	}{
		{"missing", ``},
		{"not a string", `,"stripe_user_id":42`},
		{"null", `,"stripe_user_id":null`},
		{"empty", `,"stripe_user_id":""`},
		{"space", `,"stripe_user_id":"acct_1 2"`},
		{"markup", `,"stripe_user_id":"acct_<script>"`},
		{"non-ASCII", `,"stripe_user_id":"acct_é"`},
		{"too long", `,"stripe_user_id":"` + strings.Repeat("a", 256) + `"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, withFake("stripe"))
			e.stripe.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Status: http.StatusOK, ContentType: "application/json",
				Body: `{"access_token":"` + canary + `","refresh_token":"rt_CANARYrefreshXYZ","token_type":"bearer","scope":"read_write"` + tc.member + `}`})
			h := e.browser("shop-1").connect("stripe", "")
			assert.NotEqual(t, http.StatusSeeOther, h.Status)
			require.ErrorIs(t, e.lastErr(), oauthlink.ErrExchange)
			assert.Contains(t, e.lastErr().Error(), "stripe_user_id")
			_, err := e.load("stripe", "shop-1")
			assert.ErrorIs(t, err, store.ErrNotFound)
			for _, leak := range []string{canary, "rt_CANARYrefreshXYZ", "<script>", "é", strings.Repeat("a", 256)} {
				assert.NotContains(t, e.lastErr().Error(), leak)
				assert.NotContains(t, e.logs.String(), leak)
				assert.NotContains(t, h.Body, leak)
			}
		})
	}
	t.Run("longest accepted", func(t *testing.T) {
		e := newEnv(t, withFake("stripe"))
		id := "acct_" + strings.Repeat("Z", 250)
		e.stripe.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Status: http.StatusOK, ContentType: "application/json",
			Body: `{"access_token":"` + canary + `","refresh_token":"rt_x","token_type":"bearer","stripe_user_id":"` + id + `"}`})
		conn := e.connected("stripe", "shop-1")
		assert.Equal(t, id, conn.AccountID)
	})
}

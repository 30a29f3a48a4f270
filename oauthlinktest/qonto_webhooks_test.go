package oauthlinktest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQontoWebhookSubscriptions: the endpoint validates its body, keeps
// the subscription for the token's organization, and RevokeConsent
// revokes the grant and delivers a signed event to the callback.
func TestQontoWebhookSubscriptions(t *testing.T) {
	q := newTestQonto(t, QontoOptions{})
	tok := qontoToken(t, q, exchangeForm(code(t, q.server, authParams(q.server, "offline_access organization.read webhook")), appCallback))
	require.Equal(t, http.StatusOK, tok.status)
	access, refresh := tok.AccessToken, tok.RefreshToken

	var mu sync.Mutex
	var got []http.Header
	var bodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r.Header.Clone()), append(bodies, string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)

	post := func(token, body string) (int, map[string]any) {
		req, err := http.NewRequest(http.MethodPost, q.APIURL()+"/v2/webhook_subscriptions", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := q.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	status, _ := post("nope", `{}`)
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _ = post(access, `{"callback_url":"/relative","types":["v1/consent-revocations"]}`)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	status, _ = post(access, `{"callback_url":"`+hook.URL+`","types":[]}`)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	status, _ = post(access, `{"callback_url":"`+hook.URL+`","types":["v1/consent-revocations"],"secret":"short"}`)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	status, out := post(access, `{"callback_url":"`+hook.URL+`","types":["v1/consent-revocations"]}`)
	require.Equal(t, http.StatusCreated, status)
	org := q.LastAuthorize().AccountID
	assert.Equal(t, org, out["organization_id"])
	subs := q.WebhookSubscriptions()
	require.Len(t, subs, 1)
	assert.True(t, strings.HasPrefix(subs[0].Secret, "whsec_"), "a generated secret")
	assert.Equal(t, subs[0].Secret, out["secret"])

	ds, err := q.RevokeConsent(context.Background(), org)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, http.StatusNoContent, ds[0].Status)
	assert.False(t, q.AccessTokenValid(access))
	assert.False(t, q.RefreshTokenValid(refresh))
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 1)
	var ev struct {
		Type           string `json:"type"`
		OrganizationID string `json:"organization_id"`
		Data           struct {
			ClientID string `json:"client_id"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(bodies[0]), &ev))
	assert.Equal(t, "v1/consent-revocations", ev.Type)
	assert.Equal(t, org, ev.OrganizationID)
	assert.Equal(t, q.ClientID(), ev.Data.ClientID)
	sig := got[0].Get("X-Qonto-Signature")
	ts := strings.TrimPrefix(strings.Split(sig, ",")[0], "t=")
	assert.Equal(t, SignQontoWebhook(subs[0].Secret, q.now(), []byte(bodies[0])), sig, "signed at %s", ts)

	ds, err = q.DeliverConsentRevocation(context.Background(), "another-org")
	require.NoError(t, err)
	assert.Empty(t, ds, "no subscription for that organization")
}

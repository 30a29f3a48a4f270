package qonto_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/qonto"
)

// TestCreateWebhookSubscriptionErrors: the call needs a callback URL and a
// type before anything is sent, and Qonto's 403 for a token without the
// webhook scope is an *APIError. (The success path runs end to end in the
// root package's TestQontoRevocationWebhook.)
func TestCreateWebhookSubscriptionErrors(t *testing.T) {
	fake := newFake(t)
	conn, _ := connected(t, fake)
	api := &qonto.Client{HTTPClient: conn.Client("u1"), BaseURL: fake.APIURL(), AllowInsecureHTTP: true}
	_, err := api.CreateWebhookSubscription(context.Background(), qonto.NewWebhookSubscription{Types: []string{qonto.EventConsentRevocations}})
	require.ErrorIs(t, err, qonto.ErrClientConfig)
	_, err = api.CreateWebhookSubscription(context.Background(), qonto.NewWebhookSubscription{CallbackURL: "https://app.example/hook"})
	require.ErrorIs(t, err, qonto.ErrClientConfig)

	_, err = api.CreateWebhookSubscription(context.Background(), qonto.NewWebhookSubscription{
		CallbackURL: "https://app.example/hook", Types: []string{qonto.EventConsentRevocations}})
	var ae *qonto.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusForbidden, ae.StatusCode)
	assert.Empty(t, fake.WebhookSubscriptions())
}

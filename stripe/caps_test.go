package stripe_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/stripe"
)

// begin starts a flow with params and returns the authorization URL.
func begin(t *testing.T, a *app, params url.Values) (*url.URL, error) {
	t.Helper()
	flow, err := a.conn.Begin(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/connect/stripe", nil),
		oauthlink.BeginOptions{Params: params})
	if err != nil {
		return nil, err
	}
	return url.Parse(flow.AuthURL.Reveal())
}

// suggested_capabilities is documented for Express accounts only
// (stripe-node: "Express only"); the preset is for Standard accounts, so
// the connector refuses it before anything is sent.
func TestSuggestedCapabilitiesRefused(t *testing.T) {
	a := newApp(t)
	for _, name := range []string{"suggested_capabilities[]", "suggested_capabilities"} {
		_, err := begin(t, a, url.Values{name: {"card_payments"}})
		assert.ErrorIs(t, err, oauthlink.ErrBadRequest, name)
	}
	assert.NotContains(t, stripe.Provider().AllowedAuthParams, "suggested_capabilities[]")
}

// Every stripe_user[…] field Stripe's libraries list is allowed, the
// Japanese ones included, and reaches the authorization URL.
func TestPrefillFields(t *testing.T) {
	a := newApp(t)
	params := url.Values{
		stripe.ParamPrefix + "country]":         {"JP"},
		stripe.ParamPrefix + "first_name_kana]": {"タロウ"},
		stripe.ParamPrefix + "last_name_kanji]": {"山田"},
		stripe.ParamPrefix + "gender]":          {"female"},
		stripe.ParamPrefix + "building_kanji]":  {"ビル"},
		stripe.ParamPrefix + "email]":           {"owner@example.test"},
	}
	u, err := begin(t, a, params)
	require.NoError(t, err)
	for k, v := range params {
		assert.Equal(t, v, u.Query()[k], k)
	}
	for _, f := range []string{"first_name_kana", "first_name_kanji", "last_name_kana", "last_name_kanji", "gender",
		"block_kana", "block_kanji", "building_kana", "building_kanji"} {
		assert.Contains(t, stripe.Provider().AllowedAuthParams, stripe.ParamPrefix+f+"]")
	}

	_, err = begin(t, a, url.Values{stripe.ParamPrefix + "password]": {"x"}})
	assert.ErrorIs(t, err, oauthlink.ErrBadRequest, "a field Stripe does not document is refused")
}

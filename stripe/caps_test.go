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

// oauthlink sends every authorization parameter once (RFC 6749 §3.1), so
// one capability is suggested per flow; a second value is refused before
// anything is sent.
func TestSuggestedCapability(t *testing.T) {
	a := newApp(t)
	begin := func(v ...string) (*url.URL, error) {
		flow, err := a.conn.Begin(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/connect/stripe", nil),
			oauthlink.BeginOptions{Params: url.Values{stripe.ParamSuggestedCapabilities: v}})
		if err != nil {
			return nil, err
		}
		return url.Parse(flow.AuthURL.Reveal())
	}
	u, err := begin("card_payments")
	require.NoError(t, err)
	assert.Equal(t, []string{"card_payments"}, u.Query()[stripe.ParamSuggestedCapabilities])

	_, err = begin("card_payments", "transfers")
	assert.ErrorIs(t, err, oauthlink.ErrBadRequest)
}

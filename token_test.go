package oauthlink

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTokenClientErrors: the token client's errors reach callers as this
// package's types and texts: *ProviderError for an error answer,
// errTokenResponse for an unusable one, the transport's cause otherwise.
func TestTokenClientErrors(t *testing.T) {
	reply := func(status int, header http.Header, body string) *scriptedTransport {
		return &scriptedTransport{answer: func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(strings.NewReader(body))}, nil
		}}
	}

	t.Run("an error answer is a *ProviderError", func(t *testing.T) {
		rt := reply(429, http.Header{"Retry-After": {"7"}}, `{"error":"slow_down","error_description":"wait \"now\""}`)
		c := endpointConnector(t, AuthStyleBasic, &http.Client{Transport: rt})
		_, err := c.e.tokenRequest(context.Background(), c.e.newForm())
		var te *ProviderError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, &ProviderError{StatusCode: 429, Code: "slow_down", Description: "wait now", RetryAfter: 7 * time.Second}, te)
		assert.EqualError(t, err, "oauthlink: token endpoint answered 429 slow_down: wait now")

		err = c.e.revoke(context.Background(), "tok", "access_token", "")
		require.ErrorAs(t, err, &te)
		assert.Equal(t, 429, te.StatusCode)
	})

	t.Run("an unusable answer is errTokenResponse", func(t *testing.T) {
		rt := reply(200, http.Header{}, `{"token_type":"bearer","secret":"do not echo"}`)
		c := endpointConnector(t, AuthStyleBasic, &http.Client{Transport: rt})
		_, err := c.e.tokenRequest(context.Background(), c.e.newForm())
		require.ErrorIs(t, err, errTokenResponse)
		assert.EqualError(t, err, "oauthlink: malformed token response: missing access_token")
	})

	t.Run("no answer keeps its cause", func(t *testing.T) {
		cause := errors.New("broken transport")
		rt := &scriptedTransport{answer: func(*http.Request) (*http.Response, error) { return nil, cause }}
		c := endpointConnector(t, AuthStyleBasic, &http.Client{Transport: rt})
		_, err := c.e.tokenRequest(context.Background(), c.e.newForm())
		require.ErrorIs(t, err, cause)
		assert.EqualError(t, err, "oauthlink: POST https://provider.example/token: broken transport")
		assert.NotErrorIs(t, err, errTokenResponse)
	})

	t.Run("a 2xx revocation answer is success", func(t *testing.T) {
		c := endpointConnector(t, AuthStyleBody, &http.Client{Transport: reply(200, http.Header{}, ``)})
		require.NoError(t, c.e.revoke(context.Background(), "tok", "access_token", ""))
	})
}

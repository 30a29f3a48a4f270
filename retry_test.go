package oauthlink_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
)

// TestRetryAfterIsCappedNeverOverflows: a Retry-After on a refused refresh
// becomes ProviderError.RetryAfter; any count of seconds above the cap,
// including counts whose nanoseconds overflow time.Duration or whose digits
// overflow int64, is the cap (one hour), never a wrapped-around value or 0.
func TestRetryAfterIsCappedNeverOverflows(t *testing.T) {
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"7", 7 * time.Second},
		{"3600", time.Hour},
		{"3601", time.Hour},
		{"9223372036", time.Hour},           // the largest whole second a Duration holds
		{"9223372037", time.Hour},           // one more overflows n*time.Second
		{"18446744074", time.Hour},          // wraps to 290 ms when multiplied unchecked
		{"99999999999999999999", time.Hour}, // over int64: still a number of seconds
		{"-1", 0},
		{"+5", 0}, // delay-seconds is 1*DIGIT
		{"soon", 0},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			e := newEnv(t, withConfig(func(c *oauthlink.Config) { c.Tokens.RefreshAttempts = 1 }))
			e.connected("mollie", "shop-1")
			e.clk.Advance(2 * time.Hour)
			e.mollie.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Status: http.StatusTooManyRequests, RetryAfter: tt.header})
			_, err := e.links["mollie"].Connection(context.Background(), "shop-1")
			var te *oauthlink.ProviderError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, tt.want, te.RetryAfter)
		})
	}
}

// TestRetryBackoffNeverOverflows: the doubling backoff between refresh
// attempts and between revocation attempts saturates at RetryMax however
// many attempts Config.RefreshAttempts allows; RetryBase<<attempt must not
// wrap around to a negative duration (which made the jitter draw panic).
func TestRetryBackoffNeverOverflows(t *testing.T) {
	const attempts = 66 // attempt 63 shifts 1 ns to the sign bit
	unavailable := make([]oauthlinktest.Fault, attempts)
	for i := range unavailable {
		unavailable[i] = oauthlinktest.Fault{Status: http.StatusServiceUnavailable}
	}
	e := newEnv(t, withConfig(func(c *oauthlink.Config) {
		c.Tokens.RefreshAttempts, c.Tokens.RetryBase, c.Tokens.RetryMax = attempts, time.Nanosecond, time.Nanosecond
	}))
	e.connected("mollie", "shop-1")

	t.Run("refresh", func(t *testing.T) {
		e.clk.Advance(2 * time.Hour)
		before := e.mollie.Calls(oauthlinktest.EndpointToken)
		e.mollie.Fault(oauthlinktest.EndpointToken, unavailable...)
		_, err := e.links["mollie"].Connection(context.Background(), "shop-1")
		var te *oauthlink.ProviderError
		require.ErrorAs(t, err, &te)
		assert.True(t, te.Temporary())
		assert.Equal(t, attempts, e.mollie.Calls(oauthlinktest.EndpointToken)-before, "every attempt made, none skipped")
	})
	t.Run("revoke", func(t *testing.T) {
		before := e.mollie.Calls(oauthlinktest.EndpointRevoke)
		e.mollie.Fault(oauthlinktest.EndpointRevoke, unavailable...)
		err := e.links["mollie"].Disconnect(context.Background(), "shop-1")
		var te *oauthlink.ProviderError
		require.True(t, errors.As(err, &te), "%v", err)
		assert.True(t, te.Temporary())
		assert.GreaterOrEqual(t, e.mollie.Calls(oauthlinktest.EndpointRevoke)-before, attempts)
	})
}

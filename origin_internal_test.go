package oauthlink

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The origin comparison is RFC 6454's: scheme and host compare without
// case, a missing port is the scheme's default, and nothing else matches.
func TestOriginHas(t *testing.T) {
	tests := []struct {
		api, target string
		want        bool
	}{
		{"https://api.mollie.com", "https://api.mollie.com/v2/me", true},
		{"https://api.mollie.com", "https://API.Mollie.COM/v2/me", true},
		{"https://api.mollie.com", "HTTPS://api.mollie.com/v2/me", true},
		{"https://api.mollie.com", "https://api.mollie.com:443/v2/me", true},
		{"https://api.mollie.com:443/v2", "https://api.mollie.com/other", true},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/x", true},
		{"https://[::1]:8443", "https://[::1]:8443/x", true},
		{"https://api.mollie.com", "http://api.mollie.com/v2/me", false},
		{"https://api.mollie.com", "http://api.mollie.com:443/v2/me", false},
		{"https://api.mollie.com", "https://api.mollie.com:8443/v2/me", false},
		{"https://api.mollie.com", "https://api.mollie.com.evil.example/v2/me", false},
		{"https://api.mollie.com", "https://evil.example/api.mollie.com", false},
		{"https://api.mollie.com", "https://api.mollie.com@evil.example/", false},
		{"https://api.mollie.com", "https://api.mollie.com./v2/me", false},
		{"https://api.mollie.com", "ws://api.mollie.com/v2/me", false},
		{"http://api.example", "https://api.example:80/", false},
	}
	for _, tc := range tests {
		t.Run(tc.api+" "+tc.target, func(t *testing.T) {
			o, err := apiOrigin(&Provider{Name: "p", APIURL: tc.api})
			require.NoError(t, err)
			u, err := url.Parse(tc.target)
			require.NoError(t, err)
			assert.Equal(t, tc.want, o.has(u))
		})
	}
	_, err := apiOrigin(&Provider{Name: "p"})
	assert.ErrorIs(t, err, ErrConfig)
	assert.ErrorIs(t, err, errNotAPIOrigin)
	var zero origin
	assert.False(t, zero.has(&url.URL{Scheme: "https", Host: ""}), "no API origin matches nothing")
}

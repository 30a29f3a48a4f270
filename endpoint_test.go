package oauthlink

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oauthlink/oauthlink/store"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scriptedTransport records every request it is given and answers with
// answer (a 200 token response when nil).
type scriptedTransport struct {
	mu     sync.Mutex
	seen   []*http.Request
	bodies []string
	answer func(*http.Request) (*http.Response, error)
}

func (s *scriptedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.seen = append(s.seen, r)
	s.bodies = append(s.bodies, string(body))
	s.mu.Unlock()
	if s.answer != nil {
		return s.answer(r)
	}
	return &http.Response{StatusCode: 200, Header: http.Header{},
		Body: io.NopCloser(strings.NewReader(`{"access_token":"at","refresh_token":"rt","expires_in":60}`))}, nil
}

func endpointConnector(t *testing.T, style AuthStyle, client *http.Client) *Connector {
	t.Helper()
	c, err := New(Config{
		Provider: Provider{Name: "ep", AuthURL: "https://provider.example/authorize",
			TokenURL: "https://provider.example/token", RevokeURL: "https://provider.example/revoke", AuthStyle: style},
		ClientID: "app id&1", ClientSecret: "s3cr:t/+=", RedirectURL: "https://app.example/cb",
		Owner:         func(*http.Request) (string, error) { return "o", nil },
		CookieSecrets: [][]byte{bytes.Repeat([]byte{7}, 32)}, HTTPClient: client,
		Store: &nopStore{}, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	return c
}

// nopStore satisfies store.TokenStore for tests that never reach the store.
type nopStore struct{ store.TokenStore }

func TestEndpointClientAuthentication(t *testing.T) {
	form := func() formBody { return formBody(nil).Add("grant_type", "refresh_token").Add("refresh_token", "r t&x") }

	t.Run("basic: credentials form-encoded, then base64 (RFC 6749 2.3.1)", func(t *testing.T) {
		rt := &scriptedTransport{}
		c := endpointConnector(t, AuthStyleBasic, &http.Client{Transport: rt})
		_, err := c.e.tokenRequest(context.Background(), c.e.newForm().Add("grant_type", "refresh_token").Add("refresh_token", "r t&x"))
		require.NoError(t, err)
		require.Len(t, rt.seen, 1)
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte("app+id%261:s3cr%3At%2F%2B%3D"))
		assert.Equal(t, want, rt.seen[0].Header.Get("Authorization"))
		assert.Equal(t, string(form()), rt.bodies[0], "no credentials in the body")
		got, err := url.ParseQuery(rt.bodies[0])
		require.NoError(t, err)
		assert.Equal(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"r t&x"}}, got)
		assert.Equal(t, "application/x-www-form-urlencoded", rt.seen[0].Header.Get("Content-Type"))
		assert.Equal(t, "application/json", rt.seen[0].Header.Get("Accept"))
		assert.Equal(t, int64(len(rt.bodies[0])), rt.seen[0].ContentLength)
	})

	t.Run("body: credentials in the form, no Authorization header", func(t *testing.T) {
		rt := &scriptedTransport{}
		c := endpointConnector(t, AuthStyleBody, &http.Client{Transport: rt})
		require.NoError(t, c.e.revoke(context.Background(), "tok", "refresh_token", ""))
		require.Len(t, rt.seen, 1)
		assert.Empty(t, rt.seen[0].Header.Values("Authorization"))
		got, err := url.ParseQuery(rt.bodies[0])
		require.NoError(t, err)
		assert.Equal(t, url.Values{"client_id": {"app id&1"}, "client_secret": {"s3cr:t/+="},
			"token": {"tok"}, "token_type_hint": {"refresh_token"}}, got)
	})

	t.Run("the form is not modified, so a retry sends the same body", func(t *testing.T) {
		rt := &scriptedTransport{}
		c := endpointConnector(t, AuthStyleBody, &http.Client{Transport: rt})
		f := c.e.newForm().Add("grant_type", "refresh_token")
		before := string(f)
		for range 2 {
			_, err := c.e.tokenRequest(context.Background(), f)
			require.NoError(t, err)
		}
		assert.Equal(t, before, string(f))
		assert.Equal(t, []string{before, before}, rt.bodies)
	})
}

func TestEndpointUsesTransportNotClient(t *testing.T) {
	t.Run("no redirect followed, whatever CheckRedirect says; no jar cookie sent", func(t *testing.T) {
		rt := &scriptedTransport{answer: func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusTemporaryRedirect,
				Header: http.Header{"Location": {"https://elsewhere.example/steal"}}, Body: http.NoBody}, nil
		}}
		jar, err := cookiejar.New(nil)
		require.NoError(t, err)
		u, _ := url.Parse("https://provider.example/")
		jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: "jar-cookie"}})
		client := &http.Client{Transport: rt, Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
		c := endpointConnector(t, AuthStyleBasic, client)
		_, err = c.e.tokenRequest(context.Background(), c.e.newForm().Add("grant_type", "authorization_code"))
		require.ErrorIs(t, err, errTokenResponse)
		require.Len(t, rt.seen, 1, "the redirect was not followed")
		assert.Empty(t, rt.seen[0].Header.Values("Cookie"))
	})

}

// TestEndpointHTTPClientTimeout: HTTPClient.Timeout still bounds a call
// that no longer goes through http.Client, and ExchangeTimeout bounds it
// when the client has none.
func TestEndpointHTTPClientTimeout(t *testing.T) {
	hang := &scriptedTransport{answer: func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	}}
	for _, tc := range []struct {
		name   string
		client *http.Client
		want   time.Duration
	}{
		{"client timeout shorter", &http.Client{Transport: hang, Timeout: 3 * time.Second}, 3 * time.Second},
		{"no client timeout: ExchangeTimeout", &http.Client{Transport: hang}, 15 * time.Second},
		{"client timeout longer: ExchangeTimeout", &http.Client{Transport: hang, Timeout: time.Minute}, 15 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := endpointConnector(t, AuthStyleBasic, tc.client)
				start := time.Now()
				_, err := c.e.tokenRequest(context.Background(), c.e.newForm())
				require.ErrorIs(t, err, context.DeadlineExceeded)
				assert.Equal(t, tc.want, time.Since(start))
			})
		})
	}
}

// TestStillBefore: the cache's expiry check reads the monotonic clock on
// the real clock and the injected clock otherwise.
func TestStillBefore(t *testing.T) {
	real := &engine{clock: time.Now, realClock: true}
	now := time.Now()
	assert.True(t, real.stillBefore(now.Add(time.Hour)))
	assert.False(t, real.stillBefore(now.Add(-time.Nanosecond)))
	assert.True(t, real.stillBefore(now.Add(time.Hour).Round(0)), "a wall-clock-only time still works")
	assert.False(t, real.stillBefore(now.Add(-time.Second).Round(0)))

	fake := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	injected := &engine{clock: func() time.Time { return fake }}
	assert.True(t, injected.stillBefore(fake.Add(time.Second)))
	assert.False(t, injected.stillBefore(fake), "the injected clock decides, not the real one")
	assert.True(t, injected.stillBefore(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)))
}

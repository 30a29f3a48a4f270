package tokenwire

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

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

func answer(status int, header http.Header, body string) func(*http.Request) (*http.Response, error) {
	return func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(strings.NewReader(body))}, nil
	}
}

func testEndpoint(style AuthStyle, rt http.RoundTripper) *Endpoint {
	return New(Config{
		TokenURL: "https://provider.example/token", RevokeURL: "https://provider.example/revoke",
		ClientID: "app id&1", ClientSecret: "s3cr:t/+=", AuthStyle: style,
		RedirectURL: "https://app.example/cb", Header: http.Header{"X-Staging": {"st"}},
		Transport: rt, Timeout: 15 * time.Second, MaxLifetime: maxLifetime,
	})
}

func TestEndpointClientAuthentication(t *testing.T) {
	form := func() Form { return Form(nil).Add("grant_type", "refresh_token").Add("refresh_token", "r t&x") }

	t.Run("basic: credentials form-encoded, then base64 (RFC 6749 2.3.1)", func(t *testing.T) {
		rt := &scriptedTransport{}
		e := testEndpoint(AuthBasic, rt)
		_, err := e.Token(context.Background(), e.Form().Add("grant_type", "refresh_token").Add("refresh_token", "r t&x"))
		require.NoError(t, err)
		require.Len(t, rt.seen, 1)
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte("app+id%261:s3cr%3At%2F%2B%3D"))
		assert.Equal(t, want, rt.seen[0].Header.Get("Authorization"))
		assert.Equal(t, string(form()), rt.bodies[0], "no credentials in the body")
		got, err := url.ParseQuery(rt.bodies[0])
		require.NoError(t, err)
		assert.Equal(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"r t&x"}}, got)
		assert.Equal(t, http.MethodPost, rt.seen[0].Method)
		assert.Equal(t, "https://provider.example/token", rt.seen[0].URL.String())
		assert.Equal(t, "application/x-www-form-urlencoded", rt.seen[0].Header.Get("Content-Type"))
		assert.Equal(t, "application/json", rt.seen[0].Header.Get("Accept"))
		assert.Equal(t, "st", rt.seen[0].Header.Get("X-Staging"), "the configured header is sent")
		assert.Equal(t, int64(len(rt.bodies[0])), rt.seen[0].ContentLength)
	})

	t.Run("body: credentials in the form, no Authorization header", func(t *testing.T) {
		rt := &scriptedTransport{}
		e := testEndpoint(AuthInBody, rt)
		require.NoError(t, e.Revoke(context.Background(), "tok", "refresh_token"))
		require.Len(t, rt.seen, 1)
		assert.Empty(t, rt.seen[0].Header.Values("Authorization"))
		got, err := url.ParseQuery(rt.bodies[0])
		require.NoError(t, err)
		assert.Equal(t, url.Values{"client_id": {"app id&1"}, "client_secret": {"s3cr:t/+="},
			"token": {"tok"}, "token_type_hint": {"refresh_token"}}, got)
	})

	t.Run("the form is not modified, so a retry sends the same body", func(t *testing.T) {
		rt := &scriptedTransport{}
		e := testEndpoint(AuthInBody, rt)
		f := e.Form().Add("grant_type", "refresh_token")
		before := string(f)
		for range 2 {
			_, err := e.Token(context.Background(), f)
			require.NoError(t, err)
		}
		assert.Equal(t, before, string(f))
		assert.Equal(t, []string{before, before}, rt.bodies)
	})

	t.Run("the exchange form carries grant_type and redirect_uri", func(t *testing.T) {
		e := testEndpoint(AuthInBody, &scriptedTransport{})
		got, err := url.ParseQuery(string(e.ExchangeForm().Add("code", "c")))
		require.NoError(t, err)
		assert.Equal(t, url.Values{"client_id": {"app id&1"}, "client_secret": {"s3cr:t/+="},
			"grant_type": {"authorization_code"}, "redirect_uri": {"https://app.example/cb"}, "code": {"c"}}, got)
		f := e.ExchangeForm()
		_ = f.Add("code", "other")
		assert.NotContains(t, string(e.ExchangeForm()), "other", "a form never shares the endpoint's buffer")
	})
}

func TestEndpointTransportFailures(t *testing.T) {
	t.Run("no redirect followed", func(t *testing.T) {
		rt := &scriptedTransport{answer: answer(http.StatusTemporaryRedirect,
			http.Header{"Location": {"https://elsewhere.example/steal"}}, "")}
		e := testEndpoint(AuthBasic, rt)
		_, err := e.Token(context.Background(), e.Form().Add("grant_type", "authorization_code"))
		var me *MalformedError
		require.ErrorAs(t, err, &me)
		assert.Equal(t, "endpoint answered redirect 307, not followed", me.Reason)
		require.Len(t, rt.seen, 1, "the redirect was not followed")
	})

	t.Run("a transport answering nothing is an error, not a panic", func(t *testing.T) {
		rt := &scriptedTransport{answer: func(*http.Request) (*http.Response, error) { return nil, nil }}
		e := testEndpoint(AuthBasic, rt)
		_, err := e.Token(context.Background(), e.Form())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no response")
	})

	t.Run("a response without a body is not a token", func(t *testing.T) {
		rt := &scriptedTransport{answer: func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Header: http.Header{}}, nil
		}}
		e := testEndpoint(AuthBasic, rt)
		_, err := e.Token(context.Background(), e.Form())
		var me *MalformedError
		require.ErrorAs(t, err, &me)
	})

	t.Run("an error with a response closes its body", func(t *testing.T) {
		body := &closeRecorder{Reader: strings.NewReader("x")}
		rt := &scriptedTransport{answer: func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Body: body}, errors.New("broken transport")
		}}
		e := testEndpoint(AuthBasic, rt)
		_, err := e.Token(context.Background(), e.Form())
		require.ErrorContains(t, err, "broken transport")
		assert.EqualError(t, err, "POST https://provider.example/token: broken transport", "the URL is named once, without the url.Error wrapper")
		assert.True(t, body.closed)
	})

	t.Run("the URL's query and userinfo stay out of messages", func(t *testing.T) {
		rt := &scriptedTransport{answer: func(*http.Request) (*http.Response, error) { return nil, errors.New("down") }}
		e := New(Config{TokenURL: "https://u:p@provider.example/token?key=k", Transport: rt, MaxLifetime: maxLifetime})
		_, err := e.Token(context.Background(), e.Form())
		assert.EqualError(t, err, "POST https://provider.example/token: down")
	})

	t.Run("a body over MaxBody is refused, unread beyond it", func(t *testing.T) {
		big := `{"access_token":"a","x":"` + strings.Repeat("y", MaxBody) + `"}`
		e := testEndpoint(AuthBasic, &scriptedTransport{answer: answer(200, http.Header{}, big)})
		_, err := e.Token(context.Background(), e.Form())
		var me *MalformedError
		require.ErrorAs(t, err, &me)
		assert.Equal(t, "body larger than 1048576 bytes", me.Reason)
	})
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestEndpointRevoke(t *testing.T) {
	t.Run("no revocation endpoint: nothing is sent", func(t *testing.T) {
		rt := &scriptedTransport{}
		e := New(Config{TokenURL: "https://provider.example/token", Transport: rt, MaxLifetime: maxLifetime})
		require.NoError(t, e.Revoke(context.Background(), "tok", "access_token"))
		assert.Empty(t, rt.seen)
	})

	t.Run("the configured method, 204 is success", func(t *testing.T) {
		rt := &scriptedTransport{answer: answer(http.StatusNoContent, http.Header{}, "")}
		e := New(Config{RevokeURL: "https://provider.example/revoke", RevokeMethod: http.MethodDelete,
			AuthStyle: AuthBasic, ClientID: "id", ClientSecret: "s", Transport: rt, MaxLifetime: maxLifetime})
		require.NoError(t, e.Revoke(context.Background(), "tok", "refresh_token"))
		require.Len(t, rt.seen, 1)
		assert.Equal(t, http.MethodDelete, rt.seen[0].Method)
		assert.Equal(t, "token=tok&token_type_hint=refresh_token", rt.bodies[0])
	})

	t.Run("an error answer, with Retry-After on the endpoint's clock", func(t *testing.T) {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		rt := &scriptedTransport{answer: answer(503, http.Header{"Retry-After": {"Thu, 01 Jan 2026 00:00:30 GMT"}},
			`{"error":"temporarily_unavailable"}`)}
		e := New(Config{RevokeURL: "https://provider.example/revoke", Transport: rt, MaxLifetime: maxLifetime,
			Now: func() time.Time { return now }})
		err := e.Revoke(context.Background(), "tok", "access_token")
		assert.Equal(t, &ErrorResponse{StatusCode: 503, Code: "temporarily_unavailable", RetryAfter: 30 * time.Second}, err)
	})
}

// TestEndpointTimeout: Config.Timeout bounds a call whose context has no
// earlier deadline, and an earlier deadline of the caller's still applies.
func TestEndpointTimeout(t *testing.T) {
	hang := &scriptedTransport{answer: func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	}}
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		ctx     time.Duration
		want    time.Duration
	}{
		{"the endpoint's timeout", 3 * time.Second, 0, 3 * time.Second},
		{"the caller's earlier deadline", 3 * time.Second, time.Second, time.Second},
		{"no timeout: the caller's deadline", 0, 7 * time.Second, 7 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := New(Config{TokenURL: "https://provider.example/token", RevokeURL: "https://provider.example/revoke",
					Transport: hang, Timeout: tc.timeout, MaxLifetime: maxLifetime})
				callCtx := func() (context.Context, context.CancelFunc) {
					if tc.ctx > 0 {
						return context.WithTimeout(context.Background(), tc.ctx)
					}
					return context.Background(), func() {}
				}
				ctx, cancel := callCtx()
				defer cancel()
				start := time.Now()
				_, err := e.Token(ctx, e.Form())
				require.ErrorIs(t, err, context.DeadlineExceeded)
				assert.Equal(t, tc.want, time.Since(start))
				ctx, cancel = callCtx()
				defer cancel()
				start = time.Now()
				require.ErrorIs(t, e.Revoke(ctx, "tok", "access_token"), context.DeadlineExceeded)
				assert.Equal(t, tc.want, time.Since(start))
			})
		})
	}
}

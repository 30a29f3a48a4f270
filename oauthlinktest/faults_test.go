package oauthlinktest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// observe installs test hooks that report, per request, when a fault is
// about to apply and when the handler returned.
func observe(s *server) (faulted, done <-chan Endpoint) {
	f, d := make(chan Endpoint, 16), make(chan Endpoint, 16)
	s.setTestHooks(testHooks{fault: func(e Endpoint) { f <- e }, done: func(e Endpoint) { d <- e }})
	return f, d
}

// postAsync sends rq in the background with ctx.
func postAsync(s *server, ctx context.Context, rawURL string, form url.Values, basic []string) <-chan error {
	errc := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, strings.NewReader(form.Encode()))
		if err != nil {
			errc <- err
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic != nil {
			req.SetBasicAuth(basic[0], basic[1])
		}
		resp, err := s.Client().Do(req)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
		}
		errc <- err
	}()
	return errc
}

func TestFaultReplacesResponse(t *testing.T) {
	tests := []struct {
		name       string
		fault      Fault
		wantStatus int
		wantCT     string
		wantBody   string
		wantHeader map[string]string
	}{
		{"status only", Fault{Status: 503}, 503, "", "", nil},
		{"429 with Retry-After", Fault{Status: 429, RetryAfter: "7"}, 429, "", "", map[string]string{"Retry-After": "7"}},
		{"malformed Retry-After", Fault{Status: 503, RetryAfter: "soon"}, 503, "", "", map[string]string{"Retry-After": "soon"}},
		{"html login page with 200", Fault{Body: "<html>login</html>", ContentType: "text/html"}, 200, "text/html", "<html>login</html>", nil},
		{"raw error body", Fault{Status: 400, Body: `{"error":"invalid_request","error_description":"multiple concurrent requests"}`, ContentType: "application/json"},
			400, "application/json", `{"error":"invalid_request","error_description":"multiple concurrent requests"}`, nil},
		{"body without type", Fault{Status: 502, Body: "bad gateway"}, 502, "text/plain; charset=utf-8", "bad gateway", nil},
		{"redirect", Fault{RedirectTo: "http://127.0.0.1:1/steal"}, 307, "", "", map[string]string{"Location": "http://127.0.0.1:1/steal"}},
		{"permanent redirect", Fault{Status: 308, RedirectTo: "http://127.0.0.1:1/steal"}, 308, "", "", map[string]string{"Location": "http://127.0.0.1:1/steal"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMollie(t, MollieOptions{})
			c := code(t, m.server, authParams(m.server, "organizations.read"))
			m.Fault(EndpointToken, tc.fault)
			client := *m.Client()
			client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			req, err := http.NewRequest(http.MethodPost, m.TokenURL(), strings.NewReader(exchangeForm(c, appCallback).Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(m.ClientID(), m.ClientSecret())
			resp, err := client.Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)

			assert.Equal(t, tc.wantStatus, resp.StatusCode)
			if tc.wantCT != "" {
				assert.Equal(t, tc.wantCT, resp.Header.Get("Content-Type"))
			}
			if tc.wantBody != "" {
				assert.Equal(t, tc.wantBody, string(body))
			}
			for k, v := range tc.wantHeader {
				assert.Equal(t, v, resp.Header.Get(k))
			}
			assert.Zero(t, m.Exchanges(), "a replaced response processes nothing")
			assert.Zero(t, m.PendingFaults(EndpointToken))
			assert.Equal(t, http.StatusOK, mollieToken(t, m, exchangeForm(c, appCallback)).status, "the code was not spent")
		})
	}
}

func TestFaultQueueOrder(t *testing.T) {
	m := newTestMollie(t, MollieOptions{})
	g := mollieToken(t, m, exchangeForm(code(t, m.server, authParams(m.server, "organizations.read")), appCallback))
	m.Fault(EndpointRevoke, Fault{Status: 503, RetryAfter: "1"}, Fault{Status: 503})
	m.Fault(EndpointRevoke, Fault{Status: 429})
	assert.Equal(t, 3, m.PendingFaults(EndpointRevoke))
	var got []int
	for range 4 {
		r := send(t, m.server, request{method: http.MethodDelete, url: m.RevokeURL(), basic: m.basic(),
			form: url.Values{"token": {g.RefreshToken}, "token_type_hint": {"refresh_token"}}})
		got = append(got, r.status)
	}
	assert.Equal(t, []int{503, 503, 429, 204}, got)
	assert.Equal(t, 4, m.Calls(EndpointRevoke))
	assert.Equal(t, 1, m.Revocations())
	assert.Equal(t, 1, m.Calls(EndpointToken), "faults of one endpoint do not touch another")
}

func TestFaultOnEveryEndpoint(t *testing.T) {
	q := newTestQonto(t, QontoOptions{})
	g := qontoGrant(t, q, "offline_access organization.read")

	q.Fault(EndpointAuthorize, Fault{Status: 500, Body: "oops"})
	_, err := q.Authorize(context.Background(), q.AuthURL()+"?"+authParams(q.server, "offline_access").Encode())
	require.ErrorContains(t, err, "500")

	q.Fault(EndpointAPI, Fault{Status: 429, RetryAfter: "3"})
	r := send(t, q.server, request{method: http.MethodGet, url: q.APIURL() + "/v2/organization", header: http.Header{"Authorization": {"Bearer " + g.AccessToken}}})
	assert.Equal(t, 429, r.status)
	assert.Equal(t, "3", r.header.Get("Retry-After"))

	q.Fault(EndpointRevoke, Fault{Status: 503})
	r = send(t, q.server, request{method: http.MethodPost, url: q.RevokeURL(), form: q.withCreds(url.Values{"token": {g.RefreshToken}})})
	assert.Equal(t, 503, r.status)
	assert.True(t, q.RefreshTokenValid(g.RefreshToken))
}

func TestFaultContentTypeOnProcessedAnswer(t *testing.T) {
	q := newTestQonto(t, QontoOptions{})
	c := code(t, q.server, authParams(q.server, "offline_access"))
	q.Fault(EndpointToken, Fault{ContentType: "text/html", RetryAfter: "1"})
	r := qontoToken(t, q, exchangeForm(c, appCallback))
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "text/html", r.contentType)
	assert.Equal(t, "1", r.header.Get("Retry-After"))
	assert.True(t, q.AccessTokenValid(r.AccessToken), "the request was processed")
}

func TestFaultDelay(t *testing.T) {
	t.Run("elapses, then processes", func(t *testing.T) {
		m := newTestMollie(t, MollieOptions{})
		c := code(t, m.server, authParams(m.server, "organizations.read"))
		m.Fault(EndpointToken, Fault{Delay: 20 * time.Millisecond})
		start := time.Now()
		r := mollieToken(t, m, exchangeForm(c, appCallback))
		assert.Equal(t, http.StatusOK, r.status)
		assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
	})

	t.Run("ends when the client gives up", func(t *testing.T) {
		m := newTestMollie(t, MollieOptions{})
		c := code(t, m.server, authParams(m.server, "organizations.read"))
		faulted, done := observe(m.server)
		m.Fault(EndpointToken, Fault{Delay: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		errc := postAsync(m.server, ctx, m.TokenURL(), exchangeForm(c, appCallback), m.basic())
		within(t, faulted, "the delay to start")
		cancel()
		assert.ErrorIs(t, within(t, errc, "the client"), context.Canceled)
		assert.Equal(t, EndpointToken, within(t, done, "the handler to return"))
		assert.Zero(t, m.Exchanges(), "nothing was processed")
		assert.Equal(t, http.StatusOK, mollieToken(t, m, exchangeForm(c, appCallback)).status)
	})

	t.Run("ends on Close", func(t *testing.T) {
		m := NewMollie(MollieOptions{RedirectURIs: []string{appCallback}})
		c := code(t, m.server, authParams(m.server, "organizations.read"))
		faulted, _ := observe(m.server)
		m.Fault(EndpointToken, Fault{Delay: time.Hour})
		errc := postAsync(m.server, context.Background(), m.TokenURL(), exchangeForm(c, appCallback), m.basic())
		within(t, faulted, "the delay to start")
		closed := make(chan struct{})
		go func() { m.Close(); close(closed) }()
		within(t, closed, "Close")
		assert.Error(t, within(t, errc, "the client"))
	})
}

func TestFaultBodySize(t *testing.T) {
	const size = 50 << 20
	const prefix = `{"access_token":"`
	t.Run("streams every byte without allocating them", func(t *testing.T) {
		m := newTestMollie(t, MollieOptions{})
		m.Fault(EndpointToken, Fault{ContentType: "application/json", Body: prefix, BodySize: size})
		resp, err := m.Client().Post(m.TokenURL(), "application/x-www-form-urlencoded", nil)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, int64(-1), resp.ContentLength, "no Content-Length to check up front")
		head := make([]byte, len(prefix)+3)
		_, err = io.ReadFull(resp.Body, head)
		require.NoError(t, err)
		assert.Equal(t, prefix+"xxx", string(head))

		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		n, err := io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		runtime.ReadMemStats(&after)
		assert.Equal(t, int64(size-3), n)
		assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(size/4), "the filler is not allocated")
	})
	t.Run("stops when the client stops reading", func(t *testing.T) {
		m := newTestMollie(t, MollieOptions{})
		_, done := observe(m.server)
		m.Fault(EndpointToken, Fault{BodySize: size})
		resp, err := m.Client().Post(m.TokenURL(), "application/x-www-form-urlencoded", nil)
		require.NoError(t, err)
		n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		require.NoError(t, err)
		assert.Equal(t, int64(1<<20), n)
		resp.Body.Close()
		within(t, done, "the handler to stop streaming")
	})
}

func TestFaultDrop(t *testing.T) {
	t.Run("exchange really spends the code", func(t *testing.T) {
		m := newTestMollie(t, MollieOptions{})
		c := code(t, m.server, authParams(m.server, "organizations.read"))
		m.Fault(EndpointToken, Fault{Drop: true})
		err := within(t, postAsync(m.server, context.Background(), m.TokenURL(), exchangeForm(c, appCallback), m.basic()), "the client")
		require.Error(t, err)
		assert.Equal(t, 1, m.Calls(EndpointToken), "the POST is not retried")
		assert.Equal(t, 1, m.Exchanges())

		m.mu.Lock()
		minted := len(m.access)
		m.mu.Unlock()
		assert.Equal(t, 1, minted, "the dropped exchange issued tokens")

		r := mollieToken(t, m, exchangeForm(c, appCallback))
		assert.Equal(t, "invalid_grant", r.Error, "the code was spent")
		assert.Equal(t, 1, m.ReuseDetections())
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, tok := range m.access {
			assert.True(t, tok.revoked, "retrying the code revoked what the dropped exchange issued")
		}
	})
	t.Run("refresh really rotates", func(t *testing.T) {
		q := newTestQonto(t, QontoOptions{})
		g := qontoGrant(t, q, "offline_access")
		q.Fault(EndpointToken, Fault{Drop: true})
		err := within(t, postAsync(q.server, context.Background(), q.TokenURL(), q.withCreds(refreshForm(g.RefreshToken)), nil), "the client")
		require.Error(t, err)
		assert.False(t, q.AccessTokenValid(g.AccessToken), "rotation revoked the old access token")
		assert.Equal(t, 1, q.Refreshes())
	})
}

func TestFaultRedirectTo(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusTeapot)
	}))
	defer target.Close()
	m := newTestMollie(t, MollieOptions{})
	c := code(t, m.server, authParams(m.server, "organizations.read"))
	m.Fault(EndpointToken, Fault{RedirectTo: target.URL + "/steal"})

	r := mollieToken(t, m, exchangeForm(c, appCallback)) // a client that follows redirects
	assert.Equal(t, http.StatusTeapot, r.status)
	assert.Equal(t, int32(1), hits.Load(), "a 307 replays the request to the target")
	assert.Zero(t, m.Exchanges())
	target.CloseClientConnections()
}

func TestFaultHoldUntil(t *testing.T) {
	t.Run("processed before the answer is released", func(t *testing.T) {
		processed := make(chan string, 1)
		q := newTestQonto(t, QontoOptions{BeforeTokenResponse: func(_ *http.Request, grantType string) { processed <- grantType }})
		g := qontoGrant(t, q, "offline_access")
		<-processed
		release := make(chan struct{})
		q.Fault(EndpointToken, Fault{HoldUntil: release})
		errc := postAsync(q.server, context.Background(), q.TokenURL(), q.withCreds(refreshForm(g.RefreshToken)), nil)
		assert.Equal(t, "refresh_token", within(t, processed, "the refresh to be processed"))
		assert.False(t, q.AccessTokenValid(g.AccessToken), "the provider rotated while the client still waits")
		select {
		case err := <-errc:
			t.Fatalf("answer written before release: %v", err)
		default:
		}
		close(release)
		assert.NoError(t, within(t, errc, "the held answer"))
	})

	t.Run("caller cancelled after the provider rotated", func(t *testing.T) {
		processed := make(chan struct{}, 2)
		q := newTestQonto(t, QontoOptions{BeforeTokenResponse: func(*http.Request, string) { processed <- struct{}{} }})
		g := qontoGrant(t, q, "offline_access")
		<-processed
		_, done := observe(q.server)
		q.Fault(EndpointToken, Fault{HoldUntil: make(chan struct{})})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		errc := postAsync(q.server, ctx, q.TokenURL(), q.withCreds(refreshForm(g.RefreshToken)), nil)
		within(t, processed, "the refresh to be processed")
		cancel()
		assert.ErrorIs(t, within(t, errc, "the client"), context.Canceled)
		within(t, done, "the held handler to give up")
		assert.Equal(t, 1, q.Refreshes())
		assert.True(t, q.RefreshTokenValid(g.RefreshToken), "the old refresh token is still inside the grace window")
	})

	t.Run("Close releases a held request", func(t *testing.T) {
		m := NewMollie(MollieOptions{RedirectURIs: []string{appCallback}})
		c := code(t, m.server, authParams(m.server, "organizations.read"))
		faulted, _ := observe(m.server)
		m.Fault(EndpointToken, Fault{HoldUntil: make(chan struct{})})
		errc := postAsync(m.server, context.Background(), m.TokenURL(), exchangeForm(c, appCallback), m.basic())
		within(t, faulted, "the request")
		closed := make(chan struct{})
		go func() { m.Close(); close(closed) }()
		within(t, closed, "Close")
		assert.Error(t, within(t, errc, "the client"))
	})
}

func TestBeforeTokenResponse(t *testing.T) {
	type call struct {
		grantType string
		exchanges int
	}
	calls := make(chan call, 8)
	var m *Mollie
	m = newTestMollie(t, MollieOptions{BeforeTokenResponse: func(r *http.Request, grantType string) {
		calls <- call{grantType, m.Exchanges()} // the hook may call the fake
	}})
	c := code(t, m.server, authParams(m.server, "organizations.read"))
	g := mollieToken(t, m, exchangeForm(c, appCallback))
	mollieToken(t, m, exchangeForm(c, appCallback))
	mollieToken(t, m, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.RefreshToken}, "redirect_uri": {appCallback}})
	send(t, m.server, request{method: http.MethodPost, url: m.TokenURL(), form: exchangeForm(c, appCallback)}) // bad client: no hook

	assert.Equal(t, call{"authorization_code", 1}, within(t, calls, "hook"))
	assert.Equal(t, call{"authorization_code", 2}, within(t, calls, "hook"), "called for errors too")
	assert.Equal(t, call{"refresh_token", 2}, within(t, calls, "hook"))
	assert.Empty(t, calls)
}

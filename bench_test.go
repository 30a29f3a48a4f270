package oauthlink_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// benchEnv is a connector on a fake Qonto with one stored connection.
func benchEnv(b *testing.B, ttl time.Duration) (*oauthlink.Connector, *oauthlinktest.Qonto, *memstore.Store, *clock) {
	b.Helper()
	clk := newClock()
	q := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{Now: clk.Now})
	b.Cleanup(q.Close)
	store := memstore.New()
	c, err := oauthlink.New(oauthlink.Config{
		Provider: q.Provider(), ClientID: q.ClientID(), ClientSecret: q.ClientSecret(),
		RedirectURL: "https://app.example/connect/qonto/callback", Store: store,
		Owner:         func(r *http.Request) (string, error) { return r.Header.Get("X-User"), nil },
		CookieSecrets: [][]byte{make32(3)}, HTTPClient: q.Client(), Now: clk.Now, CacheTTL: ttl,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	conn := &oauthlink.Connection{Provider: "qonto", Owner: "shop-1", AccessToken: "ory_at_bench", RefreshToken: "ory_rt_bench",
		TokenType: "Bearer", Expiry: clk.Now().Add(time.Hour), Status: oauthlink.StatusActive}
	if err := store.Save(context.Background(), conn); err != nil {
		b.Fatal(err)
	}
	return c, q, store, clk
}

// BenchmarkMiddlewareCached is the per-request cost of Load with a fresh
// token already cached: no store read, no provider call.
func BenchmarkMiddlewareCached(b *testing.B) {
	c, _, _, _ := benchEnv(b, time.Hour)
	h := c.Load(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.Header.Set("X-User", "shop-1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r) // warm the cache
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// BenchmarkRefreshStorm: 1,000 concurrent callers on one expired token;
// reports upstream refreshes per storm (must be 1).
func BenchmarkRefreshStorm(b *testing.B) {
	c, q, _, clk := benchEnv(b, -1)
	// A real grant at the fake, so refreshes succeed.
	conn := connectDirect(b, c, q)
	_ = conn
	b.ReportAllocs()
	before := q.Refreshes()
	storms := 0
	for b.Loop() {
		clk.Advance(2 * time.Hour)
		var wg sync.WaitGroup
		for range 1000 {
			wg.Go(func() {
				if _, err := c.Fresh(context.Background(), "shop-2"); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		storms++
	}
	b.ReportMetric(float64(q.Refreshes()-before)/float64(storms), "refreshes/storm")
}

// connectDirect runs the authorization-code flow for "shop-2" without a
// browser: authorize at the fake, then the callback handler.
func connectDirect(b *testing.B, c *oauthlink.Connector, q *oauthlinktest.Qonto) *oauthlink.Connection {
	b.Helper()
	start := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/connect/qonto", nil)
	r.Header.Set("X-User", "shop-2")
	c.StartHandler().ServeHTTP(start, r)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(start.Header().Get("Location"))
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	cb := httptest.NewRequest(http.MethodGet, resp.Header.Get("Location"), nil)
	cb.Header.Set("X-User", "shop-2")
	for _, ck := range start.Result().Cookies() {
		cb.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	c.CallbackHandler().ServeHTTP(w, cb)
	if w.Code != http.StatusSeeOther {
		b.Fatalf("callback: %d %s", w.Code, w.Body)
	}
	conn, err := c.Store().Load(context.Background(), "qonto", "shop-2")
	if err != nil {
		b.Fatal(err)
	}
	return conn
}

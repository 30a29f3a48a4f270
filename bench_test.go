package oauthlink_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/store"

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
	ms := memstore.New()
	c, err := oauthlink.New(oauthlink.Config{
		Provider: q.Provider(), ClientID: q.ClientID(), ClientSecret: q.ClientSecret(),
		RedirectURL: "https://app.example/connect/qonto/callback", Store: ms,
		Owner:         func(r *http.Request) (string, error) { return r.Header.Get("X-User"), nil },
		CookieSecrets: [][]byte{make32(3)}, HTTPClient: q.Client(), Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		// The fake serves plain http on loopback, as BENCHMARKS.md measures.
		AllowInsecureHTTP: true,
		Tokens:            oauthlink.TokenOptions{CacheTTL: ttl},
	})
	if err != nil {
		b.Fatal(err)
	}
	conn := &oauthlink.Connection{Provider: "qonto", Owner: "shop-1", AccessToken: "ory_at_bench", RefreshToken: "ory_rt_bench",
		TokenType: "Bearer", Expiry: clk.Now().Add(time.Hour), Status: store.StatusActive}
	if err := ms.Save(context.Background(), conn); err != nil {
		b.Fatal(err)
	}
	return c, q, ms, clk
}

// BenchmarkMiddlewareCached is the per-request cost of Load with a fresh
// token already cached: no store read, no provider call. It runs on the
// real clock, as production does (the fake clock of the other benchmarks
// takes a mutex on every reading).
func BenchmarkMiddlewareCached(b *testing.B) {
	ms := memstore.New()
	conn := &oauthlink.Connection{Provider: "qonto", Owner: "shop-1", AccessToken: "ory_at_bench", RefreshToken: "ory_rt_bench",
		TokenType: "Bearer", Expiry: time.Now().Add(24 * time.Hour), Status: store.StatusActive}
	if err := ms.Save(context.Background(), conn); err != nil {
		b.Fatal(err)
	}
	c, err := oauthlink.New(oauthlink.Config{
		Provider: oauthlink.Provider{Name: "qonto", AuthURL: "https://provider.example/oauth2/authorize",
			TokenURL: "https://provider.example/oauth2/token", AuthStyle: oauthlink.AuthStyleBody},
		ClientID: "app", ClientSecret: "secret",
		RedirectURL: "https://app.example/connect/qonto/callback", Store: ms,
		Owner:         func(r *http.Request) (string, error) { return r.Header.Get("X-User"), nil },
		CookieSecrets: [][]byte{make32(3)}, Logger: slog.New(slog.DiscardHandler),
		Tokens: oauthlink.TokenOptions{CacheTTL: time.Hour},
	})
	if err != nil {
		b.Fatal(err)
	}
	var got *oauthlink.Connection
	h := c.LoadConnection(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got, _ = oauthlink.ConnectionFromContext(r.Context(), "qonto")
	}))
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.Header.Set("X-User", "shop-1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r) // warm the cache
	if got == nil || got.AccessToken != "ory_at_bench" {
		b.Fatal("the cached connection did not reach the handler")
	}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// floorNext is the next handler of BenchmarkMiddlewareFloor, opaque to the
// compiler as a middleware's next handler is (a local one would be inlined
// and the request copy kept on the stack).
var floorNext http.Handler

// BenchmarkMiddlewareFloor is what any net/http middleware pays to hand a
// value to the next handler through the request context: one WithValue and
// one WithContext (which copies the request). It is the floor under
// BenchmarkMiddlewareCached, which adds the owner lookup, the clock and the
// cache on top.
func BenchmarkMiddlewareFloor(b *testing.B) {
	type key struct{}
	v := &struct{ n int }{1}
	var got any
	floorNext = http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.Context().Value(key{}) })
	mw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		floorNext.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, v)))
	})
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		mw.ServeHTTP(w, r)
	}
	if got != any(v) {
		b.Fatal("the value did not reach the handler")
	}
}

// BenchmarkRefreshStorm: 1,000 concurrent callers on one expired token;
// reports upstream refreshes per storm (must be 1).
func BenchmarkRefreshStorm(b *testing.B) {
	c, q, ms, clk := benchEnv(b, -1)
	// A real grant at the fake, so refreshes succeed.
	conn := connectDirect(b, c, q, ms)
	_ = conn
	b.ReportAllocs()
	before := q.Refreshes()
	storms := 0
	for b.Loop() {
		clk.Advance(2 * time.Hour)
		var wg sync.WaitGroup
		for range 1000 {
			wg.Go(func() {
				if _, err := c.Connection(context.Background(), "shop-2"); err != nil {
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
func connectDirect(b *testing.B, c *oauthlink.Connector, q *oauthlinktest.Qonto, st store.TokenStore) *oauthlink.Connection {
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
	conn, err := st.Load(context.Background(), "qonto", "shop-2")
	if err != nil {
		b.Fatal(err)
	}
	return conn
}

func benchConnector(b *testing.B, pkce bool, client *http.Client, tokenURL string) *oauthlink.Connector {
	b.Helper()
	p := oauthlink.Provider{Name: "bench", AuthURL: "https://provider.example/oauth2/authorize", TokenURL: tokenURL,
		AuthStyle: oauthlink.AuthStyleBasic, DefaultScopes: []string{"organizations.read"}, PKCE: pkce}
	c, err := oauthlink.New(oauthlink.Config{
		Provider: p, ClientID: "app_bench", ClientSecret: "secret",
		RedirectURL: "https://app.example/connect/bench/callback", Store: memstore.New(),
		Owner:         benchOwner,
		CookieSecrets: [][]byte{make32(5)}, HTTPClient: client,
		Logger: slog.New(slog.DiscardHandler), // as in bench/compare: peers log nothing here
		// CallbackLoopback's token endpoint is plain http on loopback.
		AllowInsecureHTTP: strings.HasPrefix(tokenURL, "http:"),
	})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// benchOwner is the owner a benchmark request names in X-User, "shop-1"
// when it names none.
func benchOwner(r *http.Request) (string, error) {
	if u := r.Header.Get("X-User"); u != "" {
		return u, nil
	}
	return "shop-1", nil
}

// discardWriter is a ResponseWriter that keeps headers but no body, reset
// per request, so the benchmark does not measure a recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkStart: mint state and PKCE verifier, seal the flow cookie,
// redirect.
func BenchmarkStart(b *testing.B) {
	c := benchConnector(b, true, nil, "https://provider.example/oauth2/tokens")
	h := c.StartHandler()
	r := httptest.NewRequest(http.MethodGet, "/connect/bench", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// startedFlow returns a callback request for a flow owner started on c.
func startedFlow(b *testing.B, c *oauthlink.Connector, owner string) *http.Request {
	b.Helper()
	w := httptest.NewRecorder()
	start := httptest.NewRequest(http.MethodGet, "/connect/bench", nil)
	start.Header.Set("X-User", owner)
	c.StartHandler().ServeHTTP(w, start)
	loc, _ := url.Parse(w.Header().Get("Location"))
	r := httptest.NewRequest(http.MethodGet, "https://app.example/connect/bench/callback?code=auth_bench&state="+loc.Query().Get("state"), nil)
	r.Header.Set("X-User", owner)
	for _, ck := range w.Result().Cookies() {
		r.AddCookie(ck)
	}
	return r
}

// benchCallback runs the whole callback: verify, exchange, save, redirect.
// Each iteration needs a fresh state (the replay guard refuses reuse), so
// flows are started in untimed batches of 256 on a new connector (with its
// own store and replay guard), and the garbage of starting a batch is
// collected before its callbacks are timed, as bench/compare does. Each
// flow of a batch is another owner's first connection, as a callback in
// production is (one owner may not have more than MaxFlowsPerOwner flows
// in the replay guard). Every answer must be the success redirect.
func benchCallback(b *testing.B, newConnector func() *oauthlink.Connector) {
	const batchSize = 256
	var h http.Handler
	batch := make([]*http.Request, 0, batchSize)
	next := 0
	refill := func() {
		c := newConnector()
		h = c.CallbackHandler()
		batch = batch[:0]
		for i := range batchSize {
			batch = append(batch, startedFlow(b, c, "shop-"+strconv.Itoa(i)))
		}
		next = 0
		runtime.GC()
	}
	refill()
	w := &statusWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		if next == len(batch) {
			b.StopTimer()
			refill()
			b.StartTimer()
		}
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, batch[next])
		next++
		if w.status != http.StatusSeeOther {
			b.Fatalf("callback answered %d", w.status)
		}
	}
}

// statusWriter keeps headers and the status, not the body.
type statusWriter struct {
	h      http.Header
	status int
}

func (d *statusWriter) Header() http.Header         { return d.h }
func (d *statusWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *statusWriter) WriteHeader(s int)           { d.status = s }

// BenchmarkCallbackInMemory: the token endpoint is answered in memory.
func BenchmarkCallbackInMemory(b *testing.B) {
	benchCallback(b, func() *oauthlink.Connector {
		return benchConnector(b, true, &http.Client{Transport: oauthlink.MemoryTokenEndpoint{}}, "https://provider.example/oauth2/tokens")
	})
}

// BenchmarkCallbackLoopback: the token endpoint is a loopback server.
func BenchmarkCallbackLoopback(b *testing.B) {
	srv := httptest.NewServer(memoryHandler())
	b.Cleanup(srv.Close)
	benchCallback(b, func() *oauthlink.Connector { return benchConnector(b, true, srv.Client(), srv.URL+"/oauth2/tokens") })
}

func memoryHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, _ := oauthlink.MemoryTokenEndpoint{}.RoundTrip(r)
		w.Header().Set("Content-Type", "application/json")
		io.Copy(w, resp.Body)
	})
}

// BenchmarkCallbackBadState: a callback whose state matches no cookie.
func BenchmarkCallbackBadState(b *testing.B) {
	c := benchConnector(b, true, &http.Client{Transport: oauthlink.MemoryTokenEndpoint{}}, "https://provider.example/oauth2/tokens")
	h := c.CallbackHandler()
	r := httptest.NewRequest(http.MethodGet, "https://app.example/connect/bench/callback?code=auth_x&state=AAAAAAAAAAAAAAAAAAAAAA", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

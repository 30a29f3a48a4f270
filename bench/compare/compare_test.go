package compare_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// tokenBody is the fake token endpoint's only answer, the same bytes for
// every library.
const tokenBody = `{"access_token":"access_bench","refresh_token":"refresh_bench","expires_in":3600,"token_type":"bearer","scope":"organizations.read"}`

// tokenEndpoint answers every request in memory with tokenBody, after
// draining the request body as a server would. It never touches the
// network, so the callback rows measure the libraries, not a socket.
type tokenEndpoint struct{}

func (tokenEndpoint) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(strings.NewReader(tokenBody)),
		ContentLength: int64(len(tokenBody)),
		Request:       r,
	}, nil
}

// sharedClient is the one client every library gets in the benchmarks.
var sharedClient = &http.Client{Transport: tokenEndpoint{}}

// discardWriter keeps headers and the status code but no body; reset
// between iterations, so no recorder is measured.
type discardWriter struct {
	h    http.Header
	code int
}

func newDiscardWriter() *discardWriter { return &discardWriter{h: http.Header{}} }

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) {
	if d.code == 0 {
		d.code = http.StatusOK
	}
	return len(p), nil
}
func (d *discardWriter) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}
func (d *discardWriter) reset() { clear(d.h); d.code = 0 }

// cpuClock accumulates the CPU time (user + system, all threads, so GC
// workers included) of the timed parts of a benchmark. The machine these
// run on is shared: wall time per op swings with other people's load,
// while CPU time per op mostly does not. Reported as cpu-ns/op next to
// ns/op.
type cpuClock struct {
	total, since time.Duration
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *cpuClock) start() { c.since = processCPU() }
func (c *cpuClock) stop()  { c.total += processCPU() - c.since }

// report stops the clock and reports CPU time per iteration; call it after
// the b.Loop loop, when b.N is the number of iterations run.
func (c *cpuClock) report(b *testing.B) {
	c.stop()
	if b.N > 0 {
		b.ReportMetric(float64(c.total.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func newRequest(ctx context.Context, target string, cookies []*http.Cookie) *http.Request {
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

// ownerHeader names the platform account a request acts for. oauthlink
// reads it (Config.Owner) and binds each flow to it; the peers have no such
// notion and ignore it.
const ownerHeader = "X-User"

// startFlow runs l's start handler once as owner and returns the state
// sent to the provider and the cookies set on the browser.
func startFlow(tb testing.TB, l *lib, owner string) (state string, cookies []*http.Cookie, location *url.URL) {
	tb.Helper()
	rec := httptest.NewRecorder()
	r := newRequest(l.ctx, startURL, nil)
	r.Header.Set(ownerHeader, owner)
	l.start.ServeHTTP(rec, r)
	res := rec.Result()
	if res.StatusCode != l.startCode {
		tb.Fatalf("%s start: status %d, want %d: %s", l.name, res.StatusCode, l.startCode, rec.Body)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		tb.Fatalf("%s start: Location: %v", l.name, err)
	}
	state = loc.Query().Get("state")
	if state == "" {
		tb.Fatalf("%s start: no state in %s", l.name, loc.Redacted())
	}
	return state, res.Cookies(), loc
}

// callbackRequest is the provider's redirect back to owner's browser: code
// and state in the query, the flow's cookies attached.
func callbackRequest(l *lib, owner, state string, cookies []*http.Cookie) *http.Request {
	r := newRequest(l.ctx, redirectURL+"?code=auth_bench&state="+url.QueryEscape(state), cookies)
	r.Header.Set(ownerHeader, owner)
	return r
}

// badState never matches: every library mints its own 128+ bit state.
const badState = "AAAAAAAAAAAAAAAAAAAAAA"

// BenchmarkStart: mint the state (and PKCE verifier where the library does
// PKCE), set the state cookie, redirect to the authorization URL. Each
// iteration gets a fresh copy of the same cookie-less request, so no
// library can reuse parsed forms or sessions cached on the request.
func BenchmarkStart(b *testing.B) {
	for _, lc := range libs {
		b.Run("lib="+lc.name, func(b *testing.B) {
			l := lc.new(b, sharedClient)
			tmpl := newRequest(l.ctx, startURL, nil)
			req := new(http.Request)
			w := newDiscardWriter()
			var cpu cpuClock
			b.ReportAllocs()
			cpu.start()
			for b.Loop() {
				*req = *tmpl
				w.reset()
				l.start.ServeHTTP(w, req)
				if w.code != l.startCode {
					b.Fatalf("status %d, want %d", w.code, l.startCode)
				}
			}
			cpu.report(b)
		})
	}
}

// callbackBatch is how many flows are started (untimed) at a time for
// BenchmarkCallback. Each batch also gets a new library instance, so
// oauthlink's replay guard and store hold at most one batch, as they would
// hold the last few minutes of flows in production. Each flow of a batch
// is started by another owner, as in production (oauthlink admits at most
// MaxFlowsPerOwner flows of one owner at a time).
const callbackBatch = 256

// BenchmarkCallback: the whole callback of a flow started by the same
// library: authenticate the state cookie and compare it with the query,
// spend the code at the token endpoint (tokenEndpoint, through the shared
// client), hand the token over, 303 to "/". Every iteration uses a flow of
// its own; starting the flows is not timed.
func BenchmarkCallback(b *testing.B) {
	for _, lc := range libs {
		b.Run("lib="+lc.name, func(b *testing.B) {
			var l *lib
			batch := make([]*http.Request, 0, callbackBatch)
			next := 0
			refill := func() {
				l = lc.new(b, sharedClient)
				batch = batch[:0]
				for i := range callbackBatch {
					owner := "shop-" + strconv.Itoa(i)
					state, cookies, _ := startFlow(b, l, owner)
					batch = append(batch, callbackRequest(l, owner, state, cookies))
				}
				next = 0
				// Collect the garbage of starting the batch now, untimed, so
				// the timed callbacks pay only for their own (gothic's
				// starts leave about 200 MB per batch).
				runtime.GC()
			}
			refill()
			w := newDiscardWriter()
			var cpu cpuClock
			b.ReportAllocs()
			cpu.start()
			for b.Loop() {
				if next == len(batch) {
					cpu.stop()
					b.StopTimer()
					refill()
					b.StartTimer()
					cpu.start()
				}
				w.reset()
				l.callback.ServeHTTP(w, batch[next])
				next++
				if w.code != http.StatusSeeOther {
					b.Fatalf("status %d, want 303", w.code)
				}
			}
			cpu.report(b)
		})
	}
}

// BenchmarkBadState: a callback that carries the genuine cookies of a
// started flow but a state that is not the flow's (a forged or stale
// redirect). Every library must refuse it without calling the token
// endpoint.
func BenchmarkBadState(b *testing.B) {
	for _, lc := range libs {
		b.Run("lib="+lc.name, func(b *testing.B) {
			l := lc.new(b, sharedClient)
			_, cookies, _ := startFlow(b, l, "shop-1")
			tmpl := callbackRequest(l, "shop-1", badState, cookies)
			req := new(http.Request)
			w := newDiscardWriter()
			var cpu cpuClock
			b.ReportAllocs()
			cpu.start()
			for b.Loop() {
				*req = *tmpl
				w.reset()
				l.callback.ServeHTTP(w, req)
				if w.code < 400 {
					b.Fatalf("status %d, want a 4xx refusal", w.code)
				}
			}
			cpu.report(b)
		})
	}
}

// BenchmarkReference measures pieces, not libraries, to read the rows
// above: the bare x/oauth2 code exchange every peer runs underneath
// (subtract it from a peer's callback for its own cost), and the store
// upsert oauthlink does in its callback that the peers leave to the app.
func BenchmarkReference(b *testing.B) {
	b.Run("op=x-oauth2-exchange", func(b *testing.B) {
		cfg := oauth2Config()
		ctx := clientContext(sharedClient)
		verifier := oauth2.GenerateVerifier()
		var cpu cpuClock
		b.ReportAllocs()
		cpu.start()
		for b.Loop() {
			tok, err := cfg.Exchange(ctx, "auth_bench", oauth2.VerifierOption(verifier))
			if err != nil || tok.AccessToken == "" {
				b.Fatal(tok, err)
			}
		}
		cpu.report(b)
	})
	b.Run("op=memstore-upsert", func(b *testing.B) {
		st := memstore.New()
		ctx := context.Background()
		var cpu cpuClock
		b.ReportAllocs()
		cpu.start()
		for b.Loop() {
			conn := &oauthlink.Connection{Provider: providerName, Owner: "shop-1",
				AccessToken: "access_bench", RefreshToken: "refresh_bench", TokenType: "bearer",
				Scopes: scopes, Status: store.StatusActive}
			if old, err := st.Load(ctx, providerName, conn.Owner); err == nil {
				conn.Version, conn.CreatedAt = old.Version, old.CreatedAt
			}
			if err := st.Save(ctx, conn); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	})
}

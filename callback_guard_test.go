package oauthlink_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// countingGuard counts the states recorded in a replay guard.
type countingGuard struct {
	store.ReplayGuard
	calls atomic.Int64
}

func (g *countingGuard) Consume(ctx context.Context, key string, expires time.Time) (bool, error) {
	g.calls.Add(1)
	return g.ReplayGuard.Consume(ctx, key, expires)
}

// headerWriter keeps the status and headers of a response, not its body.
type headerWriter struct {
	h      http.Header
	status int
}

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *headerWriter) WriteHeader(s int)           { w.status = s }

// inProcess drives one Connector's start and callback handlers without a
// network round trip, as a scripted client looping through flows would.
type inProcess struct {
	t        testing.TB
	link     *oauthlink.Connector
	start    http.Handler
	callback http.Handler
	base     *url.URL
	w        headerWriter
}

func newInProcess(t testing.TB, e *env, provider string) *inProcess {
	base, err := url.Parse(e.app.URL + "/connect/" + provider + "/callback")
	require.NoError(t, err)
	link := e.links[provider]
	return &inProcess{t: t, link: link, start: link.StartHandler(), callback: link.CallbackHandler(),
		base: base, w: headerWriter{h: http.Header{}}}
}

// flow starts a flow for owner and returns its state and the Cookie header
// of the callback.
func (p *inProcess) flow(owner string) (state, cookie string) {
	clear(p.w.h)
	r := &http.Request{Method: http.MethodGet, URL: p.base, Header: http.Header{"Cookie": {"user=" + owner}}}
	p.start.ServeHTTP(&p.w, r)
	if p.w.status != http.StatusSeeOther {
		p.t.Fatalf("start: %d", p.w.status)
	}
	loc := p.w.h.Get("Location")
	i := strings.Index(loc, "&state=")
	if i < 0 {
		p.t.Fatalf("no state in the authorization URL")
	}
	state, _, _ = strings.Cut(loc[i+len("&state="):], "&")
	flowCookie, _, _ := strings.Cut(p.w.h.Get("Set-Cookie"), ";")
	return state, "user=" + owner + "; " + flowCookie
}

// call sends a callback with query and cookie, and returns its status and
// whether it cleared the flow cookie.
func (p *inProcess) call(query, cookie string) (status int, cleared bool) {
	clear(p.w.h)
	u := *p.base
	u.RawQuery = query
	r := &http.Request{Method: http.MethodGet, URL: &u, Header: http.Header{"Cookie": {cookie}}}
	p.callback.ServeHTTP(&p.w, r)
	for _, sc := range p.w.h["Set-Cookie"] {
		cleared = cleared || strings.Contains(sc, "Max-Age=0")
	}
	return p.w.status, cleared
}

// F18: callbacks that never reach the exchange (a provider error, a
// missing code) record nothing in the replay guard; the state and the
// cookie are still checked first, and the cookie is still cleared.
func TestCallbackWithoutExchangeRecordsNoState(t *testing.T) {
	g := &countingGuard{ReplayGuard: memstore.New()}
	// The store's replay guard capability is g.
	e := newEnv(t, withStore(struct {
		store.TokenStore
		*countingGuard
	}{memstore.New(), g}))
	p := newInProcess(t, e, "mollie")

	state, cookie := p.flow("shop-1")
	status, cleared := p.call("error=access_denied&state="+state, cookie)
	assert.Equal(t, http.StatusForbidden, status)
	assert.True(t, cleared)
	var pe *oauthlink.ProviderError
	require.ErrorAs(t, e.lastErr(), &pe)
	assert.True(t, pe.Cancelled())

	state, cookie = p.flow("shop-1")
	status, cleared = p.call("state="+state, cookie)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.True(t, cleared)
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrBadRequest)

	// The state and cookie checks come first.
	_, cookie = p.flow("shop-1")
	status, _ = p.call("error=access_denied&state=AAAAAAAAAAAAAAAAAAAAAA", cookie)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrInvalidState)
	state, cookie = p.flow("shop-1")
	status, _ = p.call("error=access_denied&state="+state, strings.Replace(cookie, "user=shop-1", "user=shop-2", 1))
	assert.Equal(t, http.StatusForbidden, status)
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrOwnerMismatch)

	assert.Zero(t, g.calls.Load(), "no state recorded")
	assert.Zero(t, e.tokenCalls())
	assert.Equal(t, http.StatusSeeOther, e.browser("shop-1").connect("mollie", "").Status)
	assert.Equal(t, int64(1), g.calls.Load(), "a flow that reaches the exchange records its state")
}

// One signed-in user looping through start and an error callback (no
// provider call at all) more times than the replay guard holds states
// cannot lock anyone else out: afterwards another owner connects. Both
// bounded guards are driven past their 100,000 states: memstore's, and the
// in-process one used for a store that has none.
func TestOneOwnerCannotFillReplayGuard(t *testing.T) {
	if testing.Short() {
		t.Skip("drives 100,001 flows")
	}
	for name, st := range map[string]store.TokenStore{
		"memstore":   memstore.New(),
		"in-process": noLock{memstore.New()}, // hides memstore's guard
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withStore(st), withConfig(func(c *oauthlink.Config) {
				// 100,001 refusals, neither logged nor kept.
				c.Logger = slog.New(slog.DiscardHandler)
				c.Hooks.OnError = oauthlink.DefaultErrorHandler
			}))
			p := newInProcess(t, e, "qonto")
			const flows = memstore.DefaultMaxStates + 1
			refused := map[int]int{} // status → count, for answers other than 403
			for range flows {
				state, cookie := p.flow("mallory")
				if status, _ := p.call("error=access_denied&state="+state, cookie); status != http.StatusForbidden {
					refused[status]++
				}
			}
			h := e.browser("shop-2").connect("qonto", "")
			assert.Equal(t, http.StatusSeeOther, h.Status, "another owner connects")
			_, err := e.load("qonto", "shop-2")
			assert.NoError(t, err)
			assert.Empty(t, refused, "every error callback is answered as the cancellation it reports")
			assert.Equal(t, 1, e.qonto.Exchanges(), "mallory spent no code")
		})
	}
}

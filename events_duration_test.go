package oauthlink_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/fleet"
	"github.com/oauthlink/oauthlink/oauthlinktest"
)

// slowProvider advances the test clock by step on every call to the
// token or revocation endpoint, as a provider that takes step to answer
// would on the real clock.
type slowProvider struct {
	advance func()
	paths   map[string]bool
	next    http.RoundTripper
}

func (s slowProvider) RoundTrip(r *http.Request) (*http.Response, error) {
	if s.paths[r.URL.Path] {
		s.advance()
	}
	return s.next.RoundTrip(r)
}

// timedEvents records every event with its duration.
type timedEvents struct {
	mu  sync.Mutex
	evs []oauthlink.Event
}

func (l *timedEvents) add(_ context.Context, ev oauthlink.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, ev)
}

// only returns the single event of kind, failing the test when there is
// not exactly one.
func (l *timedEvents) only(t *testing.T, kind oauthlink.EventKind) oauthlink.Event {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var got []oauthlink.Event
	for _, ev := range l.evs {
		if ev.Kind == kind {
			got = append(got, ev)
		}
	}
	require.Len(t, got, 1, "events of kind %s", kind)
	return got[0]
}

func (l *timedEvents) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = nil
}

// TestEventDurations: every lifecycle event carries how long its
// operation took on Config.Now's clock: the callback from the request's
// arrival, the refresh including the provider's answer, the disconnect
// including the revocation, the keeper pass; an event whose operation
// made no timed call carries zero.
func TestEventDurations(t *testing.T) {
	const step = 3 * time.Second
	events := &timedEvents{}
	var clk *clock
	e := newEnv(t, withConfig(func(c *oauthlink.Config) {
		c.Hooks.OnEvent = events.add
		tok, err := http.NewRequest(http.MethodGet, c.Provider.TokenURL, nil)
		require.NoError(t, err)
		rev, err := http.NewRequest(http.MethodGet, c.Provider.RevokeURL, nil)
		require.NoError(t, err)
		client := *c.HTTPClient
		// clk is set below, before the first request.
		advance := func() { clk.Advance(step) }
		client.Transport = slowProvider{advance: advance, paths: map[string]bool{tok.URL.Path: true, rev.URL.Path: true}, next: client.Transport}
		c.HTTPClient = &client
	}))
	clk = e.clk
	link := e.links["qonto"]

	// connected: the exchange took one step.
	e.connected("qonto", "shop-1")
	assert.Zero(t, events.only(t, oauthlink.EventFlowStarted).Duration, "the start handler makes no provider call")
	assert.Equal(t, step, events.only(t, oauthlink.EventConnected).Duration)

	// flow_failed: the exchange answered an error after one step.
	events.reset()
	e.qonto.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Status: 500, Body: `{"error":"server_error"}`, ContentType: "application/json"})
	h := e.browser("shop-2").connect("qonto", "")
	require.NotEqual(t, http.StatusSeeOther, h.Status)
	failed := events.only(t, oauthlink.EventFlowFailed)
	assert.Equal(t, step, failed.Duration)
	assert.ErrorIs(t, failed.Err, oauthlink.ErrExchange)

	// refreshed: one refresh call.
	events.reset()
	clk.Advance(2 * time.Hour)
	_, err := link.Connection(context.Background(), "shop-1")
	require.NoError(t, err)
	assert.Equal(t, step, events.only(t, oauthlink.EventRefreshed).Duration)

	// refresh_failed: the provider fails every attempt, one step each.
	events.reset()
	var faults []oauthlinktest.Fault
	for range 4 { // TokenOptions.RefreshAttempts' default
		faults = append(faults, oauthlinktest.Fault{Status: 503, Body: `{"error":"temporarily_unavailable"}`, ContentType: "application/json"})
	}
	e.qonto.Fault(oauthlinktest.EndpointToken, faults...)
	calls := e.qonto.Calls(oauthlinktest.EndpointToken)
	_, err = link.ForceRefresh(context.Background(), "shop-1")
	require.ErrorIs(t, err, oauthlink.ErrRefresh)
	n := e.qonto.Calls(oauthlinktest.EndpointToken) - calls
	require.Equal(t, 4, n, "the refresh was tried RefreshAttempts times")
	assert.Equal(t, time.Duration(n)*step, events.only(t, oauthlink.EventRefreshFailed).Duration,
		"every attempt of the refresh counts")
	require.Zero(t, e.qonto.PendingFaults(oauthlinktest.EndpointToken), "every attempt was made")

	// disconnected: the revocation (access and refresh token) is timed.
	events.reset()
	revokes := e.qonto.Calls(oauthlinktest.EndpointRevoke)
	require.NoError(t, link.Disconnect(context.Background(), "shop-1"))
	n = e.qonto.Calls(oauthlinktest.EndpointRevoke) - revokes
	require.Positive(t, n)
	assert.Equal(t, time.Duration(n)*step, events.only(t, oauthlink.EventDisconnected).Duration)

	// revoked: marking the record calls nobody.
	events.reset()
	e.connected("qonto", "shop-3")
	_, err = fleet.MarkRevoked(context.Background(), link, "shop-3", fleet.Revocation{})
	require.NoError(t, err)
	assert.Zero(t, events.only(t, fleet.EventRevoked).Duration)
}

package discovery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/discovery"
	"github.com/oauthlink/oauthlink/oauthlinktest"
)

const memIssuer = "https://as.example"

// memAS is an authorization server behind an in-memory transport, so the
// cache tests need neither sockets nor a real clock.
type memAS struct {
	mu           sync.Mutex
	calls        int
	status       int    // default 200
	cacheControl string // the Cache-Control header, if any
	age          string // the Age header, if any
	token        string // the token endpoint's path
	gate         chan struct{}
}

func newMemAS() *memAS { return &memAS{status: http.StatusOK, token: "/token"} }

func (m *memAS) set(f func(m *memAS)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

func (m *memAS) fetches() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

func (m *memAS) RoundTrip(r *http.Request) (*http.Response, error) {
	m.mu.Lock()
	m.calls++
	status, cc, age, token, gate := m.status, m.cacheControl, m.age, m.token, m.gate
	m.mu.Unlock()
	if gate != nil {
		<-gate
	}
	w := httptest.NewRecorder()
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	if age != "" {
		w.Header().Set("Age", age)
	}
	w.WriteHeader(status)
	if status == http.StatusOK {
		iss := "https://" + r.URL.Host // memIssuer, or another issuer on the same transport
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss, "authorization_endpoint": iss + "/authorize", "token_endpoint": iss + token,
		})
	}
	return w.Result(), nil
}

func newCache(m *memAS, clk *oauthlinktest.Clock, o discovery.Options) *discovery.Cache {
	o.HTTPClient = &http.Client{Transport: m}
	o.Now = clk.Now
	return discovery.NewCache(o)
}

func tokenEndpoint(t *testing.T, c *discovery.Cache) string {
	t.Helper()
	md, err := c.Metadata(t.Context(), memIssuer)
	require.NoError(t, err)
	return md.TokenEndpoint
}

// A document is fresh for MaxAge (default 1 hour), or for a shorter
// Cache-Control max-age less Age, but at least a minute.
func TestCacheFreshness(t *testing.T) {
	for _, tc := range []struct {
		name         string
		maxAge       time.Duration
		cacheControl string
		age          string
		fresh        time.Duration
	}{
		{name: "default", fresh: time.Hour},
		{name: "MaxAge", maxAge: 10 * time.Minute, fresh: 10 * time.Minute},
		{name: "MaxAge below a minute", maxAge: time.Second, fresh: time.Minute},
		{name: "shorter max-age", cacheControl: "public, max-age=120", fresh: 2 * time.Minute},
		{name: "max-age less Age", cacheControl: "max-age=600", age: "300", fresh: 5 * time.Minute},
		{name: "longer max-age is capped", cacheControl: "max-age=86400", fresh: time.Hour},
		{name: "no-store", cacheControl: "no-store", fresh: time.Minute},
		{name: "no-cache", cacheControl: "max-age=600, no-cache", fresh: time.Minute},
		{name: "max-age=0", cacheControl: "max-age=0", fresh: time.Minute},
		{name: "malformed max-age", cacheControl: "max-age=soon", fresh: time.Minute},
		{name: "huge max-age is capped", cacheControl: "max-age=99999999999999999999", fresh: time.Hour},
		{name: "negative max-age", cacheControl: "max-age=-5", fresh: time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemAS()
			m.set(func(m *memAS) { m.cacheControl, m.age = tc.cacheControl, tc.age })
			clk := oauthlinktest.NewClock(time.Time{})
			c := newCache(m, clk, discovery.Options{MaxAge: tc.maxAge})
			tokenEndpoint(t, c)
			clk.Advance(tc.fresh - time.Second)
			tokenEndpoint(t, c)
			assert.Equal(t, 1, m.fetches(), "still fresh")
			clk.Advance(time.Second)
			tokenEndpoint(t, c)
			assert.Equal(t, 2, m.fetches(), "stale: fetched again")
		})
	}
}

// A changed document is picked up at the first call after expiry.
func TestCachePicksUpAChangedDocument(t *testing.T) {
	m := newMemAS()
	clk := oauthlinktest.NewClock(time.Time{})
	c := newCache(m, clk, discovery.Options{})
	assert.Equal(t, memIssuer+"/token", tokenEndpoint(t, c))
	m.set(func(m *memAS) { m.token = "/v2/token" })
	clk.Advance(30 * time.Minute)
	assert.Equal(t, memIssuer+"/token", tokenEndpoint(t, c))
	clk.Advance(30 * time.Minute)
	assert.Equal(t, memIssuer+"/v2/token", tokenEndpoint(t, c))
}

// A failed refresh serves the stale document for StaleIfError past its
// expiry, asks again at most once a minute, and returns the failure after
// the window.
func TestCacheStaleIfError(t *testing.T) {
	m := newMemAS()
	clk := oauthlinktest.NewClock(time.Time{})
	c := newCache(m, clk, discovery.Options{StaleIfError: 2 * time.Hour})
	tokenEndpoint(t, c)
	m.set(func(m *memAS) { m.status = http.StatusServiceUnavailable })

	clk.Advance(time.Hour) // expired
	assert.Equal(t, memIssuer+"/token", tokenEndpoint(t, c), "stale served")
	assert.Equal(t, 2, m.fetches())
	clk.Advance(59 * time.Second)
	tokenEndpoint(t, c)
	assert.Equal(t, 2, m.fetches(), "no new fetch within a minute of the failure")
	clk.Advance(time.Second)
	tokenEndpoint(t, c)
	assert.Equal(t, 3, m.fetches(), "asked again after a minute")

	clk.Set(clk.Now().Add(2*time.Hour - time.Minute)) // past expiry + StaleIfError
	_, err := c.Metadata(t.Context(), memIssuer)
	assert.ErrorIs(t, err, discovery.ErrFetch)
	assert.Equal(t, 4, m.fetches())

	// The server recovers: the next call fetches and caches again.
	m.set(func(m *memAS) { m.status = http.StatusOK })
	tokenEndpoint(t, c)
	tokenEndpoint(t, c)
	assert.Equal(t, 5, m.fetches())
}

// Negative StaleIfError never serves a stale document.
func TestCacheStaleIfErrorDisabled(t *testing.T) {
	m := newMemAS()
	clk := oauthlinktest.NewClock(time.Time{})
	c := newCache(m, clk, discovery.Options{StaleIfError: -1})
	tokenEndpoint(t, c)
	m.set(func(m *memAS) { m.status = http.StatusInternalServerError })
	clk.Advance(time.Hour)
	_, err := c.Metadata(t.Context(), memIssuer)
	assert.ErrorIs(t, err, discovery.ErrFetch)
}

// A failure with nothing cached is never cached: every call fetches.
func TestCacheDoesNotCacheFailures(t *testing.T) {
	m := newMemAS()
	m.set(func(m *memAS) { m.status = http.StatusBadGateway })
	clk := oauthlinktest.NewClock(time.Time{})
	c := newCache(m, clk, discovery.Options{})
	for range 3 {
		_, err := c.Provider(t.Context(), "acme", memIssuer)
		assert.ErrorIs(t, err, discovery.ErrFetch)
	}
	assert.Equal(t, 3, m.fetches())
}

// Concurrent calls for one issuer share one fetch.
func TestCacheSharesOneFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemAS()
		gate := make(chan struct{})
		m.set(func(m *memAS) { m.gate = gate })
		c := discovery.NewCache(discovery.Options{HTTPClient: &http.Client{Transport: m}})
		var wg sync.WaitGroup
		got := make([]string, 8)
		for i := range got {
			wg.Go(func() {
				p, err := c.Provider(t.Context(), "acme", memIssuer)
				if assert.NoError(t, err) {
					got[i] = p.TokenURL
				}
			})
		}
		synctest.Wait() // every caller is waiting on the one fetch
		assert.Equal(t, 1, m.fetches())
		close(gate)
		wg.Wait()
		for _, tok := range got {
			assert.Equal(t, memIssuer+"/token", tok)
		}
		assert.Equal(t, 1, m.fetches())
	})
}

// A caller that gives up gets its context's error; the fetch goes on for
// the others and is cached.
func TestCacheCallerCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemAS()
		gate := make(chan struct{})
		m.set(func(m *memAS) { m.gate = gate })
		c := discovery.NewCache(discovery.Options{HTTPClient: &http.Client{Transport: m}})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() {
			_, err := c.Metadata(ctx, memIssuer)
			done <- err
		}()
		synctest.Wait()
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
		close(gate)
		synctest.Wait()
		_, err := c.Metadata(t.Context(), memIssuer)
		require.NoError(t, err)
		assert.Equal(t, 1, m.fetches(), "the abandoned fetch completed and was cached")
	})
}

// Metadata hands out a copy: changing it does not change the cache.
func TestCacheMetadataIsACopy(t *testing.T) {
	m := newMemAS()
	c := newCache(m, oauthlinktest.NewClock(time.Time{}), discovery.Options{})
	md, err := c.Metadata(t.Context(), memIssuer)
	require.NoError(t, err)
	md.TokenEndpoint = "https://evil.example/token"
	assert.Equal(t, memIssuer+"/token", tokenEndpoint(t, c))
}

// The cache keeps at most 1024 issuers: the 1025th pushes out the one
// that expires first.
func TestCacheIsBounded(t *testing.T) {
	m := newMemAS()
	clk := oauthlinktest.NewClock(time.Time{})
	c := newCache(m, clk, discovery.Options{})
	issuer := func(i int) string { return fmt.Sprintf("https://tenant-%d.example", i) }
	for i := range 1025 {
		_, err := c.Metadata(t.Context(), issuer(i))
		require.NoError(t, err)
		clk.Advance(time.Millisecond)
	}
	require.Equal(t, 1025, m.fetches())
	_, err := c.Metadata(t.Context(), issuer(1))
	require.NoError(t, err)
	assert.Equal(t, 1025, m.fetches(), "the second issuer is still cached")
	_, err = c.Metadata(t.Context(), issuer(0))
	require.NoError(t, err)
	assert.Equal(t, 1026, m.fetches(), "the first, which expired first, was dropped")
}

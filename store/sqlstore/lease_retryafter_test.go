package sqlstore_test

// TestLeaseOutlivesRetryAfter comes from the root package's
// lifecycle_lease_test.go: it runs two instances on one SQLite file, so it
// lives in this module, beside the driver, and the root module needs no
// database driver. The harness below is the minimal part of the root's
// harness_test.go (and lifecycle_test.go's env.connected) that it needs:
// an app on an httptest TLS server with a Qonto connector on a fake.

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "modernc.org/sqlite"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
	"github.com/oauthlink/oauthlink/store/sqlstore"
)

// A refresh that waits out Retry-After longer than the lock's lease keeps
// the lease (renewal): a second instance waits instead of sending the same
// refresh token, and Hydra at grace 0 sees no reuse. The instances share a
// memstore, or each has its own pool on one SQLite file.
func TestLeaseOutlivesRetryAfter(t *testing.T) {
	t.Run("memstore", func(t *testing.T) {
		st := memstore.New()
		testLeaseOutlivesRetryAfter(t, st, st)
	})
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "oauthlink.db")
		testLeaseOutlivesRetryAfter(t, openSQLite(t, path), openSQLite(t, path))
	})
}

// openSQLite opens a store with a pool of its own on the SQLite file at
// path, as one more process would.
func openSQLite(t *testing.T, path string) store.TokenStore {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	st, err := sqlstore.New(context.Background(), db, sqlstore.Options{})
	require.NoError(t, err)
	return st
}

func testLeaseOutlivesRetryAfter(t *testing.T, st, peerStore store.TokenStore) {
	short := func(c *oauthlink.Config) {
		c.Tokens.ExchangeTimeout = time.Second // the old lock lived 2 x ExchangeTimeout
		// Shorter than Retry-After, so the holder must renew while it
		// waits; long enough that a renewal slowed by a loaded machine
		// (SQLite under -race) still lands in time.
		c.Tokens.LockTTL = 3 * time.Second
		c.Tokens.RetryMax = 10 * time.Second
	}
	e := newEnv(t, withStore(st), withQonto(oauthlinktest.QontoOptions{Grace: oauthlinktest.NoGrace, AccessTokenLifetime: 5 * time.Minute}),
		withProvider(rotating), withConfig(short))
	e.connected("qonto", "shop-1")
	f := e.fakes["qonto"]
	p := f.Provider()
	rotating(&p)
	cfg := oauthlink.Config{
		Provider: p, ClientID: f.ClientID(), ClientSecret: f.ClientSecret(),
		RedirectURL: e.app.URL + "/connect/qonto/callback", Store: peerStore, Owner: ownerFromCookie,
		CookieSecrets: [][]byte{e.secret}, HTTPClient: f.Client(), Now: e.clk.Now,
		Logger: slog.New(slog.NewTextHandler(e.logs, nil)),
		Tokens: oauthlink.TokenOptions{RetryBase: time.Millisecond},
	}
	short(&cfg)
	cfg.Tokens.ExchangeTimeout = 15 * time.Second // the peer waits up to 30 s for the lock
	peer, err := oauthlink.New(cfg)
	require.NoError(t, err)
	e.clk.Advance(5 * time.Minute)
	e.qonto.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "5",
		Body: `{"error":"slow_down"}`, ContentType: "application/json"})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var first, second *oauthlink.Connection
	var err1, err2 error
	wg.Go(func() { first, err1 = e.links["qonto"].Connection(ctx, "shop-1") })
	require.Eventually(t, func() bool { return e.qonto.Calls(oauthlinktest.EndpointToken) >= 2 }, 10*time.Second, time.Millisecond,
		"the first refresh reached the provider and got its 429")
	// Start the peer well inside the first holder's Retry-After wait, so
	// that a lease that is not renewed has lapsed while it waits.
	time.Sleep(500 * time.Millisecond)
	wg.Go(func() { second, err2 = peer.Connection(ctx, "shop-1") })
	wg.Wait()
	require.NoError(t, err1)
	require.NoError(t, err2)
	assert.Zero(t, e.qonto.ReuseDetections(), "no refresh token was sent twice")
	assert.Equal(t, 1, e.qonto.Refreshes(), "one refresh for one rotation")
	assert.Equal(t, first.AccessToken, second.AccessToken, "both instances end on one token")
}

// rotating is the Qonto fake's descriptor with the rotation it performs
// stated (Hydra at grace 0).
func rotating(p *oauthlink.Provider) {
	p.RotatesRefreshTokens = true
	p.RefreshGrace = 0
}

// clock is the settable clock shared by the fake and the connector, so
// expiry is tested without sleeping.
type clock = oauthlinktest.Clock

// env is an app on an httptest TLS server with a Qonto connector against
// the fake.
type env struct {
	t      *testing.T
	clk    *clock
	app    *httptest.Server
	mux    *http.ServeMux
	store  store.TokenStore
	qonto  *oauthlinktest.Qonto
	links  map[string]*oauthlink.Connector
	fakes  map[string]*oauthlinktest.Qonto
	logs   *testutil.SyncBuffer
	secret []byte
}

type envOption func(*envConfig)

type envConfig struct {
	store    store.TokenStore
	qonto    oauthlinktest.QontoOptions
	cfg      func(*oauthlink.Config)
	provider func(*oauthlink.Provider)
}

func withStore(s store.TokenStore) envOption { return func(c *envConfig) { c.store = s } }
func withConfig(f func(*oauthlink.Config)) envOption {
	return func(c *envConfig) { c.cfg = f }
}
func withProvider(f func(*oauthlink.Provider)) envOption {
	return func(c *envConfig) { c.provider = f }
}
func withQonto(o oauthlinktest.QontoOptions) envOption { return func(c *envConfig) { c.qonto = o } }

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	var ec envConfig
	for _, o := range opts {
		o(&ec)
	}
	e := &env{t: t, clk: oauthlinktest.NewClock(time.Time{}), mux: http.NewServeMux(), logs: &testutil.SyncBuffer{},
		links: map[string]*oauthlink.Connector{}, fakes: map[string]*oauthlinktest.Qonto{}, secret: bytes.Repeat([]byte{0x42}, 32)}
	e.app = httptest.NewTLSServer(e.mux)
	t.Cleanup(e.app.Close)
	e.store = ec.store
	if e.store == nil {
		e.store = memstore.New()
	}
	ec.qonto.Now = e.clk.Now
	// The fake serves https like the real provider: New refuses plain-http
	// endpoints without AllowInsecureHTTP.
	ec.qonto.TLS = true
	ec.qonto.RedirectURIs = []string{e.app.URL + "/connect/qonto/callback"}
	e.qonto = oauthlinktest.NewQonto(ec.qonto)
	t.Cleanup(e.qonto.Close)
	e.fakes["qonto"] = e.qonto

	for name, f := range e.fakes {
		p := f.Provider()
		if ec.provider != nil {
			ec.provider(&p)
		}
		cfg := oauthlink.Config{
			Provider:      p,
			ClientID:      f.ClientID(),
			ClientSecret:  f.ClientSecret(),
			RedirectURL:   e.app.URL + "/connect/" + name + "/callback",
			Store:         e.store,
			Owner:         ownerFromCookie,
			CookieSecrets: [][]byte{e.secret},
			HTTPClient:    f.Client(),
			Logger:        slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Now:           e.clk.Now,
			Tokens:        oauthlink.TokenOptions{RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond},
		}
		if ec.cfg != nil {
			ec.cfg(&cfg)
		}
		c, err := oauthlink.New(cfg)
		require.NoError(t, err)
		e.links[name] = c
		e.mux.Handle("/connect/"+name, c.StartHandler())
		e.mux.Handle("/connect/"+name+"/callback", c.CallbackHandler())
	}
	return e
}

func ownerFromCookie(r *http.Request) (string, error) {
	ck, err := r.Cookie("user")
	if err != nil {
		return "", err
	}
	return ck.Value, nil
}

// connected runs a whole flow for owner and returns the stored connection.
func (e *env) connected(provider, owner string) *oauthlink.Connection {
	e.t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	u, _ := url.Parse(e.app.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: "user", Value: owner, Path: "/"}})
	c := &http.Client{Jar: jar, Transport: e.app.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(target string) (int, string, string) {
		e.t.Helper()
		resp, err := c.Get(target)
		require.NoError(e.t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		require.NoError(e.t, err)
		return resp.StatusCode, resp.Header.Get("Location"), string(body)
	}
	status, loc, body := get(e.app.URL + "/connect/" + provider)
	require.Equal(e.t, http.StatusSeeOther, status, "start: %s", body)
	status, cb, body := get(loc)
	require.Equal(e.t, http.StatusFound, status, "authorize: %s", body)
	require.True(e.t, strings.HasPrefix(cb, e.app.URL+"/connect/"+provider+"/callback"), cb)
	status, _, body = get(cb)
	require.Equal(e.t, http.StatusSeeOther, status, body)
	conn, err := e.store.Load(context.Background(), provider, owner)
	require.NoError(e.t, err)
	return conn
}

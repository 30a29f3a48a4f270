package integration_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/internal/testutil"

	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
)

const (
	provider = "qonto"
	owner    = "shop-1"
)

// syncBuffer collects concurrent log output for the test.
type syncBuffer = testutil.SyncBuffer

// cluster is one app deployed as several instances: each instance has its
// own store pool or client and its own Connector (so its own singleflight,
// pending saves and cache), all on one shared backend and one fake Qonto
// (Hydra rules). One instance at a time serves the browser-facing handlers
// on an httptest TLS server.
type cluster struct {
	t     testing.TB
	clk   *clock
	be    *backend
	qonto *oauthlinktest.Qonto
	app   *httptest.Server
	keys  []encrypted.Key
	logs  *syncBuffer
	seen  *tokenLog
	hook  atomic.Pointer[func(r *http.Request, grantType string)]
	h     atomic.Pointer[http.Handler] // the serving instance's mux
	cfg   func(*oauthlink.Config)
	wrap  func(name string, rt http.RoundTripper) http.RoundTripper

	mu   sync.Mutex
	errs []error
}

type clusterOptions struct {
	// qonto configures the fake; Now, RedirectURIs and BeforeTokenResponse
	// are set by newCluster.
	qonto oauthlinktest.QontoOptions
	// encrypt wraps every instance's store in the encrypting store.
	encrypt bool
	// cfg adjusts every instance's Config.
	cfg func(*oauthlink.Config)
	// transport, when set, wraps the transport of the instance called
	// name on its way to the fake.
	transport func(name string, rt http.RoundTripper) http.RoundTripper
}

func newCluster(t testing.TB, be *backend, opts clusterOptions) *cluster {
	t.Helper()
	c := &cluster{t: t, clk: newClock(), be: be, logs: &syncBuffer{}, seen: &tokenLog{}}
	c.app = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := c.h.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(c.app.Close)
	qo := opts.qonto
	qo.Now = c.clk.Now
	// https like the real Qonto: New refuses plain-http endpoints without
	// AllowInsecureHTTP.
	qo.TLS = true
	qo.RedirectURIs = []string{c.app.URL + "/connect/qonto/callback"}
	qo.BeforeTokenResponse = func(r *http.Request, grantType string) {
		if f := c.hook.Load(); f != nil {
			(*f)(r, grantType)
		}
	}
	c.qonto = oauthlinktest.NewQonto(qo)
	t.Cleanup(c.qonto.Close)
	if opts.encrypt {
		key := make([]byte, 32)
		rand.Read(key)
		c.keys = []encrypted.Key{{ID: "k1", Key: key}}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("library logs:\n%s", c.logs.String())
		}
	})
	c.cfg = opts.cfg
	c.wrap = opts.transport
	return c
}

// onToken sets the fake's BeforeTokenResponse hook (nil removes it). It
// runs after the grant was processed (a refresh token already rotated, a
// code already spent) and before the answer is written.
func (c *cluster) onToken(f func(r *http.Request, grantType string)) {
	if f == nil {
		c.hook.Store(nil)
		return
	}
	c.hook.Store(&f)
}

// instance is one process of the app.
type instance struct {
	name  string
	store *observedStore   // the instance's own pool or client
	view  store.TokenStore // store, decrypting when the cluster encrypts
	link  *oauthlink.Connector
}

// instance starts an instance called name whose store connects to addr
// (the server when empty, or a proxy).
func (c *cluster) instance(name, addr string) *instance {
	c.t.Helper()
	if addr == "" {
		addr = c.be.addr
	}
	st := &observedStore{TokenStore: c.be.open(c.t, name, addr, c.clk.Now)}
	client := *c.qonto.Client()
	client.Transport = &recordingTransport{base: client.Transport, log: c.seen}
	if c.wrap != nil {
		client.Transport = c.wrap(name, client.Transport)
	}
	// view is what the Connector uses: the instance's store, behind the
	// encrypting wrapper when the cluster encrypts.
	var view store.TokenStore = st
	if len(c.keys) > 0 {
		sealed, err := encrypted.New(st, encrypted.Options{Keys: c.keys})
		require.NoError(c.t, err)
		view = sealed
	}
	cfg := oauthlink.Config{
		Provider:      c.qonto.Provider(),
		ClientID:      c.qonto.ClientID(),
		ClientSecret:  c.qonto.ClientSecret(),
		RedirectURL:   c.app.URL + "/connect/qonto/callback",
		Store:         view,
		Owner:         ownerFromCookie,
		CookieSecrets: [][]byte{bytes.Repeat([]byte{0x42}, 32)},
		HTTPClient:    &client,
		Logger:        slog.New(slog.NewTextHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("instance", name),
		Now:           c.clk.Now,
		Tokens:        oauthlink.TokenOptions{RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond},
		Hooks: oauthlink.Hooks{
			OnError: func(w http.ResponseWriter, r *http.Request, err error) {
				c.mu.Lock()
				c.errs = append(c.errs, err)
				c.mu.Unlock()
				oauthlink.DefaultErrorHandler(w, r, err)
			},
		},
	}
	if c.cfg != nil {
		c.cfg(&cfg)
	}
	link, err := oauthlink.New(cfg)
	require.NoError(c.t, err)
	return &instance{name: name, store: st, view: view, link: link}
}

// serve makes inst answer the browser: start and callback handlers, and a
// home page.
func (c *cluster) serve(inst *instance) {
	mux := http.NewServeMux()
	mux.Handle("/connect/qonto", inst.link.StartHandler())
	mux.Handle("/connect/qonto/callback", inst.link.CallbackHandler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "home") })
	var h http.Handler = mux
	c.h.Store(&h)
}

func ownerFromCookie(r *http.Request) (string, error) {
	ck, err := r.Cookie("user")
	if err != nil {
		return "", err
	}
	return ck.Value, nil
}

// lastErr is the error the last failing request handed to OnError.
func (c *cluster) lastErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs[len(c.errs)-1]
}

// connect runs a whole flow through the serving instance and returns the
// stored connection.
func (c *cluster) connect(inst *instance) *oauthlink.Connection {
	c.t.Helper()
	return c.connectAs(inst, owner)
}

// connectAs runs a whole flow for user through inst and returns the
// stored connection.
func (c *cluster) connectAs(inst *instance, user string) *oauthlink.Connection {
	c.t.Helper()
	c.serve(inst)
	h := c.browser(user).connect()
	require.Equal(c.t, http.StatusSeeOther, h.Status, h.Body)
	conn, err := inst.view.Load(testContext(c.t), provider, user)
	require.NoError(c.t, err)
	return conn
}

// stored reads the connection through the decrypting view of inst.
func (c *cluster) stored(inst *instance) (*oauthlink.Connection, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return inst.view.Load(ctx, provider, owner)
}

// fresh calls Fresh with a bounded context.
func fresh(inst *instance) (*oauthlink.Connection, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return inst.link.Connection(ctx, owner)
}

// browser is a cookie-jar client that follows redirects one hop at a time,
// across the app and the fake, like a browser does (as the root package's
// harness).
type browser struct {
	t   testing.TB
	c   *cluster
	hc  *http.Client
	jar *cookiejar.Jar
}

func (c *cluster) browser(user string) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(c.t, err)
	b := &browser{t: c.t, c: c, jar: jar, hc: &http.Client{Jar: jar, Transport: c.app.Client().Transport,
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	u, _ := url.Parse(c.app.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: "user", Value: user, Path: "/"}})
	return b
}

type hop struct {
	Status int
	Header http.Header
	Body   string
}

func (b *browser) get(target string) hop {
	b.t.Helper()
	resp, err := b.hc.Get(target)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	require.NoError(b.t, err)
	return hop{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
}

// authorize starts a flow and follows it up to (not including) the
// callback, returning the callback URL the provider redirected to.
func (b *browser) authorize() string {
	b.t.Helper()
	start := b.get(b.c.app.URL + "/connect/qonto")
	require.Equal(b.t, http.StatusSeeOther, start.Status, "start: %s", start.Body)
	h := b.get(start.Header.Get("Location"))
	require.Equal(b.t, http.StatusFound, h.Status, "authorize: %s", h.Body)
	cb := h.Header.Get("Location")
	require.True(b.t, strings.HasPrefix(cb, b.c.app.URL+"/connect/qonto/callback"), cb)
	return cb
}

// connect runs a whole flow and returns the callback's hop.
func (b *browser) connect() hop {
	b.t.Helper()
	return b.get(b.authorize())
}

// tokenLog records the token pairs the fake handed out, as the app's HTTP
// client read them, so a test knows tokens the library never stored.
type tokenLog struct {
	mu    sync.Mutex
	pairs []tokenPair
}

type tokenPair struct{ Access, Refresh string }

func (l *tokenLog) all() []tokenPair {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]tokenPair(nil), l.pairs...)
}

// recordingTransport tees successful token-endpoint answers into a
// tokenLog.
type recordingTransport struct {
	base http.RoundTripper
	log  *tokenLog
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := rt.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasSuffix(req.URL.Path, "/oauth2/token") {
		return resp, err
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		return resp, nil
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if json.Unmarshal(body, &tok) == nil && tok.AccessToken != "" {
		rt.log.mu.Lock()
		rt.log.pairs = append(rt.log.pairs, tokenPair{tok.AccessToken, tok.RefreshToken})
		rt.log.mu.Unlock()
	}
	return resp, nil
}

// observedStore records the outcome of every Save and Load of one instance
// and counts its Lock calls, so a test can tell how the library retried and
// when it went for the lock. It also tracks the leases it handed out, so a
// test can wait until no refresh of the instance is in progress and can
// tell when each lock was acquired. Unwrap passes the ReplayGuard and
// Pinger capabilities through.
type observedStore struct {
	store.TokenStore
	mu    sync.Mutex
	saves []error
	loads []error
	locks int
	// busy counts Lock calls in progress plus leases not yet released.
	busy int
	// acquired lists, per owner, when each Lock call returned a lease.
	acquired map[string][]time.Time
}

// Lock counts the call and takes the wrapped store's lock (both real
// stores have one), handing out a lease that reports its release.
func (o *observedStore) Lock(ctx context.Context, p, ow string, ttl time.Duration) (store.Lease, error) {
	o.mu.Lock()
	o.locks++
	o.busy++
	o.mu.Unlock()
	lease, err := o.TokenStore.(store.Locker).Lock(ctx, p, ow, ttl)
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.busy--
		return nil, err
	}
	if o.acquired == nil {
		o.acquired = map[string][]time.Time{}
	}
	o.acquired[ow] = append(o.acquired[ow], time.Now())
	return &observedLease{Lease: lease, o: o}, nil
}

// Busy reports whether a Lock call is in progress or a lease is held.
func (o *observedStore) Busy() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.busy
}

// Acquired returns when the instance acquired the lock of ow's connection.
func (o *observedStore) Acquired(ow string) []time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]time.Time(nil), o.acquired[ow]...)
}

// observedLease is a lease handed out by observedStore.
type observedLease struct {
	store.Lease
	o    *observedStore
	once sync.Once
}

func (l *observedLease) Release() {
	l.Lease.Release()
	l.once.Do(func() {
		l.o.mu.Lock()
		l.o.busy--
		l.o.mu.Unlock()
	})
}

// Locks returns how many times the instance asked for the lock.
func (o *observedStore) Locks() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.locks
}

func (o *observedStore) Unwrap() store.TokenStore { return o.TokenStore }

func (o *observedStore) Save(ctx context.Context, conn *oauthlink.Connection) error {
	err := o.TokenStore.Save(ctx, conn)
	o.mu.Lock()
	o.saves = append(o.saves, err)
	o.mu.Unlock()
	return err
}

func (o *observedStore) Load(ctx context.Context, p, ow string) (*oauthlink.Connection, error) {
	conn, err := o.TokenStore.Load(ctx, p, ow)
	o.mu.Lock()
	o.loads = append(o.loads, err)
	o.mu.Unlock()
	return conn, err
}

// Saves returns the errors of the saves so far (nil for a success).
func (o *observedStore) Saves() []error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]error(nil), o.saves...)
}

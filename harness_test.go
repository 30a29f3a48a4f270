package oauthlink_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/internal/testutil"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
	"github.com/oauthlink/oauthlink/store/memstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clock is the settable clock shared by the fakes and the connectors, so
// expiry is tested without sleeping.
type clock = oauthlinktest.Clock

func newClock() *clock { return oauthlinktest.NewClock(time.Time{}) }

// syncBuffer collects concurrent log output for the test.
type syncBuffer = testutil.SyncBuffer

// fake is what both fake providers offer the tests.
type fake interface {
	Provider() oauthlink.Provider
	ClientID() string
	ClientSecret() string
	Client() *http.Client
	Calls(oauthlinktest.Endpoint) int
	Exchanges() int
	Refreshes() int
	Revocations() int
	ReuseDetections() int
	Fault(oauthlinktest.Endpoint, ...oauthlinktest.Fault)
	ClientAuths(oauthlinktest.Endpoint) []oauthlinktest.ClientAuth
	AccessTokenValid(string) bool
	RefreshTokenValid(string) bool
	LastAuthorize() oauthlinktest.AuthorizeRequest
	DenyNext(code, description string)
	APIURL() string
}

// env is an app on an httptest TLS server with a Mollie and a Qonto
// connector, both against fakes, sharing one memstore.
type env struct {
	t      *testing.T
	clk    *clock
	app    *httptest.Server
	mux    *http.ServeMux
	store  store.TokenStore
	mollie *oauthlinktest.Mollie
	qonto  *oauthlinktest.Qonto
	// stripe and gocardless are started only when withFake asks for them.
	stripe     *oauthlinktest.Stripe
	gocardless *oauthlinktest.GoCardless
	adyen      *oauthlinktest.Adyen
	links      map[string]*oauthlink.Connector
	cfgs       map[string]oauthlink.Config // each link's Config, for variants
	fakes      map[string]fake
	logs       *syncBuffer
	secret     []byte

	mu   sync.Mutex
	errs []error
}

type envOption func(*envConfig)

type envConfig struct {
	store    store.TokenStore
	qonto    oauthlinktest.QontoOptions
	mollie   oauthlinktest.MollieOptions
	cfg      func(*oauthlink.Config)
	provider func(*oauthlink.Provider)
	extra    []string
}

// withFake adds the named fake ("stripe", "gocardless", "adyen") and its connector
// to the env's Mollie and Qonto.
func withFake(name string) envOption { return func(c *envConfig) { c.extra = append(c.extra, name) } }

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
	e := &env{t: t, clk: newClock(), mux: http.NewServeMux(), logs: &syncBuffer{},
		links: map[string]*oauthlink.Connector{}, cfgs: map[string]oauthlink.Config{}, fakes: map[string]fake{}, secret: bytes.Repeat([]byte{0x42}, 32)}
	e.app = httptest.NewTLSServer(e.mux)
	t.Cleanup(e.app.Close)
	e.store = ec.store
	if e.store == nil {
		e.store = memstore.New()
	}
	ec.mollie.Now, ec.qonto.Now = e.clk.Now, e.clk.Now
	// The fakes serve https like the real providers: New refuses plain-http
	// endpoints without AllowInsecureHTTP, and Client sends no token over
	// http. The app's client trusts them (httptest's one certificate).
	ec.mollie.TLS, ec.qonto.TLS = true, true
	ec.mollie.RedirectURIs = []string{e.app.URL + "/connect/mollie/callback"}
	ec.qonto.RedirectURIs = []string{e.app.URL + "/connect/qonto/callback"}
	e.mollie = oauthlinktest.NewMollie(ec.mollie)
	t.Cleanup(e.mollie.Close)
	e.qonto = oauthlinktest.NewQonto(ec.qonto)
	t.Cleanup(e.qonto.Close)
	e.fakes["mollie"], e.fakes["qonto"] = e.mollie, e.qonto
	for _, name := range ec.extra {
		redirect := []string{e.app.URL + "/connect/" + name + "/callback"}
		switch name {
		case "stripe":
			e.stripe = oauthlinktest.NewStripe(oauthlinktest.StripeOptions{Now: e.clk.Now, TLS: true, RedirectURIs: redirect})
			t.Cleanup(e.stripe.Close)
			e.fakes[name] = e.stripe
		case "gocardless":
			e.gocardless = oauthlinktest.NewGoCardless(oauthlinktest.GoCardlessOptions{Now: e.clk.Now, TLS: true, RedirectURIs: redirect})
			t.Cleanup(e.gocardless.Close)
			e.fakes[name] = e.gocardless
		case "adyen":
			e.adyen = oauthlinktest.NewAdyen(oauthlinktest.AdyenOptions{Now: e.clk.Now, TLS: true, RedirectURIs: redirect})
			t.Cleanup(e.adyen.Close)
			e.fakes[name] = e.adyen
		default:
			t.Fatalf("no fake %q", name)
		}
	}

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
			Hooks: oauthlink.Hooks{
				OnError: func(w http.ResponseWriter, r *http.Request, err error) {
					e.mu.Lock()
					e.errs = append(e.errs, err)
					e.mu.Unlock()
					oauthlink.DefaultErrorHandler(w, r, err)
				},
			},
		}
		if ec.cfg != nil {
			ec.cfg(&cfg)
		}
		c, err := oauthlink.New(cfg)
		require.NoError(t, err)
		e.links[name] = c
		e.cfgs[name] = cfg
		e.mux.Handle("/connect/"+name, c.StartHandler())
		e.mux.Handle("/connect/"+name+"/callback", c.CallbackHandler())
		e.mux.Handle("/connect/"+name+"/disconnect", c.DisconnectHandler())
	}
	e.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "home") })
	return e
}

func ownerFromCookie(r *http.Request) (string, error) {
	ck, err := r.Cookie("user")
	if err != nil {
		return "", err
	}
	return ck.Value, nil
}

// lastErr is the error the last failing request handed to OnError.
func (e *env) lastErr() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.errs) == 0 {
		return nil
	}
	return e.errs[len(e.errs)-1]
}

func (e *env) tokenCalls() int {
	return e.mollie.Calls(oauthlinktest.EndpointToken) + e.qonto.Calls(oauthlinktest.EndpointToken)
}

// browser is a cookie-jar client that follows redirects one hop at a time,
// across the app and the fakes, like a browser does.
type browser struct {
	t   *testing.T
	e   *env
	c   *http.Client
	jar *cookiejar.Jar
}

func (e *env) browser(user string) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	tr := e.app.Client().Transport
	b := &browser{t: e.t, e: e, jar: jar, c: &http.Client{Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if user != "" {
		u, _ := url.Parse(e.app.URL)
		jar.SetCookies(u, []*http.Cookie{{Name: "user", Value: user, Path: "/"}})
	}
	return b
}

type hop struct {
	URL    *url.URL
	Status int
	Header http.Header
	Body   string
}

func (b *browser) do(method, target string, header http.Header) hop {
	b.t.Helper()
	req, err := http.NewRequest(method, target, nil)
	require.NoError(b.t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	require.NoError(b.t, err)
	return hop{URL: req.URL, Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
}

func (b *browser) get(target string) hop { return b.do(http.MethodGet, target, nil) }

// follow GETs target and follows redirects (at most 10), returning every hop.
func (b *browser) follow(target string) []hop {
	b.t.Helper()
	var hops []hop
	for range 10 {
		h := b.get(target)
		hops = append(hops, h)
		loc := h.Header.Get("Location")
		if h.Status < 300 || h.Status > 399 || loc == "" {
			return hops
		}
		next, err := h.URL.Parse(loc)
		require.NoError(b.t, err)
		target = next.String()
	}
	b.t.Fatalf("too many redirects")
	return nil
}

// authorize starts a flow and follows it up to (not including) the
// callback, returning the callback URL the provider redirected to.
func (b *browser) authorize(provider, query string) string {
	b.t.Helper()
	start := b.get(b.e.app.URL + "/connect/" + provider + query)
	require.Equal(b.t, http.StatusSeeOther, start.Status, "start: %s", start.Body)
	h := b.get(start.Header.Get("Location"))
	require.Equal(b.t, http.StatusFound, h.Status, "authorize: %s", h.Body)
	cb := h.Header.Get("Location")
	require.True(b.t, strings.HasPrefix(cb, b.e.app.URL+"/connect/"+provider+"/callback"), cb)
	return cb
}

// connect runs a whole flow and returns the callback's hop.
func (b *browser) connect(provider, query string) hop {
	b.t.Helper()
	return b.get(b.authorize(provider, query))
}

func (e *env) load(provider, owner string) (*oauthlink.Connection, error) {
	return e.store.Load(context.Background(), provider, owner)
}

// cookieHeader is what the browser would send to the app.
func (b *browser) cookieHeader() string {
	u, _ := url.Parse(b.e.app.URL)
	var parts []string
	for _, c := range b.jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// encryptedMemstore is a memstore behind the encrypting wrapper.
func encryptedMemstore(t *testing.T, keys ...encrypted.Key) store.TokenStore {
	t.Helper()
	return sealedOver(t, memstore.New(), keys...)
}

// sealedOver is inner behind the encrypting wrapper.
func sealedOver(t *testing.T, inner store.TokenStore, keys ...encrypted.Key) store.TokenStore {
	t.Helper()
	enc, err := encrypted.New(inner, encrypted.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

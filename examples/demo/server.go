package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/fleet"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
)

// app is the demo: two connectors on one store, the login, the pages.
type app struct {
	cfg         config
	log         *slog.Logger
	libLog      *slog.Logger // for the connectors; see init
	store       store.TokenStore
	keys        keys
	sessions    *sessions
	crossOrigin *http.CrossOriginProtection
	sandboxHost string
	providers   []*provider
	storeDesc   string
	closers     []func() error
	now         func() time.Time
	// fakeMollie and fakeQonto are the sandbox fakes, nil for a provider
	// with credentials.
	fakeMollie *oauthlinktest.Mollie
	fakeQonto  *oauthlinktest.Qonto
	// scans reports whether the store enumerates connections
	// (store.Scanner), which the keepers and the Qonto webhook need.
	scans bool
	// qontoWebhook serves POST /webhooks/qonto.
	qontoWebhook http.Handler
	// keepers is closed when the keepers have all stopped; nil when they
	// are off.
	keepers chan struct{}
	// keepersStarted is closed once every keeper finished its first pass
	// (or stopped before); nil when they are off.
	keepersStarted chan struct{}
	// spec is the parsed OAUTHLINK_STORE.
	spec storeSpec
	// sandboxFresh names the sandbox fakes that started without their
	// state file (provider: path); sandboxLost is what that cost, for
	// the dashboard (see checkSandboxState).
	sandboxFresh map[string]string
	sandboxLost  []sandboxLoss
	// keeperLog holds each keeper's last pass, for the operator page.
	keeperLog *keeperLog
	// accounts caches the providers' names of connected organizations.
	accounts *accountNames
	// apiTrouble remembers each connection's last failed API call.
	apiTrouble *apiTrouble
}

// newServer builds the demo from cfg: it opens the store, resolves the
// keys, starts the sandbox fakes a provider without credentials needs, and
// returns the handler and the function that releases all of it. It listens
// on nothing itself, so tests serve the handler on httptest.
func newServer(ctx context.Context, cfg config, log *slog.Logger) (http.Handler, func(), error) {
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	return a.routes(), a.close, nil
}

// newApp is newServer without the routes, for tests that script the
// sandbox fakes.
func newApp(ctx context.Context, cfg config, log *slog.Logger) (*app, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	a := &app{cfg: cfg, log: log, now: cfg.Now, sandboxHost: sandboxHost(cfg.PublicURL),
		sandboxFresh: map[string]string{}, keeperLog: &keeperLog{}, accounts: newAccountNames(), apiTrouble: &apiTrouble{}}
	if a.now == nil {
		a.now = time.Now
	}
	if err := a.init(ctx); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// close releases what init opened, last first.
func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			a.log.Warn("closing", "error", err)
		}
	}
	a.closers = nil
}

func (a *app) init(ctx context.Context) error {
	spec, err := parseStore(a.cfg.Store)
	if err != nil {
		return err
	}
	a.storeDesc, a.spec = spec.String(), spec
	if a.keys, err = resolveKeys(a.cfg, spec); err != nil {
		return err
	}
	st, closeStore, err := openStore(ctx, spec, a.log)
	if err != nil {
		return err
	}
	a.closers = append(a.closers, closeStore)
	// The encrypting wrapper always has a Scan method; whether it works is
	// the inner store's capability.
	_, a.scans = store.Capability[store.Scanner](st)
	// Tokens are encrypted at rest; the cookie key seals the flow cookies.
	enc, err := encrypted.New(st, encrypted.Options{Keys: []encrypted.Key{a.keys.token}})
	if err != nil {
		return err
	}
	a.store = enc
	a.log.Info("store: " + spec.String())
	a.log.Info(a.keys.tokenNote)
	a.log.Info(a.keys.cookieNote)
	if spec.Shared() && a.cfg.CookieKey == nil {
		a.log.Warn("several instances on this store must share OAUTHLINK_COOKIE_KEY (and OAUTHLINK_TOKEN_KEY) to serve one browser")
	}

	a.libLog = a.log
	if a.cfg.insecure() {
		// Said once here for every cookie (flow and login); each connector
		// would otherwise repeat it for its own flow cookies.
		a.log.Warn("OAUTHLINK_PUBLIC_URL is plain http: cookies drop Secure and the __Host- prefix (development only)")
		a.libLog = slog.New(dropPrefix{a.log.Handler(), "oauthlink: AllowInsecureHTTP is set"})
	}
	a.sessions = newSessions(a.keys.login, !a.cfg.insecure())

	// POST routes are refused when the browser says they come from another
	// site (Sec-Fetch-Site) or, for older browsers, when Origin is not this
	// host; the public origin is trusted too, for a proxy that rewrites
	// Host. The demo's own forms therefore need no CSRF tokens.
	a.crossOrigin = http.NewCrossOriginProtection()
	if err := a.crossOrigin.AddTrustedOrigin(a.cfg.PublicURL); err != nil {
		return err
	}
	// Qonto posts its webhooks server to server: no browser, no Origin.
	a.crossOrigin.AddInsecureBypassPattern("POST " + qontoWebhookPath)
	a.crossOrigin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.errorPage(w, r, http.StatusForbidden, "Request refused",
			"This form must be sent from the demo's own pages. Please open the dashboard and try again.", "")
	}))

	if err := a.newProviders(); err != nil {
		return err
	}
	if err := a.checkSandboxState(ctx); err != nil {
		return err
	}
	for _, p := range a.providers {
		if p.sandbox != "" {
			a.log.Info(p.title+": sandbox (built-in fake; click Approve on its consent page)", "url", p.sandbox)
		} else {
			a.log.Info(p.title+": live provider", "api", p.apiURL, "redirect_url", a.callback(p.name))
		}
	}
	return a.startKeepers()
}

// startKeepers runs a fleet.Keeper for each provider in the background
// until close: every 10 minutes (jittered) it refreshes the connections
// nobody used for 2/3 of the provider's idle lifetime (Qonto's refresh
// tokens expire after 90 days unused) and retries the revocations left
// pending. Each pass's report is logged at Info ("oauthlink: keeper
// pass"). A store that cannot list connections has no keeper: said once.
func (a *app) startKeepers() error {
	if !a.scans {
		a.log.Warn("keeper off: the store (" + a.storeDesc + ") cannot list connections (store.Scanner), so idle connections are not refreshed ahead of their provider's expiry and failed revocations are not retried")
		return nil
	}
	keepers := make(map[string]*fleet.Keeper, len(a.providers))
	for _, p := range a.providers {
		k, err := fleet.NewKeeper(p.conn, fleet.KeeperOptions{})
		if err != nil {
			return fmt.Errorf("%s keeper: %w", p.name, err)
		}
		keepers[p.name] = k
	}
	a.keeperLog.mu.Lock()
	a.keeperLog.keepers = keepers
	a.keeperLog.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var first sync.WaitGroup
	first.Add(len(keepers))
	for name, k := range keepers {
		wg.Go(func() { a.runKeeper(ctx, name, k, first.Done) })
	}
	a.keepersStarted = make(chan struct{})
	go func() { first.Wait(); close(a.keepersStarted) }()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	a.keepers = done
	// Appended last, so close stops the keepers before the fakes and the
	// store they use.
	a.closers = append(a.closers, func() error {
		cancel()
		<-done
		a.log.Info("keepers stopped")
		return nil
	})
	a.log.Info("keepers started", "providers", len(keepers))
	return nil
}

// routes mounts every route of the contract (see README.md).
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.errorPage(w, r, http.StatusNotFound, "Page not found", "There is no page at this address.", "")
	})
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.Handle("GET /api/connections", a.sessions.api(http.HandlerFunc(a.apiConnections)))
	// The operator view: every user's connections, the keepers' passes.
	mux.Handle("GET "+operatorPath, a.sessions.page(http.HandlerFunc(a.operator)))
	mux.Handle("POST "+operatorPath+"/keeper", a.sessions.page(http.HandlerFunc(a.operatorKeeper)))
	for _, p := range a.providers {
		page := a.sessions.page
		mux.Handle("GET /connect/"+p.name, page(p.conn.StartHandler()))
		mux.Handle("GET /connect/"+p.name+"/callback", page(a.callback0(p)))
		// The handler refuses cross-site posts itself, with the demo's
		// policy (Config.Flow.CrossOrigin), which also trusts the public
		// origin.
		mux.Handle("POST /connections/"+p.name+"/disconnect", page(a.disconnect0(p)))
		mux.Handle("POST /connections/"+p.name+"/refresh", page(a.refresh(p)))
		// Require loads the connection (refreshing its token when due) and
		// answers 401 JSON when there is none; the handler then calls the
		// provider through Connector.Client.
		mux.Handle("GET /api/"+p.name+"/organization",
			a.sessions.api(p.conn.RequireConnection("/connect/"+p.name)(a.apiOrganization(p))))
		if p.name == "mollie" {
			mux.Handle("POST "+clientLinkPath, page(a.clientLink0(p)))
		}
	}
	// Neither behind the login nor the cross-origin check (bypassed in
	// init): Qonto posts server to server, and the signature is the
	// authentication.
	mux.Handle("POST "+qontoWebhookPath, a.qontoWebhook)
	return a.logRequests(securityHeaders(a.crossOrigin.Handler(mux)))
}

// securityHeaders are set on every answer; the handlers add no-store where
// they need it.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		// No form-action: the signup form's answer redirects to Mollie.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// logRequests logs method, path and status. Never the query: the
// callback's carries the code and state.
func (a *app) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		a.log.Info("http", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start).Round(time.Millisecond))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// event logs the connectors' events; they never carry a secret.
func (a *app) event(ctx context.Context, e oauthlink.Event) {
	attrs := []any{"kind", e.Kind, "provider", e.Provider, "owner", e.Owner}
	if e.Err != nil {
		attrs = append(attrs, "error", e.Err)
	}
	a.log.InfoContext(ctx, "oauthlink event", attrs...)
}

// dropPrefix is a slog.Handler that drops records whose message starts with
// prefix.
type dropPrefix struct {
	slog.Handler
	prefix string
}

func (d dropPrefix) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, d.prefix) {
		return nil
	}
	return d.Handler.Handle(ctx, r)
}

func (d dropPrefix) WithAttrs(attrs []slog.Attr) slog.Handler {
	return dropPrefix{d.Handler.WithAttrs(attrs), d.prefix}
}

func (d dropPrefix) WithGroup(name string) slog.Handler {
	return dropPrefix{d.Handler.WithGroup(name), d.prefix}
}

// provider returns the named provider, or nil.
func (a *app) provider(name string) *provider {
	for _, p := range a.providers {
		if p.name == name {
			return p
		}
	}
	return nil
}

package main

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink"
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
	a := &app{cfg: cfg, log: log, now: time.Now, sandboxHost: sandboxHost(cfg.PublicURL)}
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
	a.storeDesc = spec.String()
	if a.keys, err = resolveKeys(a.cfg, spec); err != nil {
		return err
	}
	st, closeStore, err := openStore(ctx, spec, a.log)
	if err != nil {
		return err
	}
	a.closers = append(a.closers, closeStore)
	// Tokens are encrypted at rest; the cookie key seals the flow cookies.
	enc, err := encrypted.New(st, encrypted.Options{Keys: []encrypted.Key{a.keys.token}})
	if err != nil {
		return err
	}
	a.store = enc
	a.log.Info("store: " + spec.String())
	a.log.Info(a.keys.tokenNote)
	a.log.Info(a.keys.cookieNote)
	if spec.shared() && a.cfg.CookieKey == nil {
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
	a.crossOrigin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.errorPage(w, r, http.StatusForbidden, "Request refused",
			"This form must be sent from the demo's own pages. Please open the dashboard and try again.", "")
	}))

	if err := a.newProviders(); err != nil {
		return err
	}
	for _, p := range a.providers {
		if p.sandbox != "" {
			a.log.Info(p.title+": sandbox (built-in fake; click Approve on its consent page)", "url", p.sandbox)
		} else {
			a.log.Info(p.title+": live provider", "api", p.apiURL, "redirect_url", a.callback(p.name))
		}
	}
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
	for _, p := range a.providers {
		page := a.sessions.page
		mux.Handle("GET /connect/"+p.name, page(p.conn.StartHandler()))
		mux.Handle("GET /connect/"+p.name+"/callback", page(p.conn.CallbackHandler()))
		// The handler refuses cross-site posts itself, with the demo's
		// policy (Config.Flow.CrossOrigin), which also trusts the public
		// origin.
		mux.Handle("POST /connections/"+p.name+"/disconnect", page(p.conn.DisconnectHandler()))
		mux.Handle("POST /connections/"+p.name+"/refresh", page(a.refresh(p)))
		// Require loads the connection (refreshing its token when due) and
		// answers 401 JSON when there is none; the handler then calls the
		// provider through Connector.Client.
		mux.Handle("GET /api/"+p.name+"/organization",
			a.sessions.api(p.conn.RequireConnection("/connect/"+p.name)(a.apiOrganization(p))))
		if p.name == "mollie" {
			mux.Handle("POST "+clientLinkPath, page(a.clientLink(p)))
		}
	}
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

package oauthlinktest

import (
	"crypto/subtle"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// maxBody caps request bodies the fakes read (1 MiB).
const maxBody = 1 << 20

// config is what differs between the Mollie and Qonto fakes, plus the
// options common to both, defaults applied.
type config struct {
	name                  string // "mollie" or "qonto", as in Provider.Name
	title                 string // "Mollie" or "Qonto", for pages
	authPath, tokenPath   string
	revokePath            string
	clientID              string
	clientSecret          string
	redirectURIs          []string
	now                   func() time.Time
	accessLifetime        time.Duration
	codeLifetime          time.Duration
	refreshLifetime       time.Duration // 0: refresh tokens never expire
	grace                 time.Duration // rotated refresh tokens stay usable this long
	consentPage           bool
	allowedScopes         map[string]bool
	requireRedirect       bool // Qonto: redirect_uri required at authorize and exchange
	minState              int  // Hydra rejects shorter states
	requirePKCE           bool
	stagingToken          string
	newCode               func() string
	newAccess, newRefresh func() string
	newAccount            func(n int) *account
	token                 tokenEndpoint
	beforeTokenResponse   func(r *http.Request, grantType string)
	// ownTokenEndpoint: the fake registers its own token and revocation
	// handlers (Stripe, GoCardless), not server.token and server.revoke.
	ownTokenEndpoint bool
	// checkExtra, if set, vets the provider-specific authorization
	// parameters; a non-empty code redirects with that error.
	checkExtra func(extra url.Values) (code, desc string)
	listener   net.Listener // nil: a random loopback port
	// issuerPath is the path of the issuer identifier after the fake's
	// URL ("" or e.g. "/tenant"; RFC 8414 §2).
	issuerPath string
	// metadataPath, when set, is where the fake serves its metadata
	// (server.metadata); "": it publishes none.
	metadataPath string
	// issParam adds iss to every authorization response (RFC 9207 §2).
	issParam bool
}

// server is the part both fakes share: the HTTP server, the grant state,
// faults and counters. Every method is safe for concurrent use.
type server struct {
	cfg       config
	srv       *httptest.Server
	mux       *http.ServeMux
	closed    chan struct{}
	closeOnce sync.Once

	// manage, when set, lists the standing consents on the consent page,
	// each with a Revoke access button (Qonto.ServeConsents).
	manage atomic.Pointer[manageLink]

	mu        sync.Mutex
	codes     map[string]*authCode
	access    map[string]*token
	refresh   map[string]*token
	grants    []*grant
	accounts  map[string]*account
	decisions []decision
	last      AuthorizeRequest
	decided   []AuthorizeRequest

	faults    map[Endpoint][]Fault
	calls     map[Endpoint]int
	auths     map[Endpoint][]ClientAuth
	presented map[string]int
	// presentedRefresh counts the values sent as refresh_token, a subset
	// of presented.
	presentedRefresh map[string]int
	exchanges        int
	refreshes        int
	reuses           int
	revocations      int
	hooks            testHooks
	// persist writes the state file (PersistTo); nil without one.
	persist    func()
	persistErr error
}

// testHooks let this package's tests observe a request's life without
// sleeping.
type testHooks struct {
	fault func(Endpoint) // a queued fault is about to be applied
	done  func(Endpoint) // the handler returned
}

func newServer(cfg config, useTLS bool) *server {
	if cfg.now == nil {
		cfg.now = time.Now
	}
	s := &server{
		cfg:       cfg,
		mux:       http.NewServeMux(),
		closed:    make(chan struct{}),
		codes:     map[string]*authCode{},
		access:    map[string]*token{},
		refresh:   map[string]*token{},
		accounts:  map[string]*account{},
		faults:    map[Endpoint][]Fault{},
		calls:     map[Endpoint]int{},
		auths:     map[Endpoint][]ClientAuth{},
		presented: map[string]int{},

		presentedRefresh: map[string]int{},
	}
	s.handle("GET "+cfg.authPath, EndpointAuthorize, s.authorize)
	s.handle("POST "+cfg.authPath, EndpointAuthorize, s.authorize)
	if !cfg.ownTokenEndpoint {
		s.handle("POST "+cfg.tokenPath, EndpointToken, s.token)
		if cfg.revokePath != "" {
			s.handle(cfg.token.revokeMethod+" "+cfg.revokePath, EndpointRevoke, s.revoke)
		}
	}
	if cfg.metadataPath != "" {
		s.handle("GET "+cfg.metadataPath, EndpointMetadata, s.serveMetadata)
	}
	s.srv = httptest.NewUnstartedServer(s.mux)
	if cfg.listener != nil {
		s.srv.Listener.Close()
		s.srv.Listener = cfg.listener
	}
	if useTLS {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	return s
}

func (s *server) handle(pattern string, e Endpoint, h http.HandlerFunc) {
	s.mux.Handle(pattern, s.wrap(e, h))
}

// Handle adds a route to the fake's API, e.g. to fake an endpoint your app
// calls that this package does not serve. pattern is an http.ServeMux
// pattern ("GET /v2/payments"); it panics if it conflicts with a route
// already registered. Requests count as EndpointAPI and take its faults
// (and, on the Qonto fake, the staging-token check).
func (s *server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, s.wrap(EndpointAPI, h))
}

// serveChecked enforces the sandbox staging token on server-side calls:
// without it the real Qonto sandbox answers 200 with a login page.
func (s *server) serveChecked(e Endpoint, w http.ResponseWriter, r *http.Request, h http.Handler) {
	if e != EndpointAuthorize && s.cfg.stagingToken != "" &&
		subtle.ConstantTimeCompare([]byte(r.Header.Get(StagingHeader)), []byte(s.cfg.stagingToken)) != 1 {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(loginPage))
		return
	}
	h.ServeHTTP(w, r)
}

const loginPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body><h1>Sign in</h1><p>Sandbox single sign-on: log in to continue.</p>
<form method="post" action="/login"><input name="email"><input name="password" type="password"><button>Log in</button></form>
</body></html>
`

// Close shuts the fake down: held and delayed requests end, open
// connections are closed, and Close returns once every handler has.
// Calling it more than once is harmless.
func (s *server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.srv.CloseClientConnections()
		s.srv.Close()
		s.persistNow()
	})
}

// URL returns the fake's base URL, e.g. "http://127.0.0.1:41234", with no
// trailing slash.
func (s *server) URL() string { return s.srv.URL }

// AuthURL returns the authorization endpoint's URL.
func (s *server) AuthURL() string { return s.srv.URL + s.cfg.authPath }

// TokenURL returns the token endpoint's URL.
func (s *server) TokenURL() string { return s.srv.URL + s.cfg.tokenPath }

// RevokeURL returns the revocation endpoint's URL.
func (s *server) RevokeURL() string { return s.srv.URL + s.cfg.revokePath }

// APIURL returns the base URL of the fake's REST API (the same host here;
// paths start with /v2).
func (s *server) APIURL() string { return s.srv.URL }

// Client returns an HTTP client that trusts the fake's TLS certificate
// (and works as well without TLS). Like any http.Client it follows
// redirects and has no timeout; copy it and set CheckRedirect or Timeout
// as your test needs.
func (s *server) Client() *http.Client { return s.srv.Client() }

// Certificate returns the certificate the fake serves HTTPS with, or nil
// without TLS. Client already trusts it; a client in another process
// needs it PEM-encoded in its RootCAs.
func (s *server) Certificate() *x509.Certificate { return s.srv.Certificate() }

// ClientID returns the client_id the fake accepts.
func (s *server) ClientID() string { return s.cfg.clientID }

// ClientSecret returns the client_secret the fake accepts.
func (s *server) ClientSecret() string { return s.cfg.clientSecret }

func (s *server) now() time.Time { return s.cfg.now() }

func (s *server) setTestHooks(h testHooks) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = h
}

func (s *server) testHooks() testHooks {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hooks
}

// durationOr returns v, or def when v is not positive.
func durationOr(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

package oauthlink

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oauthlink/oauthlink/store"

	"github.com/gorilla/sessions"
	"golang.org/x/sync/singleflight"
)

// Config configures a Connector for one provider. It is read once by New;
// later changes have no effect. Zero values get the documented defaults.
//
// A Config never shows its secrets (ClientSecret, CookieSecrets, the
// TokenKeys' bytes, Provider.Header values): fmt with any verb, log/slog
// and encoding/json see a description with each one "[redacted]" (String,
// LogValue, MarshalJSON). A struct that embeds Config inherits those
// methods and so prints as the Config alone; embed it as a named field to
// print the rest.
type Config struct {
	// Provider describes the authorization server. Required; use a preset
	// from the mollie or qonto package or fill one in.
	Provider Provider
	// ClientID and ClientSecret are the app's credentials. Required.
	// Config, and the Connector built from it, never print the secret:
	// fmt (every verb), log/slog and encoding/json see "[redacted]" (see
	// Config.String).
	ClientID     string
	ClientSecret string
	// RedirectURL is the absolute callback URL registered at the provider
	// (one per provider and environment, RFC 9700 §4.4). It is sent
	// byte-identical in the authorization request, the exchange and (Mollie)
	// every refresh, and never derived from the request's Host header
	// (RFC 9700 §4.13). Required; must be https unless AllowInsecureHTTP.
	RedirectURL string
	// Scopes requested; default Provider.DefaultScopes. Provider.RequiredScopes
	// are always added.
	Scopes []string

	// Store persists connections. Required; a nil pointer in the interface
	// (a typed nil) is refused too.
	Store store.TokenStore
	// TokenKeys encrypt tokens at rest with AES-256-GCM (see
	// EncryptedStore): the first key encrypts, every key decrypts. Strongly
	// recommended; without keys (and without an EncryptedStore as Store)
	// tokens are stored as the store keeps them, and New logs a warning
	// once per process. With keys set, a token stored unencrypted is
	// refused (ErrDecrypt); EncryptedStore describes the migration.
	TokenKeys []TokenKey
	// Owner returns the platform account the current request acts for
	// (whose shop is being linked). Required. The start handler records it
	// in the flow and the callback requires the same owner, which defeats
	// connection CSRF (security.md A5). Return an error (or "") when nobody
	// is logged in.
	Owner func(*http.Request) (owner string, err error)

	// CookieSecrets are the secrets that seal flow cookies (AES-256-GCM with
	// keys derived by HKDF-SHA256), each
	// at least 32 random bytes. The first one signs new cookies; every one
	// verifies, so rotate by prepending a new secret and dropping the old
	// one after FlowTTL. Required.
	CookieSecrets [][]byte
	// AllowInsecureHTTP drops the Secure attribute and the __Host- prefix
	// from flow cookies and allows plain http for RedirectURL and for the
	// provider's AuthURL, TokenURL, RevokeURL and APIURL (so
	// Connector.Client may send the bearer token over http to an http
	// APIURL), for local development only. Without it New refuses any of
	// them over http. Default false.
	AllowInsecureHTTP bool
	// Sessions, when set, keeps flow state in the app's gorilla/sessions
	// store instead of oauthlink's own cookie. oauthlink still forces the
	// safe options (HttpOnly, SameSite=Lax, Path=/, Max-Age = FlowTTL + 50 minutes,
	// Secure unless AllowInsecureHTTP) on every flow session it saves.
	Sessions sessions.Store
	// FlowTTL is how long a started flow may take. Default and maximum
	// 10 minutes (Qonto codes live 10 minutes; security.md A4, B9).
	FlowTTL time.Duration
	// MaxFlows caps the concurrent flows per browser and provider; starting
	// one more drops the oldest, so many tabs never bloat the Cookie header
	// past server limits. Default 5.
	MaxFlows int
	// ReturnToParam is the query or form parameter the start handler reads
	// the post-connect destination from. Default "return_to". The value must
	// be a relative path; anything else is rejected.
	ReturnToParam string
	// AuthParams returns extra authorization parameters for one request
	// (e.g. Mollie locale, Qonto organization_id). Only names listed in
	// Provider.AuthParams are allowed. The request's form is parsed before
	// it is called. Optional.
	AuthParams func(*http.Request) (url.Values, error)

	// HTTPClient supplies the transport for the server-side calls (its
	// Transport, or http.DefaultTransport when nil) and, when non-zero, its
	// Timeout as a further bound on each token and revocation call. Those
	// calls go to the transport directly: they never follow a redirect,
	// whatever CheckRedirect says, and never use the client's Jar.
	// Default: http.DefaultTransport with a 30-second timeout.
	HTTPClient *http.Client
	// ExchangeTimeout bounds each token, refresh and revocation call, on top
	// of the caller's context. Default 15 seconds.
	ExchangeTimeout time.Duration
	// RefreshAhead is how long before expiry a token is refreshed, capped
	// at half the token's lifetime. Default 60 seconds.
	RefreshAhead time.Duration
	// RefreshJitter adds up to this fraction of the refresh margin at
	// random, so instances do not all refresh at the same instant.
	// Default 0.1; negative disables.
	RefreshJitter float64
	// RefreshAttempts bounds the tries of one refresh on 429, 5xx and
	// network failures. Default 4.
	RefreshAttempts int
	// RetryBase and RetryMax shape the capped, jittered exponential backoff
	// between refresh and revocation attempts; Retry-After is honoured up
	// to RetryMax. Defaults 500 ms and 30 s.
	RetryBase, RetryMax time.Duration
	// LockTTL is the lease of the store's connection lock (store.Locker): a
	// holder renews it every LockTTL/4 while it works, so a dead holder
	// (a killed process) blocks its connection for at most LockTTL, and a
	// live one keeps it through a store outage of up to about
	// LockTTL*0.65. Default 10 seconds; at least 1 second.
	LockTTL time.Duration
	// CacheTTL is how long the middleware and clients reuse a fresh
	// connection read from the store before reading it again. A token
	// revoked by a peer's refresh is caught by the client's reload on 401.
	// Default 10 seconds; negative disables the cache.
	CacheTTL time.Duration
	// store.ReplayGuard records consumed states. Default: the Store when it
	// implements store.ReplayGuard (shared by every instance), else an in-memory
	// guard (correct for a single instance only).
	ReplayGuard store.ReplayGuard
	// Identify runs after a successful exchange and before the connection
	// is saved, to fill Connection.AccountID (the mollie package provides
	// one that calls /v2/organizations/me). An error fails the callback and
	// revokes the new tokens. Optional.
	Identify func(ctx context.Context, conn *Connection) error

	// OnError handles every failure of the handlers. Default: a small HTML
	// page with HTTPStatus(err) that never echoes provider text unescaped.
	OnError func(w http.ResponseWriter, r *http.Request, err error)
	// OnConnected runs after the connection is committed to the store.
	// Default: 303 See Other to returnTo.
	OnConnected func(w http.ResponseWriter, r *http.Request, conn *Connection, returnTo string)
	// OnEvent receives every Event (flow started, connected, refreshed,
	// refresh failed, reauth required, disconnected...), synchronously, so
	// apps can count them in their own metrics. It must not block. Optional.
	OnEvent func(ctx context.Context, e Event)
	// Logger receives structured logs; it never sees a secret. Default
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Connector runs OAuth2 connect flows for one provider. Create it with New;
// it is safe for concurrent use. Like Config, it prints, logs and marshals
// as a description of its settings with every secret redacted.
type Connector struct {
	cfg      Config
	provider Provider
	store    store.TokenStore // cfg.Store, wrapped by EncryptedStore with TokenKeys
	scopes   []string
	endpoint endpoint
	flows    flowCodec
	guard    store.ReplayGuard
	log      *slog.Logger
	// cookiePrefix is "__Host-oauthlink-<provider>-" (no __Host- over http).
	cookiePrefix string
	// authPrefix is the authorization URL up to the per-flow parameters.
	authPrefix string
	// cookieAttrs and cookieDelAttrs follow name=value in Set-Cookie.
	cookieAttrs, cookieDelAttrs string

	flight  singleflight.Group
	pending pendingSaves
	cache   tokenCache
	// unauthorizedAt holds, per owner, when a 401 last forced a refresh.
	unauthorizedAt sync.Map
	ctxKey         *ctxKey
	// realClock is set when Config.Now was left to time.Now.
	realClock bool
	// api is the origin of Provider.APIURL, the only one Client sends the
	// bearer token to; apiErr is why there is none.
	api    origin
	apiErr error
}

// New validates cfg and returns a Connector. Every problem is an error
// wrapping ErrConfig that names the field; New never panics on bad input.
// Beyond the per-field rules, New refuses a provider endpoint (AuthURL,
// TokenURL, RevokeURL, APIURL) over plain http unless AllowInsecureHTTP, an
// authorization request that would repeat a parameter (see
// Provider.AuthParams), and a nil pointer held in Store, store.ReplayGuard,
// Sessions or HTTPClient.Transport, which would otherwise panic on first
// use.
func New(cfg Config) (*Connector, error) {
	if err := cfg.Provider.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.Provider.checkTransport(cfg.AllowInsecureHTTP); err != nil {
		return nil, err
	}
	switch {
	case cfg.ClientID == "":
		return nil, fmt.Errorf("%w: ClientID is required", ErrConfig)
	case cfg.ClientSecret == "":
		return nil, fmt.Errorf("%w: ClientSecret is required", ErrConfig)
	case cfg.Store == nil:
		return nil, fmt.Errorf("%w: Store is required", ErrConfig)
	case isNil(cfg.Store):
		return nil, fmt.Errorf("%w: Store is a nil %T", ErrConfig, cfg.Store)
	case cfg.ReplayGuard != nil && isNil(cfg.ReplayGuard):
		return nil, fmt.Errorf("%w: store.ReplayGuard is a nil %T (leave it nil for the default)", ErrConfig, cfg.ReplayGuard)
	case cfg.Sessions != nil && isNil(cfg.Sessions):
		return nil, fmt.Errorf("%w: Sessions is a nil %T (leave it nil for oauthlink's own cookie)", ErrConfig, cfg.Sessions)
	case cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil && isNil(cfg.HTTPClient.Transport):
		return nil, fmt.Errorf("%w: HTTPClient.Transport is a nil %T (leave it nil for http.DefaultTransport)", ErrConfig, cfg.HTTPClient.Transport)
	case cfg.Owner == nil:
		return nil, fmt.Errorf("%w: Owner is required", ErrConfig)
	case cfg.FlowTTL < 0 || cfg.FlowTTL > 10*time.Minute:
		return nil, fmt.Errorf("%w: FlowTTL must be at most 10 minutes", ErrConfig)
	case cfg.MaxFlows < 0 || cfg.ExchangeTimeout < 0:
		return nil, fmt.Errorf("%w: MaxFlows and ExchangeTimeout must not be negative", ErrConfig)
	case cfg.LockTTL != 0 && cfg.LockTTL < time.Second:
		return nil, fmt.Errorf("%w: LockTTL must be at least 1 second", ErrConfig)
	}
	if err := checkRedirectURL(cfg.RedirectURL, cfg.AllowInsecureHTTP); err != nil {
		return nil, err
	}
	c := &Connector{cfg: cfg, provider: cfg.Provider.withDefaults()}
	c.endpoint = newEndpoint(&c.cfg, &c.provider)
	c.api, c.apiErr = apiOrigin(&c.provider)
	if c.cfg.FlowTTL == 0 {
		c.cfg.FlowTTL = 10 * time.Minute
	}
	if c.cfg.MaxFlows == 0 {
		c.cfg.MaxFlows = 5
	}
	if c.cfg.ReturnToParam == "" {
		c.cfg.ReturnToParam = "return_to"
	}
	if c.cfg.ExchangeTimeout == 0 {
		c.cfg.ExchangeTimeout = 15 * time.Second
	}
	if c.cfg.RefreshAhead == 0 {
		c.cfg.RefreshAhead = 60 * time.Second
	}
	if c.cfg.RefreshJitter == 0 {
		c.cfg.RefreshJitter = 0.1
	}
	if c.cfg.RefreshAttempts <= 0 {
		c.cfg.RefreshAttempts = 4
	}
	if c.cfg.RetryBase <= 0 {
		c.cfg.RetryBase = 500 * time.Millisecond
	}
	if c.cfg.RetryMax <= 0 {
		c.cfg.RetryMax = 30 * time.Second
	}
	if c.cfg.LockTTL == 0 {
		c.cfg.LockTTL = 10 * time.Second
	}
	if c.cfg.CacheTTL == 0 {
		c.cfg.CacheTTL = 10 * time.Second
	}
	if c.cfg.Now == nil {
		c.cfg.Now, c.realClock = time.Now, true
	}
	c.log = c.cfg.Logger
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.cfg.OnError == nil {
		c.cfg.OnError = DefaultErrorHandler
	}
	if c.cfg.OnConnected == nil {
		c.cfg.OnConnected = defaultConnected
	}
	c.store = cfg.Store
	if len(cfg.TokenKeys) > 0 {
		s, err := EncryptedStore(cfg.Store, cfg.TokenKeys...)
		if err != nil {
			return nil, err
		}
		c.store = s
	} else if _, sealed := capability[*sealedStore](cfg.Store); !sealed {
		plaintextWarning.Do(func() {
			c.log.Warn("oauthlink: Config.TokenKeys is empty: tokens are stored unencrypted")
		})
	}
	c.guard = cfg.ReplayGuard
	if c.guard == nil {
		if g, ok := capability[store.ReplayGuard](cfg.Store); ok {
			c.guard = g
		} else {
			c.guard = newMemoryGuard(100_000, c.now)
		}
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = c.provider.DefaultScopes
	}
	c.scopes = mergeScopes(scopes, c.provider.RequiredScopes)
	for _, s := range c.scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			return nil, fmt.Errorf("%w: scope %q is not a valid scope token (RFC 6749 §3.3)", ErrConfig, s)
		}
	}
	flows, err := newFlowCodec(cfg.CookieSecrets)
	if err != nil {
		return nil, err
	}
	c.flows = flows
	c.ctxKey = keyFor(c.provider.Name)
	c.cookieAttrs = cookieAttrs(int(c.cfg.FlowTTL/time.Second), !cfg.AllowInsecureHTTP)
	c.cookieDelAttrs = cookieAttrs(0, !cfg.AllowInsecureHTTP)
	c.cookiePrefix = "oauthlink-" + c.provider.Name + "-"
	if !cfg.AllowInsecureHTTP {
		c.cookiePrefix = "__Host-" + c.cookiePrefix
	} else {
		c.log.Warn("oauthlink: AllowInsecureHTTP is set: flow cookies lose Secure and __Host-; use only for local development", "provider", c.provider.Name)
	}
	c.authPrefix, err = buildAuthPrefix(&c.provider, cfg.ClientID, cfg.RedirectURL, c.scopes)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// isNil reports whether v is nil or an interface holding a nil pointer,
// map, slice, channel or func: a value whose methods would panic or
// misbehave on first use.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}

// The plaintext warning is said once per process, not once per Connector.
var plaintextWarning sync.Once

// Provider returns the provider descriptor in use (with defaults applied).
func (c *Connector) Provider() Provider { return c.provider }

// Store returns the configured store.TokenStore.
// It decrypts and encrypts tokens when Config.TokenKeys is set.
func (c *Connector) Store() store.TokenStore { return c.store }

// ClientID returns the OAuth client id, for redirect targets built outside
// the Connector (Mollie client links).
func (c *Connector) ClientID() string { return c.cfg.ClientID }

// Owner returns the platform account the request acts for, as Config.Owner
// says, or an error wrapping ErrNoOwner when there is none (ErrInvalidOwner
// when its id breaks the store.TokenStore key rules).
func (c *Connector) Owner(r *http.Request) (string, error) { return c.owner(r) }

// HandleError reports err the way the Connector's own handlers do: it logs
// it (without secrets), emits EventFlowFailed and calls Config.OnError.
// Handlers built on Begin (client links) use it so every failure takes one
// path.
func (c *Connector) HandleError(w http.ResponseWriter, r *http.Request, err error) { c.fail(w, r, err) }

// Scopes returns the scopes requested in each flow.
func (c *Connector) Scopes() []string { return slices.Clone(c.scopes) }

func (c *Connector) now() time.Time { return c.cfg.Now() }

// stillBefore reports whether the clock has not reached t. On the real
// clock, with t derived from a time.Now reading, it reads only the
// monotonic clock: half the cost of time.Now on the per-request path, and
// immune to steps of the wall clock.
func (c *Connector) stillBefore(t time.Time) bool {
	if c.realClock {
		return time.Until(t) > 0
	}
	return c.now().Before(t)
}

func checkRedirectURL(raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("%w: RedirectURL must be an absolute URL", ErrConfig)
	}
	if u.Scheme != "https" && !(insecure && u.Scheme == "http") {
		return fmt.Errorf("%w: RedirectURL must use https (set AllowInsecureHTTP for local http development)", ErrConfig)
	}
	if u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%w: RedirectURL must not carry a fragment or userinfo", ErrConfig)
	}
	return nil
}

func mergeScopes(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// buildAuthPrefix precomputes the authorization URL with the fixed
// parameters; each flow appends state, PKCE and extras.
func buildAuthPrefix(p *Provider, clientID, redirect string, scopes []string) (string, error) {
	u, err := url.Parse(p.AuthURL)
	if err != nil {
		return "", fmt.Errorf("%w: AuthURL: %v", ErrConfig, err)
	}
	q := u.Query()
	q.Set("client_id", clientID)
	q.Set("redirect_uri", redirect)
	q.Set("response_type", "code")
	enc := q.Encode()
	// RFC 6749 §3.3: space-delimited; encoded as %20 (Mollie's docs and
	// several providers reject '+').
	enc += "&scope=" + strings.ReplaceAll(url.QueryEscape(strings.Join(scopes, " ")), "+", "%20")
	u.RawQuery = enc
	return u.String(), nil
}

// A Config and a Connector hold the client secret, the cookie secrets and
// the token keys (and the Connector the precomputed Basic credentials).
// Both describe themselves instead of printing their fields: fmt (every
// verb), log/slog (LogValue) and encoding/json (MarshalJSON) see the
// settings with every secret "[redacted]", hooks only as the names of those
// set, and stores and clients only by type, never by contents. Methods on
// the values, rather than a Secret-typed ClientSecret, keep every
// construction site compiling and cover the byte-slice secrets and the
// provider's headers too.

// describedField is one entry of a description: the Go field name (for
// fmt and JSON), the log key, and a value that prints, logs and marshals
// without a secret.
type describedField struct {
	name, key string
	v         any
}

// word is a description value printed without quotes (a type name, a
// duration).
type word string

// redactedKey shows a token key's id, never its bytes.
type redactedKey struct {
	ID  string
	Key Secret
}

// describe lists cfg's settings, with p for its provider (the Connector's
// has defaults applied).
func describe(cfg *Config, p Provider) []describedField {
	keys := make([]redactedKey, len(cfg.TokenKeys))
	for i, k := range cfg.TokenKeys {
		keys[i] = redactedKey{ID: k.ID, Key: presence(len(k.Key) > 0)}
	}
	cookies := make([]Secret, len(cfg.CookieSecrets))
	for i, s := range cfg.CookieSecrets {
		cookies[i] = presence(len(s) > 0)
	}
	var hooks []string
	for _, h := range []struct {
		name string
		set  bool
	}{
		{"Owner", cfg.Owner != nil}, {"AuthParams", cfg.AuthParams != nil}, {"Identify", cfg.Identify != nil},
		{"OnError", cfg.OnError != nil}, {"OnConnected", cfg.OnConnected != nil}, {"OnEvent", cfg.OnEvent != nil},
		{"Logger", cfg.Logger != nil}, {"Now", cfg.Now != nil},
	} {
		if h.set {
			hooks = append(hooks, h.name)
		}
	}
	return []describedField{
		{"Provider", "provider", p},
		{"ClientID", "client_id", cfg.ClientID},
		{"ClientSecret", "client_secret", presence(cfg.ClientSecret != "")},
		{"RedirectURL", "redirect_url", redactedURL(cfg.RedirectURL)},
		{"Scopes", "scopes", cfg.Scopes},
		{"Store", "store", typeName(cfg.Store)},
		{"TokenKeys", "token_keys", keys},
		{"CookieSecrets", "cookie_secrets", cookies},
		{"AllowInsecureHTTP", "allow_insecure_http", cfg.AllowInsecureHTTP},
		{"Sessions", "sessions", typeName(cfg.Sessions)},
		{"FlowTTL", "flow_ttl", word(cfg.FlowTTL.String())},
		{"MaxFlows", "max_flows", cfg.MaxFlows},
		{"ReturnToParam", "return_to_param", cfg.ReturnToParam},
		{"HTTPClient", "http_client", typeName(cfg.HTTPClient)},
		{"ExchangeTimeout", "exchange_timeout", word(cfg.ExchangeTimeout.String())},
		{"RefreshAhead", "refresh_ahead", word(cfg.RefreshAhead.String())},
		{"RefreshJitter", "refresh_jitter", cfg.RefreshJitter},
		{"RefreshAttempts", "refresh_attempts", cfg.RefreshAttempts},
		{"RetryBase", "retry_base", word(cfg.RetryBase.String())},
		{"RetryMax", "retry_max", word(cfg.RetryMax.String())},
		{"LockTTL", "lock_ttl", word(cfg.LockTTL.String())},
		{"CacheTTL", "cache_ttl", word(cfg.CacheTTL.String())},
		{"ReplayGuard", "replay_guard", typeName(cfg.ReplayGuard)},
		{"Hooks", "hooks", hooks},
	}
}

// presence is a Secret that says only whether a value is set: "[redacted]"
// or "". The secret itself is never copied into a description.
func presence(set bool) Secret {
	if set {
		return redacted
	}
	return ""
}

// typeName names a store, guard or client by its type, never by its
// contents (a store's DSN or a session store's keys).
func typeName(v any) word {
	if isNil(v) {
		return "<nil>"
	}
	return word(fmt.Sprintf("%T", v))
}

func describeString(kind string, fields []describedField) string {
	var b strings.Builder
	b.WriteString(kind)
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.name)
		b.WriteByte(':')
		switch v := f.v.(type) {
		case string, []string:
			fmt.Fprintf(&b, "%q", v)
		default:
			fmt.Fprintf(&b, "%v", v)
		}
	}
	b.WriteByte('}')
	return b.String()
}

func describeLog(fields []describedField) slog.Value {
	attrs := make([]slog.Attr, len(fields))
	for i, f := range fields {
		attrs[i] = slog.Any(f.key, f.v)
	}
	return slog.GroupValue(attrs...)
}

func describeJSON(fields []describedField) ([]byte, error) {
	b := []byte{'{'}
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		name, _ := json.Marshal(f.name)
		v, err := json.Marshal(f.v)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, name...), ':'), v...)
	}
	return append(b, '}'), nil
}

// String describes the configuration with every secret redacted.
func (cfg Config) String() string {
	return describeString("oauthlink.Config", describe(&cfg, cfg.Provider))
}

// GoString is String: %#v must not print the secrets either.
func (cfg Config) GoString() string { return cfg.String() }

// Format prints String for every verb, so %v, %+v, %#v, %s, %q and %x
// never reveal a secret.
func (cfg Config) Format(f fmt.State, verb rune) { fmt.Fprint(f, cfg.String()) }

// LogValue logs the configuration with every secret redacted.
func (cfg Config) LogValue() slog.Value { return describeLog(describe(&cfg, cfg.Provider)) }

// MarshalJSON writes the configuration's description (see String) as a
// JSON object keyed by field name; it is for display, not for reading back.
func (cfg Config) MarshalJSON() ([]byte, error) { return describeJSON(describe(&cfg, cfg.Provider)) }

// String describes the Connector's effective configuration (defaults
// applied) with every secret redacted.
func (c *Connector) String() string {
	if c == nil {
		return "<nil>"
	}
	return describeString("oauthlink.Connector", describe(&c.cfg, c.provider))
}

// GoString is String.
func (c *Connector) GoString() string { return c.String() }

// Format prints String for every verb.
func (c *Connector) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

// LogValue logs the Connector's effective configuration without secrets.
func (c *Connector) LogValue() slog.Value {
	if c == nil {
		return slog.StringValue("<nil>")
	}
	return describeLog(describe(&c.cfg, c.provider))
}

// MarshalJSON writes the Connector's description (see String).
func (c *Connector) MarshalJSON() ([]byte, error) {
	if c == nil {
		return []byte("null"), nil
	}
	return describeJSON(describe(&c.cfg, c.provider))
}

var (
	_ fmt.Formatter  = Config{}
	_ fmt.GoStringer = Config{}
	_ slog.LogValuer = Config{}
	_ json.Marshaler = Config{}
	_ fmt.Formatter  = (*Connector)(nil)
	_ fmt.GoStringer = (*Connector)(nil)
	_ slog.LogValuer = (*Connector)(nil)
	_ json.Marshaler = (*Connector)(nil)
)

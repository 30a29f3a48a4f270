package oauthlink

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// Config configures a Connector for one provider. It is read once by New;
// later changes have no effect. Zero values get the documented defaults.
// The options that belong together are grouped: Flow (the browser side of
// a connect flow), Tokens (keeping tokens fresh) and Hooks (the app's
// callbacks).
//
// A Config never shows its secrets (ClientSecret, CookieSecrets,
// Provider.Header values): fmt with any verb, log/slog and encoding/json
// see a description with each one "[redacted]" (Format, MarshalJSON).
type Config struct {
	// Provider describes the authorization server. Required; use a preset
	// from the mollie or qonto package or fill one in.
	Provider Provider
	// ClientID and ClientSecret are the app's credentials at the
	// provider. Required; the secret never prints (see Config).
	ClientID, ClientSecret string
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
	// (a typed nil) is refused too. Wrap it with store/encrypted to encrypt
	// tokens at rest (strongly recommended: without it New logs a warning
	// once per process). When the store implements store.ReplayGuard it
	// records consumed states for every instance; otherwise an in-memory
	// guard does, which is correct for a single instance only.
	Store store.TokenStore
	// Owner returns the platform account the current request acts for
	// (whose shop is being linked). Required. The start handler records it
	// in the flow and the callback requires the same owner, which defeats
	// connection CSRF (RFC 9700 §4.7). Return an error (or "") when nobody
	// is logged in. An owner id is at most 1024 bytes of valid UTF-8
	// without NUL.
	Owner func(*http.Request) (owner string, err error)
	// CookieSecrets seal the flow cookies (AES-256-GCM with keys derived by
	// HKDF-SHA256), each at least 32 random bytes. The first one seals new
	// cookies; every one opens, so rotate by prepending a new secret and
	// dropping the old one after Flow.TTL. Required.
	CookieSecrets [][]byte
	// AllowInsecureHTTP drops the Secure attribute and the __Host- prefix
	// from flow cookies and allows plain http for RedirectURL and for the
	// provider's AuthURL, TokenURL, RevokeURL and APIURL (so
	// Connector.Client may send the bearer token over http to an http
	// APIURL), for local development only. Without it New refuses any of
	// them over http. Default false.
	AllowInsecureHTTP bool
	// HTTPClient supplies the transport for the server-side calls (its
	// Transport, or http.DefaultTransport when nil) and, when non-zero, its
	// Timeout as a further bound on each token and revocation call. Those
	// calls go to the transport directly: they never follow a redirect,
	// whatever CheckRedirect says, and never use the client's Jar.
	// Default: http.DefaultTransport with a 30-second timeout.
	HTTPClient *http.Client
	// Flow configures the browser side of a connect flow.
	Flow FlowOptions
	// Tokens configures how tokens are kept fresh.
	Tokens TokenOptions
	// Hooks are the app's callbacks; each is optional.
	Hooks Hooks
	// Logger receives structured logs; it never sees a secret. Default
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// FlowOptions configure the browser side of a connect flow: the start,
// callback and disconnect handlers. Zero values get the defaults.
type FlowOptions struct {
	// TTL is how long a started flow may take. Default and maximum 10
	// minutes (Qonto's authorization codes live 10 minutes). The flow
	// cookie lives TTL plus 50 minutes, so a late callback is told why it
	// is refused.
	TTL time.Duration
	// MaxPerBrowser caps the concurrent flows per browser and provider;
	// starting one more drops the oldest, so many tabs never bloat the
	// Cookie header past server limits. Default 5.
	MaxPerBrowser int
	// ReturnToParam is the query or form parameter the start and
	// disconnect handlers read the post-connect destination from. Default
	// "return_to". The value must be a relative path; anything else is
	// rejected.
	ReturnToParam string
	// AuthParams returns extra authorization parameters for one start
	// request (e.g. Mollie locale, Qonto organization_id). Only names
	// listed in Provider.AllowedAuthParams are allowed. The request's form
	// is parsed before it is called. Return a *ParamError to have the
	// parameter named on the error page. Default none.
	AuthParams func(*http.Request) (url.Values, error)
	// CrossOrigin refuses disconnect requests that another site made the
	// browser send (a form on that site posting here with the user's
	// cookies): such a request fails with ErrCrossOrigin (403) and
	// disconnects nothing. Default http.NewCrossOriginProtection(), which
	// trusts Sec-Fetch-Site and else compares Origin with the Host the
	// server sees, and lets through requests with neither header (not sent
	// by a browser). Behind a proxy that rewrites Host, pass one with the
	// public origin added through AddTrustedOrigin; an app whose own CSRF
	// protection covers the route may pass one with
	// AddInsecureBypassPattern for it.
	CrossOrigin *http.CrossOriginProtection
}

// TokenOptions configure how a Connector keeps tokens fresh and talks to
// the token endpoint. Zero values get the defaults.
type TokenOptions struct {
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
	// ExchangeTimeout bounds each token, refresh and revocation call, on
	// top of the caller's context. Default 15 seconds.
	ExchangeTimeout time.Duration
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
}

// Hooks are the app's callbacks into a Connector. Each is optional.
type Hooks struct {
	// Identify runs after a successful exchange and before the connection
	// is saved, to fill Connection.AccountID (the mollie and qonto packages
	// provide one; a provider with Provider.AccountIDField has it filled
	// already). An error fails the callback and revokes the new tokens.
	// Default none.
	Identify func(ctx context.Context, conn *Connection) error
	// OnConnected runs after the connection is committed to the store.
	// Default: 303 See Other to returnTo.
	OnConnected func(w http.ResponseWriter, r *http.Request, conn *Connection, returnTo string)
	// OnError handles every failure of the handlers (and of handlers built
	// on Begin that report through Connector.HandleError). Default
	// DefaultErrorHandler: a small HTML page with HTTPStatus(err) that never
	// echoes provider text unescaped.
	OnError func(w http.ResponseWriter, r *http.Request, err error)
	// OnEvent receives every Event (flow started, connected, refreshed,
	// refresh failed, reauth required, disconnected...), synchronously, so
	// apps can count them in their own metrics. It must not block.
	// Default none.
	OnEvent func(ctx context.Context, e Event)
}

// Connector runs OAuth2 connect flows for one provider. Create it with New;
// it is safe for concurrent use. It holds the handlers' settings; the
// connection lifecycle (refresh, reconnect, revoke) is its engine's. Like
// Config, it prints, logs and marshals as a description of its settings
// with every secret redacted.
type Connector struct {
	cfg      Config // normalised: defaults applied
	provider Provider
	e        *engine
	scopes   []string
	flows    flowCodec
	guard    store.ReplayGuard
	log      *slog.Logger
	// cookiePrefix is "__Host-oauthlink-<provider>-" (no __Host- over http).
	cookiePrefix string
	// authPrefix is the authorization URL up to the per-flow parameters.
	authPrefix string
	// cookieAttrs and cookieDelAttrs follow name=value in Set-Cookie.
	cookieAttrs, cookieDelAttrs string
	// crossOrigin guards the disconnect handler.
	crossOrigin *http.CrossOriginProtection
	ctxKey      *ctxKey
	// api is the origin of Provider.APIURL, the only one Client sends the
	// bearer token to; apiErr is why there is none.
	api    origin
	apiErr error
}

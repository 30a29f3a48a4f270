// Package oauthlink links a platform's users to their accounts at payment
// providers over OAuth2 "connect" flows (RFC 6749 authorization code), with
// presets for Mollie Connect (package mollie) and Qonto (package qonto).
//
// A Connector serves one provider. It hands out composable net/http pieces:
//
//   - StartHandler mints a 128-bit state (and an S256 PKCE verifier where the
//     provider takes one), records it with the owner, the return-to path and
//     the time in a signed, encrypted, per-flow cookie, and redirects to the
//     provider. Begin does the same for handlers that redirect elsewhere
//     (a Mollie client link).
//   - CallbackHandler verifies the flow, reports a provider error to the
//     app's hook, exchanges the code once, and commits the Connection to the
//     store.TokenStore before OnConnected runs.
//   - Load and Require are middleware that put the owner's connection with a
//     fresh token in the request context; Client returns an *http.Client that
//     calls the provider's API with it; Fresh and TokenSource do the same for
//     background work.
//   - DisconnectHandler and Disconnect revoke at the provider and forget.
//
// # Flow
//
// The start handler asks Config.Owner whose account is being linked, then
// sets a cookie named __Host-oauthlink-<provider>-<digest of state> and
// answers 303 to the authorization URL with client_id, redirect_uri,
// response_type=code, scope (space-separated, %20-encoded), state, PKCE and
// the allowed extras. The callback, in this order: parses a bounded query
// (repeats and code-with-error rejected); authenticates the cookie and
// compares its state in constant time; checks provider, route, age and that
// the same owner is logged in; deletes the cookie; consumes the state in the
// replay guard (so a replayed callback is refused even with the original
// cookie); only then reports error/error_description as a *ProviderError;
// pings the store; spends the code (never retried); saves; and redirects to
// the return-to path.
//
// # Security
//
// Defaults follow RFC 9700 (OAuth 2.0 Security Best Current Practice):
//
//   - flow cookies are HttpOnly, Secure, SameSite=Lax, Path=/, host-only
//     (__Host- prefix), Max-Age FlowTTL + 50 minutes (a flow is accepted
//     for FlowTTL, 10 minutes, by its sealed issue time; the longer cookie
//     only lets the callback say why it refuses), sealed with AES-256-GCM
//     (authenticated encryption; the cookie name is associated data) under
//     keys derived with HKDF from Config.CookieSecrets, which rotate; one
//     cookie per flow, at most five;
//   - the callback is bound to the owner who started the flow (connection
//     CSRF), to the provider and route (mix-up), and is single-use on the
//     server as well as in the browser;
//   - return-to accepts relative paths only (validReturnTo);
//   - the redirect_uri is configured, never derived from Host headers;
//   - client authentication is pinned per provider, never probed; token
//     endpoints get a timeout, a 1 MiB body cap, no redirects and no retry
//     of a code; malformed expires_in never makes a token immortal;
//   - callback responses carry Cache-Control: no-store and
//     Referrer-Policy: no-referrer; the default error page escapes the little
//     provider text it shows and never renders error_uri;
//   - tokens, codes, states, verifiers, the client secret and keys never
//     appear in logs, errors or formatted values: store.Secret, Connection,
//     Config, Connector and Provider redact themselves, and handed-out
//     *oauth2.Token values never carry the refresh token;
//   - provider endpoints and the API origin are https (http only with
//     AllowInsecureHTTP), Client sends the bearer only to Provider.APIURL's
//     origin, DisconnectHandler refuses cross-site requests, and with
//     TokenKeys a database writer without the key can neither plant a
//     token nor change a connection's status, expiry or redirect URI.
//
// # Stores
//
// A store.TokenStore persists connections; storetest.Run is the conformance suite
// every store passes. store/memstore keeps them in memory (tests, demos, one
// instance). store/sqlstore uses database/sql with SQLite (the embedded
// default, pure Go via modernc.org/sqlite) or PostgreSQL; store/redisstore
// uses Redis. Stores that implement store.Locker and store.ReplayGuard coordinate
// refreshes and replay protection across instances; store.VersionDeleter (a
// delete conditional on the version read) keeps a disconnect from removing
// a reconnect that committed meanwhile. All three stores implement all
// three.
//
// # Lifecycle
//
// Fresh refreshes a token ahead of expiry (60 s or half its lifetime,
// whichever is less, plus jitter), once per connection however many callers
// and instances ask: one singleflight per connection in the process (a
// forced Refresh joins it), and across processes the store's store.Locker, a
// lease of Config.LockTTL that the holder renews while it works, so a
// refresh that waits out Retry-After or retries its save keeps it, and a
// killed holder loses it within LockTTL. The holder re-reads the record
// after taking the lock and before every retry, sends the refresh token
// only while it can vouch for its lease, and writes with compare-and-swap
// under a context the caller's cancellation cannot abort. Rotated refresh
// tokens (Qonto) are never replayed outside the provider's grace window; a
// refused refresh marks the connection store.StatusReauthRequired and never
// deletes it.
//
// Client refreshes on a 401 from the provider's API (once, and retries the
// request once); a refused refresh fails the request with
// ErrReauthRequired. A token without expires_in and without a refresh token
// has no known expiry (Connection.Expiry is zero) and is used until the
// provider rejects it. Reconnecting records the replaced grant in the new
// record's Connection.Retired in the same save and revokes it; Disconnect
// revokes the connection's grant and every retired one before it deletes
// the record.
package oauthlink

// Package oauthlink links a platform's users to their accounts at payment
// providers over OAuth2 "connect" flows (RFC 6749 authorization code), with
// presets for Mollie Connect (package mollie) and Qonto (package qonto).
// Package discovery builds the Provider of any other server from its
// RFC 8414 metadata; Provider.Endpoint hands it to golang.org/x/oauth2.
//
// A Connector serves one provider. It hands out composable net/http pieces:
//
//   - StartHandler mints a 128-bit state (and an S256 PKCE verifier where the
//     provider takes one), records it with the owner, the return-to path and
//     the time in a sealed per-flow cookie, and redirects to the provider.
//     Begin does the same for handlers that redirect elsewhere (a Mollie
//     client link).
//   - CallbackHandler verifies the flow, reports a provider error, exchanges
//     the code once, and commits the Connection to the store before
//     Hooks.OnConnected runs.
//   - LoadConnection puts the owner's connection, with a fresh token, in the
//     request context (ConnectionFromContext); RequireConnection does the
//     same and lets only connected owners through.
//   - Client returns an *http.Client that calls the provider's API with a
//     fresh token; ContextClient does the same for an SDK client built once,
//     taking the owner from each request's context; Connection and
//     ForceRefresh serve background work.
//   - DisconnectHandler and Disconnect revoke at the provider and forget.
//
// Every failure of the handlers goes to one hook, Hooks.OnError (default
// DefaultErrorHandler, whose status is HTTPStatus(err)); handlers built on
// Begin report theirs through HandleError.
//
// Behind the handlers, an engine owns the connection lifecycle: the store,
// the lease lock, one refresh at a time per connection, the rotated pairs
// whose save failed, the cache and the token endpoint. ARCHITECTURE.md in
// the repository draws it.
//
// # Flow
//
// The start handler asks Config.Owner whose account is being linked, then
// sets a cookie named __Host-oauthlink-<provider>-<digest of state> and
// answers 303 to the authorization URL with client_id, redirect_uri,
// response_type=code, scope (space-separated, %20-encoded), state, PKCE and
// the allowed extras. The callback runs the checks CallbackHandler lists, in
// order: a bounded query; the sealed cookie and its state, compared in
// constant time; provider, route, owner, age and issuer; only then a
// provider's error; the owner's share of the replay guard and the guard
// itself (so a replayed callback is refused even with the original cookie);
// a store check; the code, spent once and never retried; the commit; and a
// redirect to the return-to path.
//
// # Security
//
// Defaults follow RFC 9700 (OAuth 2.0 Security Best Current Practice):
//
//   - flow cookies are HttpOnly, Secure, SameSite=Lax, Path=/, host-only
//     (__Host- prefix), Max-Age Flow.TTL + 50 minutes (a flow is accepted
//     for Flow.TTL, 10 minutes, by its sealed issue time; the longer cookie
//     only lets the callback say why it refuses), sealed with AES-256-GCM
//     (the cookie name is associated data) under keys derived with HKDF
//     from Config.CookieSecrets, which rotate; one cookie per flow, at most
//     five per browser;
//   - the callback is bound to the owner who started the flow (connection
//     CSRF), to the provider and route (mix-up), and is single-use on the
//     server as well as in the browser; one owner may have at most 100
//     callbacks recorded in the replay guard at a time;
//   - return-to accepts relative paths only; the redirect_uri is
//     configured, never derived from Host headers;
//   - client authentication is pinned per provider, never probed; token
//     endpoints get a timeout, a 1 MiB body cap, no redirects and no retry
//     of a code; malformed expires_in never makes a token immortal;
//   - callback responses carry Cache-Control: no-store and
//     Referrer-Policy: no-referrer; the default error page escapes the little
//     provider text it shows and never renders error_uri;
//   - tokens, codes, states, verifiers, the client secret and keys never
//     appear in logs, errors or formatted values: store.Secret,
//     store.Connection, Config, Connector and Provider redact themselves,
//     and handed-out *oauth2.Token values never carry the refresh token;
//   - provider endpoints and the API origin are https (http only with
//     AllowInsecureHTTP), Client sends the bearer only to Provider.APIURL's
//     origin, DisconnectHandler refuses cross-site requests, and with the
//     store wrapped by store/encrypted a database writer without the key
//     can neither read nor plant a token, nor change a connection's status,
//     expiry or redirect URI.
//
// # Stores
//
// Package store holds the contract: store.Connection, store.TokenStore and
// the optional capabilities; storetest.Run is the conformance suite every
// store passes. store/memstore keeps connections in memory (tests, demos,
// one instance). store/sqlstore (SQLite or PostgreSQL) and store/redisstore
// are modules of their own, so an app pulls only the driver it uses.
// Stores that implement store.Locker and store.ReplayGuard coordinate
// refreshes and replay protection across instances; store.VersionDeleter (a
// delete conditional on the version read) keeps a disconnect from removing
// a reconnect that committed meanwhile. All three stores implement all
// three. store/encrypted wraps any of them to encrypt tokens at rest.
//
// # Lifecycle
//
// Connection refreshes a token ahead of expiry (60 s or half its lifetime,
// whichever is less, plus jitter), once per connection however many callers
// and instances ask: one refresh at a time per connection in the process
// (ForceRefresh joins it), and across processes the store's store.Locker, a
// lease of Config.Tokens.LockTTL that the holder renews while it works, so a
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

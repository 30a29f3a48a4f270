// Package discovery builds an oauthlink.Provider from an authorization
// server's published metadata: RFC 8414 authorization server metadata, or
// the OpenID Connect discovery document, which carries the same members.
// One call connects any server that publishes either:
//
//	p, err := discovery.Provider(ctx, "acme", "https://auth.acme.example", discovery.Options{})
//	if err != nil {
//		return err
//	}
//	p.APIURL = "https://api.acme.example" // where Connector.Client may send the token
//	link, err := oauthlink.New(oauthlink.Config{Provider: p, ...})
//
// # Where the document is looked for
//
// For an issuer https://as.example/tenant, first at the RFC 8414 location,
// the well-known path inserted between host and path
// (https://as.example/.well-known/oauth-authorization-server/tenant,
// RFC 8414 §3.1), then, when that answers a client error such as 404, at
// the OpenID location, appended to the issuer
// (https://as.example/tenant/.well-known/openid-configuration, OpenID
// Connect Discovery 1.0 §4; RFC 8414 §5), also when the first location
// serves something that is not this issuer's metadata (a web
// application's catch-all page). A server error, 408 or 429 ends the
// lookup: it is not read as "no document here".
//
// # What is checked
//
//   - The issuer is an absolute https URL without query or fragment
//     (RFC 8414 §2); http only with Options.AllowInsecureHTTP.
//   - The document's issuer equals the issuer asked for, byte for byte
//     (RFC 8414 §3.3): a server cannot pass itself off as another, and a
//     trailing slash is a different issuer.
//   - The authorization and token endpoints are present, and they and
//     the revocation endpoint are absolute https URLs without userinfo or
//     fragment (http only with AllowInsecureHTTP).
//   - Where the document lists them, the response types include "code"
//     and the grant types "authorization_code".
//   - The fetch follows redirects only on the issuer's own origin (scheme,
//     host and port: never from https to http), at most 3; it is bounded
//     in time (Options.Timeout) and size (Options.MaxBytes), never sends
//     or keeps cookies, and reads exactly one JSON object.
//
// # What the Provider gets
//
//   - AuthURL, TokenURL and RevokeURL from authorization_endpoint,
//     token_endpoint and revocation_endpoint (RFC 7009 POST); without a
//     revocation endpoint, disconnecting forgets the tokens.
//   - PKCE when code_challenge_methods_supported lists S256 (RFC 7636);
//     "plain" is never used, and RFC 8414 §2 reads an absent list as no
//     PKCE support. A server known to support PKCE without saying so can
//     be handled by setting Provider.PKCE on the result.
//   - Issuer, always, so an iss parameter on the callback must equal it
//     (RFC 9207 §2.4); IssuerRequired too when the document sets
//     authorization_response_iss_parameter_supported, so a callback
//     without iss is refused.
//   - AuthStyle pinned from token_endpoint_auth_methods_supported
//     (absent: client_secret_basic, RFC 8414 §2): client_secret_basic
//     (AuthStyleBasic) when listed, else client_secret_post
//     (AuthStyleBody), or Options.AuthStyle when the client was
//     registered for one. A server that lists neither (only "none", a
//     public-client server, or only private_key_jwt or mutual TLS) is
//     refused with ErrUnsupported naming what it offers: oauthlink is a
//     confidential client that authenticates with its secret. When the
//     document lists revocation_endpoint_auth_methods_supported, the style
//     must be one both endpoints accept; when it does not, the revocation
//     endpoint is called with the token endpoint's style. The document
//     lists what the server implements, not what it expects of your
//     client: a server that registers each client for one method (Ory
//     Hydra does) refuses the other, so set Options.AuthStyle to the
//     method your client was registered with. Qonto's server is one
//     such and expects client_secret_post; its preset, package qonto,
//     already says so.
//
// Everything else keeps oauthlink's defaults; set on the result what the
// metadata cannot say: Name is the argument, APIURL (required for
// Connector.Client), scopes (offline_access, where the server issues
// refresh tokens only for it), RotatesRefreshTokens and RefreshGrace for
// a server that rotates refresh tokens (Ory Hydra, ZITADEL),
// RequireRefreshToken.
//
// # Caching and refresh policy
//
// Provider and Fetch fetch the document on every call. A Cache keeps it per
// issuer, for apps that build Connectors on demand (one per tenant) or
// rebuild them:
//
//   - A fetched document is fresh for Options.MaxAge (default 1 hour), or
//     for the server's Cache-Control max-age when that is shorter, but at
//     least 1 minute (no-store and no-cache count as 0, so as 1 minute).
//     While fresh it is served without a request.
//   - Once it is stale, the next call fetches it again; concurrent calls
//     for one issuer share one fetch.
//   - When that fetch fails (network, status, an invalid document), the
//     stale document is still served for up to Options.StaleIfError past
//     its expiry (default 24 hours; negative: never), and the fetch is
//     tried again on the first call at least 1 minute after the failure.
//     Past that window the failure is returned.
//   - An issuer with no document yet is fetched on every call: a failure
//     is never cached.
//   - A Cache keeps at most 1024 issuers; to make room it drops those
//     past their stale window, else the one that expires first.
//
// The issuer is fetched as given, from wherever it names: an app that
// takes issuer URLs from its users (bring your own authorization server)
// must check them against its own allow-list first, or the fetch reaches
// any host the machine can, internal ones included.
//
// A Provider handed to oauthlink.New is copied into the Connector: a later
// change of the document reaches a Connector only when the app builds a
// new one.
//
// # Testing
//
// Test discovery against oauthlinktest's fake authorization server:
// oauthlinktest.NewGeneric publishes RFC 8414 metadata derived from its
// options (client authentication, PKCE, the RFC 9207 iss parameter,
// revocation, an issuer path) and enforces exactly what it lists, so the
// Provider built from it connects, refreshes and revokes, while a client
// that departs from the document fails:
//
//	f := oauthlinktest.NewGeneric(oauthlinktest.GenericOptions{TLS: true, RedirectURIs: []string{callback}})
//	defer f.Close()
//	p, err := discovery.Provider(ctx, "acme", f.Issuer(), discovery.Options{HTTPClient: f.Client()})
//
// Its faults (oauthlinktest.EndpointMetadata) script a failing or slow
// metadata endpoint for a Cache. The Qonto fake serves Ory Hydra's
// OpenID Connect discovery document.
package discovery

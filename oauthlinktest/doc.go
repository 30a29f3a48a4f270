// Package oauthlinktest provides fake Mollie Connect, Qonto, Stripe
// Connect, GoCardless and Adyen OAuth2 servers on net/http/httptest, and a
// generic standards-following one that publishes RFC 8414 metadata, for
// testing apps that connect merchant accounts (with oauthlink or any other
// OAuth2 client), testing discovery, and running a demo without real
// provider accounts.
//
// The fakes answer real HTTP and follow the providers' documented
// behaviour, quirks included:
//
//   - Mollie: authorization at /oauth2/authorize; codes "auth_…" valid 30 s;
//     POST /oauth2/tokens with Basic or body client credentials and a form
//     or JSON body, answered with Content-Type text/html; refresh tokens
//     that never rotate, with redirect_uri required on refresh when the
//     exchange sent one; DELETE /oauth2/tokens revocation (204);
//     GET /v2/organizations/me and GET /v2/onboarding/me.
//   - Qonto (Ory Hydra): authorization at /oauth2/auth with a required
//     redirect_uri and a state of at least 8 characters; codes "ory_ac_…"
//     valid 10 min; POST /oauth2/token form-only with body credentials;
//     refresh tokens only with offline_access; every refresh rotates both
//     tokens, a rotated refresh token stays usable for a grace window
//     (60 s) and presenting it later revokes the whole grant; RFC 7009
//     revocation at POST /oauth2/revoke; GET /v2/organization; optionally
//     the sandbox's staging-token header.
//   - Stripe Connect (NewStripe): authorization at /oauth/authorize
//     (read_write or read_only; stripe_landing, always_prompt and
//     stripe_user[…] checked, the Express-only suggested_capabilities
//     refused); codes "ac_…" valid 5 min; POST /oauth/token with the
//     platform's secret key as client_secret or as the Basic user name
//     (never client_id:secret, never both); answers without expires_in
//     carrying stripe_user_id, livemode and stripe_publishable_key; access
//     tokens that never expire; refresh tokens spent on use;
//     POST /oauth/deauthorize with client_id and stripe_user_id, which ends
//     every grant of the account; GET /v1/account; UserDeauthorizes sends
//     a signed account.application.deauthorized to WebhookURL.
//   - GoCardless (NewGoCardless): authorization at /oauth/authorize with a
//     required redirect_uri (read_write or read_only; initial_view,
//     prefill[…] and language checked); POST /oauth/access_token with body
//     credentials, the authorization_code grant only, answered with
//     organisation_id and no expires_in or refresh token; tokens that never
//     expire; no revocation endpoint (RevokeAccess plays the user
//     disconnecting); GET /creditors.
//   - Adyen (NewAdyen): authorization at /ca/ca/oauth/connect.shtml with a
//     required redirect_uri and S256 PKCE; POST /v1/token with HTTP Basic
//     credentials only; answers with expires_in, a refresh token and the
//     accounts list; refresh tokens spent on use; no revocation endpoint
//     (RevokeAccess plays the customer uninstalling the app); GET /v3/me.
//   - Generic (NewGeneric): an RFC 6749 server with its options' rules:
//     authorization at {IssuerPath}/authorize with a required
//     redirect_uri, state and scope; POST {IssuerPath}/token accepting
//     only the client authentication of AuthMethods (client_secret_basic,
//     client_secret_post or both); PKCE S256 (required with RequirePKCE);
//     iss on every authorization response with IssuerParameter (RFC 9207);
//     reusable refresh tokens, or rotating ones with RotateRefreshTokens;
//     RFC 7009 revocation at POST {IssuerPath}/revoke unless NoRevocation.
//
// # Metadata
//
// A fake publishes authorization server metadata only where the real
// server does. Generic serves RFC 8414 metadata at MetadataURL, the
// well-known path inserted before the issuer's path (RFC 8414 §3.1:
// /.well-known/oauth-authorization-server/tenant for the issuer
// URL()+"/tenant"); the Qonto fake serves Ory Hydra's
// /.well-known/openid-configuration. Each member is derived from the
// configuration the endpoints run with, and lists only what the fake
// does: issuer (Issuer), the authorization, token and (for RFC 7009 POST)
// revocation endpoints, response_types_supported ["code"],
// grant_types_supported [authorization_code, refresh_token],
// code_challenge_methods_supported ["S256"] (a challenge is always
// enforced, plain always refused; that RequirePKCE makes one mandatory
// cannot be said), token_endpoint_auth_methods_supported and
// revocation_endpoint_auth_methods_supported (exactly the methods
// accepted: client_secret_post only at Qonto, where a stock Hydra lists
// every method it implements, and plain PKCE too, for all clients),
// scopes_supported (the scopes the fake accepts) and
// authorization_response_iss_parameter_supported when it sends iss. So a
// Provider that package discovery builds from it connects to the fake,
// and a client that departs from it fails. The Qonto document carries no
// jwks_uri: its ID tokens are unsigned placeholders. Mollie, Stripe,
// GoCardless and Adyen publish no metadata, and neither do their fakes.
//
// Each preset fake's Provider equals the real preset (package mollie,
// qonto, stripe, gocardless, adyen) but for its URLs and what its options
// configure; Generic's is what package discovery derives from its
// metadata. All spend codes once (a reused code revokes what it
// produced), bind them to the redirect_uri and enforce PKCE S256 when a
// code_challenge was sent. Where a provider does not publish a rule (a
// code's lifetime at Stripe, GoCardless and Adyen), the fake picks one and
// its options change it; the presets' package docs say which facts the
// providers do not document publicly and what the presets assume.
//
// # Testing an app
//
// Start a fake, point the app's provider configuration at it (Provider
// returns an oauthlink.Provider for the fake; other clients use AuthURL,
// TokenURL and RevokeURL), let the app redirect to the authorization
// endpoint, and play the browser with Authorize, which returns the callback
// URL to send to the app:
//
//	f := oauthlinktest.NewMollie(oauthlinktest.MollieOptions{
//		RedirectURIs: []string{app.URL + "/connect/mollie/callback"},
//	})
//	defer f.Close()
//	// ... configure the app with f.Provider(), f.ClientID(), f.ClientSecret()
//	callback, err := f.Authorize(ctx, authURLFromApp)
//	// ... GET callback with the browser's cookie jar, then assert:
//	assert.Equal(t, 1, f.Exchanges())
//
// Tests inspect what the fake saw (Calls, Exchanges, Refreshes,
// ReuseDetections, Revocations, Presented, PresentedRefreshTokens,
// ClientAuths, LastAuthorize) and
// whether tokens are still valid (AccessTokenValid, RefreshTokenValid), and
// script failures: DenyNext makes the user decline, Fault queues per
// endpoint a status, body, content type, delay, huge body, Retry-After,
// dropped connection, redirect or held response, and the
// BeforeTokenResponse option runs code between processing a grant and
// answering it. Inject a clock with the Now option to test expiry without
// sleeping.
//
// A fake can also serve a demo's sandbox across restarts: the Listener
// option puts it on a port the browser finds again, and PersistTo keeps
// its state (merchants, grants, codes, tokens) in a file. The Qonto fake's
// ConsentsHandler is the merchant's "connected applications" page, whose
// Revoke access button runs RevokeConsent.
//
// The fakes never log; tokens and codes come from crypto/rand. Every
// method is safe for concurrent use, and Close ends every request still
// delayed or held, so no goroutine outlives a test.
package oauthlinktest

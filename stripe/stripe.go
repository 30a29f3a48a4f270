// Package stripe holds the Stripe Connect preset: OAuth for Standard
// accounts.
//
// # Fact sheet
//
// Sources: the Connect OAuth reference
// (https://docs.stripe.com/connect/oauth-reference, also published as
// https://stripe.com/docs/connect/oauth-reference; an older copy at
// https://stripe.com/docs/connect/reference), "Using Connect with Standard
// accounts" (https://stripe.com/docs/connect/standard-accounts), the
// OAuthToken type of Stripe's Node library
// (https://typedoc.mayson.ai/interfaces/packages_stripe_src.Stripe.OAuthToken.html
// mirrors its field comments) and stripe-go's oauth client
// (https://github.com/stripe/stripe-go, oauth/client.go). Facts those
// sources do not settle are marked UNCONFIRMED; the preset then takes the
// choice that cannot lose a grant.
//
//   - Authorize: GET https://connect.stripe.com/oauth/authorize with
//     client_id (ca_…), response_type=code, scope read_write or read_only
//     (Stripe's default is read_only; the preset asks read_write), state,
//     redirect_uri (optional; it must be one registered in the platform
//     settings, else the first is used), stripe_landing (login or
//     register), always_prompt, and stripe_user[…] fields that prefill the
//     account form of a new user (ParamPrefix). suggested_capabilities[]
//     is allowed as a parameter, with one value per flow (oauthlink never
//     repeats a parameter); the reference notes that one parameter
//     applies only to Express accounts, and which one that is now is
//     UNCONFIRMED. PKCE is not documented and is not sent.
//   - Token: POST https://connect.stripe.com/oauth/token, form encoded,
//     grant_type authorization_code (code) or refresh_token
//     (refresh_token, optional scope of equal or lesser access). The
//     client secret is the platform's secret API key (sk_…), sent as the
//     client_secret form field (stripe-go: "client_secret is sent in the
//     post body for this endpoint"; the reference's curl examples pass it
//     as the Basic user name instead). The preset pins body credentials
//     (oauthlink.AuthStyleBody). oauthlink also sends client_id and, at
//     exchange, redirect_uri (RFC 6749 §4.1.3); that Stripe ignores
//     them is UNCONFIRMED.
//   - Token answer: access_token (a secret key for the connected account,
//     which "does not expire, but may be revoked by the user at any
//     time"), refresh_token, token_type bearer, scope, livemode,
//     stripe_user_id (acct_…, the connected account) and
//     stripe_publishable_key. There is no expires_in: the preset sets
//     oauthlink.Provider.AccessTokensDoNotExpire, so the refresh token is
//     spent only when Stripe rejects the access token, and
//     AccountIDField "stripe_user_id", so Connection.AccountID is the
//     account with no API call.
//   - Refresh: the sources disagree on whether a refresh rotates the
//     refresh token (the library docs only say it "can be used to get a
//     new access token"; Nango's write-up
//     https://nango.dev/blog/stripe-oauth-refresh-token-invalid-grant says
//     the previous one is invalidated). The preset treats it as rotating
//     (RotatesRefreshTokens, no grace): a refresh whose answer was lost is
//     not replayed, and whatever refresh token an answer carries is kept.
//   - Errors: RFC 6749 §5.2 JSON, {"error": "invalid_grant",
//     "error_description": "…"} (e.g. an expired code or a revoked
//     refresh token). Authorization codes are single use; their lifetime
//     is UNCONFIRMED (oauthlink exchanges the code in the callback at
//     once; the fake defaults to 5 minutes).
//   - Deauthorize: POST https://connect.stripe.com/oauth/deauthorize with
//     client_id and stripe_user_id, authenticated with the platform's
//     secret key, answers {"stripe_user_id": "acct_…"}. It is not RFC
//     7009: it ends the platform's whole authorization of the account, all
//     tokens at once. The preset's Revoke does this
//     (oauthlink.Provider.Revoke, RevokesAccount): a reconnect to the same
//     account keeps its authorization, a reconnect to another account
//     deauthorizes the old one, and two owners connected to one Stripe
//     account share one authorization (disconnecting either ends both).
//     An answer saying the application is not connected to the account
//     counts as done; its exact wording is UNCONFIRMED and matched on
//     "not connected".
//   - Webhooks: Stripe sends account.application.deauthorized when the
//     user disconnects at Stripe; feed it to fleet.MarkRevoked (this
//     package does not verify Stripe webhook signatures).
//   - Test mode: the same hosts; the mode follows the secret key (sk_test_
//     or sk_live_), and livemode in the answer says which.
package stripe

import (
	"time"

	"github.com/oauthlink/oauthlink"
)

// Production endpoints. Test mode uses the same ones with a test secret
// key.
const (
	AuthURL        = "https://connect.stripe.com/oauth/authorize"
	TokenURL       = "https://connect.stripe.com/oauth/token"
	DeauthorizeURL = "https://connect.stripe.com/oauth/deauthorize"
	APIURL         = "https://api.stripe.com"
)

// Scopes.
const (
	ScopeReadWrite = "read_write"
	ScopeReadOnly  = "read_only"
)

// Authorization parameters an app may pass per flow.
const (
	// ParamStripeLanding is "login" (show the login screen) or "register"
	// (show the account application).
	ParamStripeLanding = "stripe_landing"
	// ParamAlwaysPrompt ("true") asks the user to connect even when the
	// account is already connected.
	ParamAlwaysPrompt = "always_prompt"
	// ParamSuggestedCapabilities suggests a capability to request (e.g.
	// "card_payments"). Stripe takes several as repeated values, but
	// oauthlink sends every authorization parameter once (RFC 6749 §3.1),
	// so one capability is suggested per flow; a second value is refused.
	ParamSuggestedCapabilities = "suggested_capabilities[]"
)

// ParamPrefix prefixes the prefill fields for a new user's account form,
// e.g. ParamPrefix+"email]". The allowed ones are PrefillFields.
const ParamPrefix = "stripe_user["

// PrefillFields are the stripe_user[…] fields the preset allows. The
// reference documents email and url as recommended and a longer list of
// business and personal fields; invalid values are ignored by Stripe.
var PrefillFields = []string{
	"email", "url", "country", "phone_number", "business_name", "business_type",
	"first_name", "last_name", "dob_day", "dob_month", "dob_year",
	"street_address", "city", "state", "zip", "physical_product", "product_description",
	"currency",
}

// Provider returns the Stripe Connect descriptor for Standard accounts.
// Config.ClientID is the platform's client_id (ca_…) and
// Config.ClientSecret its secret API key (sk_test_… or sk_live_…).
func Provider() oauthlink.Provider {
	params := []string{ParamStripeLanding, ParamAlwaysPrompt, ParamSuggestedCapabilities}
	for _, f := range PrefillFields {
		params = append(params, ParamPrefix+f+"]")
	}
	return oauthlink.Provider{
		Name:                    "stripe",
		AuthURL:                 AuthURL,
		TokenURL:                TokenURL,
		RevokeURL:               DeauthorizeURL,
		AuthStyle:               oauthlink.AuthStyleBody,
		DefaultScopes:           []string{ScopeReadWrite},
		AllowedAuthParams:       params,
		DefaultTokenLifetime:    time.Hour,
		AccountIDField:          "stripe_user_id",
		AccessTokensDoNotExpire: true,
		RotatesRefreshTokens:    true,
		Revoke:                  Deauthorize,
		RevokesAccount:          true,
		APIURL:                  APIURL,
	}
}

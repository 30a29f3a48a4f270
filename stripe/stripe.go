// Package stripe holds the Stripe Connect preset: OAuth for Standard
// accounts.
//
// # Fact sheet
//
// Sources: the Connect OAuth reference
// (https://docs.stripe.com/connect/oauth-reference, also published as
// https://stripe.com/docs/connect/oauth-reference; an older copy at
// https://stripe.com/docs/connect/reference), "Using Connect with Standard
// accounts" (https://stripe.com/docs/connect/standard-accounts), "Using
// OAuth with Express accounts"
// (https://docs.stripe.com/connect/oauth-express-accounts), and Stripe's own
// libraries, whose OAuth types copy the reference's parameter tables:
// stripe-node (https://github.com/stripe/stripe-node,
// src/resources/OAuth.ts), stripe-go (https://github.com/stripe/stripe-go,
// oauth.go and oauth/client.go) and stripe-ruby
// (https://github.com/stripe/stripe-ruby, lib/stripe/errors.rb and the
// OAuth error fixtures in test/stripe/api_requestor_test.rb). Where these
// sources do not settle a fact, the sheet says so and the preset takes the
// choice that cannot lose a grant.
//
//   - Authorize: GET https://connect.stripe.com/oauth/authorize with
//     client_id (ca_…), response_type=code, scope read_write or read_only
//     (Stripe's default is read_only; the preset asks read_write), state,
//     redirect_uri (optional; it must be one registered in the platform
//     settings, else the first is used), stripe_landing (login or
//     register), always_prompt, and stripe_user[…] fields that prefill the
//     account form of a new user (ParamPrefix, PrefillFields: the fields
//     stripe-node and stripe-go list, the Japanese kana/kanji, gender and
//     address-block ones included). The reference notes that one
//     parameter applies only to Express accounts; stripe-node marks it:
//     suggested_capabilities ("Express only", sent to
//     https://connect.stripe.com/express/oauth/authorize), and with it the
//     token request's assert_capabilities. This preset is for Standard
//     accounts, so it does not allow suggested_capabilities[]. PKCE is not
//     documented and is not sent.
//   - Token: POST https://connect.stripe.com/oauth/token, form encoded,
//     grant_type authorization_code (code) or refresh_token
//     (refresh_token, optional scope of equal or lesser access). The
//     client secret is the platform's secret API key (sk_…), sent as the
//     client_secret form field (stripe-go: "client_secret is sent in the
//     post body for this endpoint"; the reference's curl examples pass it
//     as the Basic user name instead). The preset pins body credentials
//     (oauthlink.AuthStyleBody). The reference and both libraries list
//     only grant_type, code, refresh_token, scope and assert_capabilities
//     (and stripe-go client_secret) for this endpoint; what Stripe does
//     with a client_id or redirect_uri in the body is not documented
//     publicly. oauthlink sends both (client_id with body credentials,
//     redirect_uri at exchange, as RFC 6749 §2.3.1 and §4.1.3 ask), and
//     the preset assumes Stripe accepts and ignores them, as an RFC 6749
//     token endpoint must; the fake accepts them and checks that a
//     client_id sent is the platform's.
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
//     "error_description": "…"}. invalid_grant covers a code that "doesn't
//     exist, is expired, has been used, or doesn't belong to you", a
//     refresh token that does not exist or is not yours, and a key whose
//     mode does not match the code's (stripe-ruby's InvalidGrantError);
//     presenting a used code answers "This authorization code has already
//     been used. All tokens issued with this code have been revoked."
//     (a fixture in stripe-ruby's tests), which the fake does too. Codes are single
//     use and do expire, but their lifetime is not documented publicly;
//     oauthlink exchanges the code in the callback at once, and the fake
//     defaults to 5 minutes (StripeOptions.CodeLifetime changes it).
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
//     counts as done: the reference's error table gives invalid_client when
//     "the stripe_user_id does not exist or is not connected to your
//     application" (as stripe-php's InvalidClientException repeats), and
//     a fixture in stripe-ruby's tests shows the answer: HTTP 401, {"error":
//     "invalid_client", "error_description": "This application is not
//     connected to stripe account acct_…, or that account does not
//     exist."}. Deauthorize matches invalid_client with "not connected" in
//     the description; the other invalid_client answers (a client_id that is
//     not yours, a key of the wrong mode, a bad key) stay errors.
//   - Webhooks: Stripe sends account.application.deauthorized when the
//     user disconnects at Stripe, to the platform's Connect webhook
//     endpoint, naming the account in its account field and the
//     application in data.object. The event is signed with the
//     endpoint's secret (Stripe-Signature: t={unix},v1={hex HMAC-SHA256
//     of "{t}.{body}"}; Stripe's libraries refuse signatures older than
//     5 minutes). NewWebhookHandler is that endpoint: it verifies the
//     signature and marks the connection holding the account revoked
//     (fleet.MarkAccountRevoked). Sources:
//     https://docs.stripe.com/webhooks#verify-events (signatures),
//     https://docs.stripe.com/connect/webhooks (Connect events and the
//     account field), https://docs.stripe.com/api/events/types
//     (account.application.deauthorized).
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
)

// ParamPrefix prefixes the prefill fields for a new user's account form,
// e.g. ParamPrefix+"email]". The allowed ones are PrefillFields.
const ParamPrefix = "stripe_user["

// PrefillFields are the stripe_user[…] fields the preset allows: those
// the reference documents (email and url recommended, then business and
// personal fields, and the Japanese name, gender and address-block fields
// that need stripe_user[country] JP), as stripe-node and stripe-go list
// them. Stripe ignores invalid values.
var PrefillFields = []string{
	"email", "url", "country", "phone_number", "business_name", "business_type",
	"first_name", "last_name", "dob_day", "dob_month", "dob_year",
	"street_address", "city", "state", "zip", "physical_product", "product_description",
	"currency",
	"first_name_kana", "first_name_kanji", "last_name_kana", "last_name_kanji", "gender",
	"block_kana", "block_kanji", "building_kana", "building_kanji",
}

// Provider returns the Stripe Connect descriptor for Standard accounts.
// Config.ClientID is the platform's client_id (ca_…) and
// Config.ClientSecret its secret API key (sk_test_… or sk_live_…).
func Provider() oauthlink.Provider {
	params := []string{ParamStripeLanding, ParamAlwaysPrompt}
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

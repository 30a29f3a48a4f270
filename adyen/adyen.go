// Package adyen holds the Adyen partner OAuth preset.
//
// # Fact sheet
//
// Sources: Adyen's "OAuth" overview (https://docs.adyen.com/development-resources/oauth)
// and "OAuth integration guide"
// (https://docs.adyen.com/development-resources/oauth/integration, also at
// https://docs.adyen.com/partners/oauth/integration), its scopes page
// (https://docs.adyen.com/development-resources/oauth/scopes, cited by
// the guide), its "Installed OAuth apps" page
// (https://docs.adyen.com/development-resources/oauth/installed-oauth-apps,
// also at https://docs.adyen.com/partners/oauth/installed-oauth-apps), and
// two open-source integrations that follow the guide step by step: cal.com's
// Adyen app (https://github.com/calcom/cal.com, packages/app-store/adyen,
// whose comments link the guide's sections) and MarcGrol/shopbackend
// (https://github.com/MarcGrol/shopbackend, README "OAuth"). Adyen's API
// libraries (e.g. https://github.com/Adyen/adyen-go-api-library) accept
// an OAuth access token but implement no OAuth calls. The public copies of
// the guide that could be read stop before its parameter tables; what
// neither they nor the other pages settle is said below to be not
// documented publicly, with the choice the preset makes.
//
//   - OAuth is for partners: on live, only partner accounts may create
//     OAuth apps (Partner Portal, Developer > OAuth apps). The app's scopes
//     are fixed when it is created; the customer grants all requested
//     scopes or none, for one or more of their merchant accounts.
//   - Authorize: https://ca-test.adyen.com/ca/ca/oauth/connect.shtml (live
//     https://ca-live.adyen.com/ca/ca/oauth/connect.shtml) with client_id,
//     response_type=code, redirect_uri, scope (space-separated), state,
//     and PKCE: code_challenge with code_challenge_method=S256 (RFC 7636).
//     Both integrations always send PKCE, and the guide's URL example
//     carries it; the preset sends it (Provider.PKCE).
//   - Token: POST https://oauth-test.adyen.com/v1/token (live
//     https://oauth-live.adyen.com/v1/token), form encoded, client
//     credentials as HTTP Basic (oauthlink.AuthStyleBasic):
//     grant_type=authorization_code with code, code_verifier and
//     redirect_uri; grant_type=refresh_token with refresh_token.
//   - Token answer: access_token, expires_in, refresh_token and accounts,
//     the list of the customer's merchant accounts the grant covers (kept
//     in Connection.Extra; pick the one to act on there). Because accounts
//     is a list (the customer may pick several), the preset sets no
//     AccountIDField.
//   - Scopes seen in the integrations: psp.onlinepayment:write,
//     psp.accountsettings:write, psp.webhook:write (DefaultScopes is
//     psp.onlinepayment:write; set Config.Scopes to what the OAuth app was
//     created with).
//   - Lifetimes: the access token's lifetime comes in expires_in, which
//     the preset honours (DefaultTokenLifetime, one hour, only fills in an
//     answer without it). The refresh token's lifetime, and whether a
//     refresh rotates the refresh token, are not documented publicly. The
//     preset treats refresh tokens as rotating (RotatesRefreshTokens, no
//     grace), so a refresh whose answer was lost is never replayed, and
//     stores every refresh token an answer carries: if Adyen does not
//     rotate, this costs nothing; if it does, replaying a spent token
//     could end the grant.
//   - Revocation: the "Installed OAuth apps" page documents revocation by
//     the customer only: in their Customer Area (Developers > OAuth
//     authorizations, select Edit, then Uninstall; it needs company account
//     access and the Merchant admin role) Adyen then "immediately" revokes
//     the app's access and invalidates all active access. No revocation
//     endpoint for the partner is documented in the pages read, so the
//     preset has no RevokeURL: Disconnect forgets the tokens without
//     telling Adyen, and the app should tell the customer to uninstall it
//     in their Customer Area. The fake's RevokeAccess plays that uninstall;
//     afterwards a refresh fails and the connection is reauth_required.
//   - Codes are single use; their lifetime is not documented publicly
//     (oauthlink exchanges the code in the callback at once; the fake
//     defaults to 10 minutes, AdyenOptions.CodeLifetime). Error answers
//     are taken to be RFC 6749 §5.2 JSON, as an OAuth 2 token endpoint's
//     are; any other error answer still fails the exchange, only with less
//     detail.
package adyen

import (
	"time"

	"github.com/oauthlink/oauthlink"
)

// Test and live endpoints.
const (
	TestAuthURL  = "https://ca-test.adyen.com/ca/ca/oauth/connect.shtml"
	TestTokenURL = "https://oauth-test.adyen.com/v1/token"
	LiveAuthURL  = "https://ca-live.adyen.com/ca/ca/oauth/connect.shtml"
	LiveTokenURL = "https://oauth-live.adyen.com/v1/token"
	// TestAPIURL and LiveAPIURL are the Management API's hosts, where an
	// OAuth token is used (e.g. allowed origins, webhooks).
	TestAPIURL = "https://management-test.adyen.com"
	LiveAPIURL = "https://management-live.adyen.com"
)

// Scopes seen in integrations that follow Adyen's guide.
const (
	ScopeOnlinePayment   = "psp.onlinepayment:write"
	ScopeAccountSettings = "psp.accountsettings:write"
	ScopeWebhook         = "psp.webhook:write"
)

// Options select the environment.
type Options struct {
	// Live points the preset at Adyen's live environment; the default is
	// the test environment.
	Live bool
}

// Provider returns the Adyen partner OAuth descriptor for the test
// environment, or for live with opts.Live.
func Provider(opts Options) oauthlink.Provider {
	auth, token, api := TestAuthURL, TestTokenURL, TestAPIURL
	if opts.Live {
		auth, token, api = LiveAuthURL, LiveTokenURL, LiveAPIURL
	}
	return oauthlink.Provider{
		Name:                 "adyen",
		AuthURL:              auth,
		TokenURL:             token,
		AuthStyle:            oauthlink.AuthStyleBasic,
		DefaultScopes:        []string{ScopeOnlinePayment},
		PKCE:                 true,
		RequireRefreshToken:  true,
		DefaultTokenLifetime: time.Hour,
		RotatesRefreshTokens: true,
		APIURL:               api,
	}
}

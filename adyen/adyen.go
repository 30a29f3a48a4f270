// Package adyen holds the Adyen partner OAuth preset.
//
// # Fact sheet
//
// Sources: Adyen's "OAuth" overview (https://docs.adyen.com/development-resources/oauth)
// and "OAuth integration guide"
// (https://docs.adyen.com/development-resources/oauth/integration, also at
// https://docs.adyen.com/partners/oauth/integration), its scopes page
// (https://docs.adyen.com/development-resources/oauth/scopes, cited by
// the guide), and two open-source integrations that follow the guide step
// by step: cal.com's Adyen app (https://github.com/calcom/cal.com,
// packages/app-store/adyen, whose comments link the guide's sections)
// and MarcGrol/shopbackend (https://github.com/MarcGrol/shopbackend,
// README "OAuth"). The stored copies of the guide that could be read stop
// before its parameter tables; what only the integrations show is marked
// UNCONFIRMED where it matters.
//
//   - OAuth is for partners: on live, only partner accounts may create
//     OAuth apps (Partner Portal, Developer > OAuth apps). The app's scopes
//     are fixed when it is created; the customer grants all requested
//     scopes or none.
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
//     the list of the customer's accounts the grant covers (kept in
//     Connection.Extra; pick the one to act on there). Because accounts is
//     a list, the preset sets no AccountIDField.
//   - Scopes seen in the integrations: psp.onlinepayment:write,
//     psp.accountsettings:write, psp.webhook:write (DefaultScopes is
//     psp.onlinepayment:write; set Config.Scopes to what the OAuth app was
//     created with).
//   - Lifetimes of access and refresh tokens, and whether a refresh
//     rotates the refresh token, are UNCONFIRMED. The preset treats
//     refresh tokens as rotating (RotatesRefreshTokens, no grace), so a
//     refresh whose answer was lost is never replayed, and stores every
//     refresh token an answer carries; expires_in is honoured.
//   - Revocation: no revocation endpoint was found in the copies read;
//     the preset has no RevokeURL, so Disconnect forgets the tokens
//     without telling Adyen (the customer revokes the app in their
//     Customer Area). UNCONFIRMED.
//   - Codes are single use; their lifetime is UNCONFIRMED (the fake
//     defaults to 10 minutes). Error answers are taken to be RFC 6749 §5.2
//     JSON.
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

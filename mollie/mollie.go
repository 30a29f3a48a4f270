// Package mollie holds the Mollie Connect preset and Mollie-specific calls.
//
// Mollie's OAuth server: authorize at my.mollie.com/oauth2/authorize, tokens
// at api.mollie.com/oauth2/tokens with HTTP Basic client credentials,
// revocation by DELETE on the same URL (204). Mollie does not document PKCE,
// so none is sent. Authorization codes live 30 seconds and are exchanged in
// the callback at once. Token responses arrive labelled text/html; oauthlink
// parses them as JSON whatever the header. The redirect_uri sent at exchange
// is resent on every refresh, as Mollie requires.
package mollie

import (
	"net/http"
	"time"

	"github.com/oauthlink/oauthlink"
)

// Production endpoints.
const (
	AuthURL  = "https://my.mollie.com/oauth2/authorize"
	TokenURL = "https://api.mollie.com/oauth2/tokens"
	APIURL   = "https://api.mollie.com"
)

// Authorization parameters an app may pass per flow.
const (
	// ParamApprovalPrompt is "auto" (default) or "force". Force shows the
	// consent screen again and REVOKES the merchant's earlier active
	// authorizations of this app once the new one is created.
	ParamApprovalPrompt = "approval_prompt"
	// ParamLocale presets the login/signup language, e.g. "nl_NL".
	ParamLocale = "locale"
)

// Provider returns the Mollie Connect descriptor. DefaultScopes are
// organizations.read and onboarding.read (enough to identify the
// organization and follow its onboarding); set Config.Scopes for more.
func Provider() oauthlink.Provider {
	return oauthlink.Provider{
		Name:                       "mollie",
		AuthURL:                    AuthURL,
		TokenURL:                   TokenURL,
		RevokeURL:                  TokenURL,
		RevokeMethod:               http.MethodDelete,
		AuthStyle:                  oauthlink.AuthStyleBasic,
		DefaultScopes:              []string{"organizations.read", "onboarding.read"},
		PKCE:                       false,
		AuthParams:                 []string{ParamApprovalPrompt, ParamLocale},
		ResendRedirectURIOnRefresh: true,
		DefaultTokenLifetime:       time.Hour,
		APIURL:                     APIURL,
	}
}

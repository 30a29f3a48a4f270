// Package mollie holds the Mollie Connect preset and Mollie-specific calls.
//
// Mollie's OAuth server: authorize at my.mollie.com/oauth2/authorize, tokens
// at api.mollie.com/oauth2/tokens with HTTP Basic client credentials,
// revocation by DELETE on the same URL (204). Mollie does not document PKCE,
// so none is sent. Authorization codes live 30 seconds and are exchanged in
// the callback at once. Token responses arrive labelled text/html; oauthlink
// parses them as JSON whatever the header. The redirect_uri sent at exchange
// is resent on every refresh, as Mollie requires.
//
// # Client links
//
// A partner can sign a merchant up and connect them in one go: Create client
// link (POST /v2/client-links, Client.CreateClientLink) takes the
// merchant's details and returns a link that behaves like the authorization
// page. It is authenticated with the partner's organization access token
// holding clients.write, which is never an OAuth scope: NewTokenClient
// builds the Client for it. ClientLinkURL adds client_id, state, scope and
// optionally approval_prompt to the link (never redirect_uri: Mollie uses
// the app's registered one); a link is valid for 30 days.
// NewClientLinkHandler puts it together behind a signup form: it validates
// the form's request, creates the link, starts a flow with Connector.Begin
// (same state cookie and owner binding as the ordinary start handler) and
// redirects to the link, reporting every failure through
// Connector.HandleError. The connector's ordinary callback completes the
// flow.
//
// The state travels in the link, and without PKCE whoever holds it can
// finish the merchant's flow with a code of their own, linking the
// merchant's account to another organization. So a link is followed only
// on an allowed host: the host of the connector's authorization endpoint
// (my.mollie.com, where client links live; a fake's own host in tests),
// plus Client.BrowserHosts. Any other host is refused before a flow starts:
// no redirect, no flow cookie, no state minted.
//
// # After connecting
//
// Mollie's token response carries no organization id; Identify, used as
// oauthlink.Config.Hooks.Identify, reads it from GET /v2/organizations/me
// when organizations.read was granted. For a connected merchant, a Client
// whose HTTPClient is the Connector's Client(owner) reads the organization
// (Client.Organization) and its onboarding status (Client.Onboarding,
// GET /v2/onboarding/me) with the merchant's token, refreshed when it
// expires and once more when Mollie answers 401:
//
//	api := &mollie.Client{HTTPClient: conn.Client(owner)}
//	st, err := api.Onboarding(ctx)
//
// Every API call has a timeout, reads at most 1 MiB, never follows a
// redirect, never sends a token over plain http (but to a loopback fake
// with AllowInsecureHTTP), and reports Mollie's HAL+JSON errors as
// *APIError without echoing the body. URLs in an answer that are meant for
// a browser (client links, dashboard links) are kept only on an allowed
// host (Client.BrowserHosts).
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
		AllowedAuthParams:          []string{ParamApprovalPrompt, ParamLocale},
		ResendRedirectURIOnRefresh: true,
		DefaultTokenLifetime:       time.Hour,
		APIURL:                     APIURL,
	}
}

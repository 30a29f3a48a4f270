// Package qonto holds the Qonto preset.
//
// Qonto's OAuth server is Ory Hydra: authorize at oauth.qonto.com/oauth2/auth,
// tokens at /oauth2/token with client credentials in the form body (form
// encoding only). Every refresh rotates the refresh token; the old one is
// accepted for 60 seconds, and presenting it later revokes the whole grant.
// A refresh token nobody uses for 90 days expires (Provider.IdleLifetime):
// run an oauthlink.Keeper (Connector.Keeper) to refresh idle connections
// before then.
// offline_access is always requested, since without it no refresh token is
// issued. The sandbox needs the X-Qonto-Staging-Token header on every
// server-side call; without it the sandbox answers an HTML login page.
//
// # Partner onboarding: registration_id and organization_id
//
// A partner that created the merchant's Qonto account through the
// Onboarding API (POST /register/registrations) gets a registration id, a
// UUID. Once the merchant has finished that registration, start the OAuth
// flow with registration_id set, and Qonto pre-selects the organization the
// registration created instead of asking the user to pick one. To connect a
// known organization, send organization_id instead: the user is then
// restricted to that organization. Both are per-flow authorization
// parameters (ParamRegistrationID, ParamOrganizationID), allowed by the
// preset's Provider.AuthParams; WithRegistration and WithOrganization build
// them and refuse anything that is not a UUID.
//
// Pass them either for every start request, through
// oauthlink.Config.AuthParams (the start handler calls it per request):
//
//	AuthParams: func(r *http.Request) (url.Values, error) {
//		id, err := app.PendingRegistration(r) // "" when there is none
//		if err != nil || id == "" {
//			return nil, err
//		}
//		return qonto.WithRegistration(id)
//	},
//
// or for one flow started by the app's own handler:
//
//	params, err := qonto.WithRegistration(id)
//	...
//	flow, err := conn.Begin(w, r, oauthlink.BeginOptions{Params: params})
//	...
//	http.Redirect(w, r, flow.AuthURL.Reveal(), http.StatusSeeOther)
//
// The rest of the flow (state cookie, owner binding, callback, exchange) is
// the ordinary one. Send the user's browser to the authorization URL; never
// fetch it server-side (Hydra's CSRF cookie would be missing).
//
// # After connecting
//
// Qonto's token response carries no organization id; Identify, used as
// oauthlink.Config.Hooks.Identify, reads it from GET /v2/organization when
// organization.read was granted. For a connected organization, a Client
// whose HTTPClient is the Connector's Client(owner) calls the API with the
// owner's token (and the sandbox's staging header), refreshed when it
// expires and once more when Qonto answers 401:
//
//	api := &qonto.Client{HTTPClient: conn.Client(owner), BaseURL: provider.APIURL}
//	org, err := api.Organization(ctx)
//
// # Revocation webhooks
//
// When a merchant revokes the app's consent, Qonto sends the
// v1/consent-revocations webhook (organization_id, membership_id,
// data.client_id, data.revoked_at) to the subscriptions of that
// organization. Subscribe once per connection with the merchant's token
// (scope webhook, on top of organization.read for Identify) through
// Client.CreateWebhookSubscription, and serve NewWebhookHandler at the
// callback URL: it verifies X-Qonto-Signature and marks the connection to
// the organization revoked with fleet.MarkRevoked (none when several
// connections hold grants to it; see NewWebhookHandler).
//
// Every API call has a timeout, reads at most 1 MiB, never follows a
// redirect, never sends a token over plain http (but to a loopback fake
// with AllowInsecureHTTP), and reports Qonto's error answers as *APIError
// without echoing the body.
package qonto

import (
	"net/http"
	"time"

	"github.com/oauthlink/oauthlink"
)

// Production and sandbox hosts.
const (
	OAuthURL        = "https://oauth.qonto.com"
	APIURL          = "https://thirdparty.qonto.com"
	SandboxOAuthURL = "https://oauth-sandbox.staging.qonto.co"
	SandboxAPIURL   = "https://thirdparty-sandbox.staging.qonto.co"
	// StagingTokenHeader is sent on every server-side sandbox call.
	StagingTokenHeader = "X-Qonto-Staging-Token"
)

// Authorization parameters an app may pass per flow.
const (
	// ParamOrganizationID restricts the user to one organization.
	ParamOrganizationID = "organization_id"
	// ParamRegistrationID pre-selects the organization created by a partner
	// onboarding registration.
	ParamRegistrationID = "registration_id"
)

// Options select the environment.
type Options struct {
	// Sandbox points the preset at Qonto's sandbox.
	Sandbox bool
	// StagingToken is the sandbox staging token, sent as
	// X-Qonto-Staging-Token on token, revocation and API calls. Required
	// with Sandbox.
	StagingToken string
}

// Provider returns the Qonto descriptor for production, or for the sandbox
// with opts.Sandbox. The revocation URL is Hydra's RFC 7009 endpoint (Qonto
// does not document one; it is what Hydra serves).
func Provider(opts Options) oauthlink.Provider {
	base, api := OAuthURL, APIURL
	var header http.Header
	if opts.Sandbox {
		base, api = SandboxOAuthURL, SandboxAPIURL
		header = http.Header{StagingTokenHeader: {opts.StagingToken}}
	}
	return oauthlink.Provider{
		Name:                 "qonto",
		AuthURL:              base + "/oauth2/auth",
		TokenURL:             base + "/oauth2/token",
		RevokeURL:            base + "/oauth2/revoke",
		RevokeMethod:         http.MethodPost,
		AuthStyle:            oauthlink.AuthStyleBody,
		DefaultScopes:        []string{ScopeOrganizationRead},
		RequiredScopes:       []string{"offline_access"},
		AllowedAuthParams:    []string{ParamOrganizationID, ParamRegistrationID},
		Header:               header,
		RequireRefreshToken:  true,
		DefaultTokenLifetime: time.Hour,
		RotatesRefreshTokens: true,
		RefreshGrace:         60 * time.Second,
		IdleLifetime:         90 * 24 * time.Hour,
		APIURL:               api,
	}
}

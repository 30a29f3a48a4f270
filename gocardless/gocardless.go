// Package gocardless holds the GoCardless partner OAuth preset.
//
// # Fact sheet
//
// Sources: GoCardless's partner guide "Connecting your users' accounts"
// (https://developer.gocardless.com/partners/connecting-your-users, also
// at https://developer.gocardless.com/getting-started/partners/connecting-your-users-accounts/),
// its partner "Integration Guide"
// (https://developer.gocardless.com/partners/integration-checklist) and
// API reference (https://developer.gocardless.com/api-reference); the hosts
// and the two scopes also appear in third-party clients (GoCardlessClient
// for Elixir: connect.gocardless.com, connect-sandbox.gocardless.com,
// api.gocardless.com, api-sandbox.gocardless.com; an API catalogue's scope
// sheet,
// https://raw.githubusercontent.com/api-evangelist/gocardless/refs/heads/main/scopes/gocardless-scopes.yml,
// citing the partner guide). GoCardless's official client libraries (e.g.
// https://github.com/gocardless/gocardless-pro-go) take an access token
// and have no OAuth calls. The public copies of the guide that could be
// read stop before its parameter tables; what only those tables would
// settle is said below to be not documented publicly, with the choice the
// preset makes.
//
//   - Authorize: https://connect.gocardless.com/oauth/authorize (sandbox
//     https://connect-sandbox.gocardless.com/oauth/authorize) with
//     response_type=code, client_id, redirect_uri (must match the app's
//     registered one exactly), scope and state. Scopes: read_write (full
//     access, needed to create mandates and payments) and read_only.
//     initial_view (signup or login) picks the first screen (the
//     Integration Guide asks partners to pass it). PKCE is not documented
//     and is not sent.
//   - Prefill and language: the full list of prefill[…] fields and the
//     format of language are not documented publicly. Integrations built
//     from the guide send prefill[email], prefill[given_name],
//     prefill[family_name] and prefill[organisation_name], some also
//     prefill[country_code]; the preset allows those five (PrefillParams)
//     and language. The fake takes language as a two-letter lower-case
//     ISO 639-1 code, the narrowest reading, so an app that sends another
//     form finds out in its tests rather than at GoCardless.
//   - Token: POST https://connect.gocardless.com/oauth/access_token,
//     form encoded, grant_type=authorization_code, code, redirect_uri,
//     client credentials. The guide's example uses a generic OAuth 2
//     library, so the credentials' place is not stated, and whether Basic
//     authentication is accepted is not documented publicly. The preset
//     sends them in the body (oauthlink.AuthStyleBody, RFC 6749 §2.3.1),
//     as the integrations do; the fake accepts only the body, so a client
//     that switches to Basic is caught.
//   - Token answer: access_token, token_type bearer, scope and
//     organisation_id (the connected GoCardless organisation), with no
//     expires_in and no refresh_token: access tokens live until the user
//     revokes access. The preset sets AccountIDField "organisation_id" (so
//     Connection.AccountID needs no API call) and AccessTokensDoNotExpire;
//     it does not set RequireRefreshToken. Connection.Expiry is zero, and a
//     401 from the API (through Connector.Client) marks the connection
//     reauth_required.
//   - Codes are single use; their lifetime is not documented publicly
//     (oauthlink exchanges them at once in the callback; the fake defaults
//     to 5 minutes, GoCardlessOptions.CodeLifetime). The shape of the
//     token endpoint's error answers is not documented publicly either:
//     the preset takes them to be RFC 6749 §5.2 JSON ({"error",
//     "error_description"}), as an OAuth 2 server's are; oauthlink also
//     reads the {"error": {"type", "message"}} shape GoCardless's API uses
//     for its own errors, and any other error answer still fails the
//     exchange, only with less detail.
//   - Revocation: GoCardless documents no revocation endpoint in the
//     pages read, and its client libraries have none; the user disconnects
//     the app from the GoCardless dashboard. A /oauth/revoke path appears
//     only in one third-party integration's mocked tests, so the preset
//     does not call it (it would send the client secret and the token to
//     an endpoint GoCardless does not document): it has no RevokeURL, and
//     Disconnect forgets the token without telling GoCardless. The fake
//     has no revocation endpoint either; RevokeAccess plays the user
//     disconnecting.
//   - API calls with the token go to https://api.gocardless.com (sandbox
//     https://api-sandbox.gocardless.com) with the GoCardless-Version
//     header, which Provider.Header does not set: the app's API client
//     sends it.
package gocardless

import (
	"time"

	"github.com/oauthlink/oauthlink"
)

// Live and sandbox endpoints.
const (
	ConnectURL        = "https://connect.gocardless.com"
	APIURL            = "https://api.gocardless.com"
	SandboxConnectURL = "https://connect-sandbox.gocardless.com"
	SandboxAPIURL     = "https://api-sandbox.gocardless.com"
)

// Scopes.
const (
	ScopeReadWrite = "read_write"
	ScopeReadOnly  = "read_only"
)

// Authorization parameters an app may pass per flow.
const (
	// ParamInitialView is "signup" or "login".
	ParamInitialView = "initial_view"
	// ParamLanguage sets the language of GoCardless's pages.
	ParamLanguage = "language"
)

// PrefillParams are the prefill[…] parameters the preset allows.
var PrefillParams = []string{
	"prefill[email]", "prefill[given_name]", "prefill[family_name]",
	"prefill[organisation_name]", "prefill[country_code]",
}

// Options select the environment.
type Options struct {
	// Sandbox points the preset at GoCardless's sandbox.
	Sandbox bool
}

// Provider returns the GoCardless partner OAuth descriptor for the live
// environment, or for the sandbox with opts.Sandbox.
func Provider(opts Options) oauthlink.Provider {
	connect, api := ConnectURL, APIURL
	if opts.Sandbox {
		connect, api = SandboxConnectURL, SandboxAPIURL
	}
	return oauthlink.Provider{
		Name:                    "gocardless",
		AuthURL:                 connect + "/oauth/authorize",
		TokenURL:                connect + "/oauth/access_token",
		AuthStyle:               oauthlink.AuthStyleBody,
		DefaultScopes:           []string{ScopeReadWrite},
		AllowedAuthParams:       append([]string{ParamInitialView, ParamLanguage}, PrefillParams...),
		DefaultTokenLifetime:    time.Hour,
		AccountIDField:          "organisation_id",
		AccessTokensDoNotExpire: true,
		APIURL:                  api,
	}
}

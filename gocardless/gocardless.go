// Package gocardless holds the GoCardless partner OAuth preset.
//
// # Fact sheet
//
// Sources: GoCardless's partner guide "Connecting your users' accounts"
// (https://developer.gocardless.com/partners/connecting-your-users, also
// at https://developer.gocardless.com/getting-started/partners/connecting-your-users-accounts/)
// and its API reference (https://developer.gocardless.com/api-reference);
// the hosts and the two scopes also appear in third-party clients
// (GoCardlessClient for Elixir: connect.gocardless.com,
// connect-sandbox.gocardless.com, api.gocardless.com,
// api-sandbox.gocardless.com; an API catalogue's scope sheet,
// https://raw.githubusercontent.com/api-evangelist/gocardless/refs/heads/main/scopes/gocardless-scopes.yml,
// citing the partner guide). The stored copies of the guide that could be
// read for this package stop before its parameter tables, so what only
// those tables say is marked UNCONFIRMED.
//
//   - Authorize: https://connect.gocardless.com/oauth/authorize (sandbox
//     https://connect-sandbox.gocardless.com/oauth/authorize) with
//     response_type=code, client_id, redirect_uri (must match the app's
//     registered one exactly), scope and state. Scopes: read_write (full
//     access, needed to create mandates and payments) and read_only.
//     initial_view (signup or login) picks the first screen, and
//     prefill[email], prefill[given_name], prefill[family_name],
//     prefill[organisation_name] and prefill[country_code] prefill the
//     signup form; language sets the page's language. The exact
//     prefill names and the language format are UNCONFIRMED. PKCE is not
//     documented and is not sent.
//   - Token: POST https://connect.gocardless.com/oauth/access_token,
//     form encoded, grant_type=authorization_code, code, redirect_uri,
//     client credentials. The guide's example uses a generic OAuth 2
//     library, so the credentials' place is not stated: the preset sends
//     them in the body (RFC 6749 §2.3.1), UNCONFIRMED that Basic would
//     also work.
//   - Token answer: access_token, token_type bearer, scope and
//     organisation_id (the connected GoCardless organisation), with no
//     expires_in and no refresh_token: access tokens live until the user
//     revokes access. The preset sets AccountIDField "organisation_id" (so
//     Connection.AccountID needs no API call) and AccessTokensDoNotExpire;
//     it does not set RequireRefreshToken. Connection.Expiry is zero, and a
//     401 from the API (through Connector.Client) marks the connection
//     reauth_required.
//   - Codes are single use; their lifetime is UNCONFIRMED (oauthlink
//     exchanges them at once; the fake defaults to 5 minutes). Error
//     answers are taken to be RFC 6749 §5.2 JSON (UNCONFIRMED in the
//     copies read).
//   - Revocation: no revocation endpoint is documented in the copies
//     read; the user disconnects the app from the GoCardless dashboard.
//     The preset has no RevokeURL, so Disconnect forgets the token
//     without telling GoCardless. UNCONFIRMED that GoCardless offers none.
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

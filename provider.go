package oauthlink

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// AuthStyle is how the client authenticates at the token and revocation
// endpoints (RFC 6749 §2.3.1). It is pinned per provider: oauthlink never
// probes, because golang.org/x/oauth2's auto-detection resends a grant after
// a failure, and a resent code or rotated refresh token makes Hydra-based
// providers (Qonto) revoke the whole grant.
type AuthStyle int

const (
	// AuthStyleBasic sends client_id:client_secret as HTTP Basic credentials.
	// The zero AuthStyle is no style: New rejects it.
	AuthStyleBasic AuthStyle = iota + 1
	// AuthStyleBody sends client_id and client_secret as form fields.
	AuthStyleBody
)

// authStyleName names s in descriptions.
func authStyleName(s AuthStyle) string {
	switch s {
	case AuthStyleBasic:
		return "basic"
	case AuthStyleBody:
		return "body"
	}
	return "unset"
}

// Provider describes an OAuth2 authorization server and its quirks. The
// presets in the mollie, qonto, stripe, gocardless and adyen packages
// return filled-in values; every field may be overridden (tests,
// sandboxes, proxies). Build a generic provider by filling the fields
// yourself.
//
// Header values are credentials (Qonto's staging token): fmt with any verb,
// log/slog and encoding/json show the header names with the values
// "[redacted]". A struct that embeds Provider inherits those methods and
// prints and marshals as the Provider alone.
type Provider struct {
	// Name identifies the provider in routes, cookies, stores and logs.
	// Required; it must match [a-z0-9_-]{1,32}. One redirect URL per
	// provider name.
	Name string
	// AuthURL is the authorization endpoint (RFC 6749 §3.1). Required.
	AuthURL string
	// TokenURL is the token endpoint (RFC 6749 §3.2). Required.
	TokenURL string
	// RevokeURL is the revocation endpoint (RFC 7009); empty when the
	// provider has none, in which case disconnecting only forgets the tokens.
	// Default "".
	RevokeURL string
	// RevokeMethod is the HTTP method for revocation. Default POST
	// (RFC 7009 §2.1); Mollie uses DELETE.
	RevokeMethod string
	// AuthStyle is the pinned client-authentication style. Required.
	AuthStyle AuthStyle
	// DefaultScopes are requested when Config.Scopes is empty. Default none.
	DefaultScopes []string
	// RequiredScopes are always added to the requested scopes (Qonto's
	// offline_access, without which no refresh token is issued). Default
	// none.
	RequiredScopes []string
	// PKCE sends an S256 code challenge (RFC 7636 §4.2) and the verifier at
	// exchange. Never "plain". Default false.
	PKCE bool
	// AllowedAuthParams lists the extra authorization parameters an app may
	// pass per request (Mollie approval_prompt and locale; Qonto organization_id
	// and registration_id). Any other extra parameter is an error. It must
	// not list a parameter oauthlink sets itself (response_type, client_id,
	// redirect_uri, scope, state, code_challenge, code_challenge_method) or
	// one AuthURL's query already carries: RFC 6749 §3.1 forbids a repeated
	// parameter, and a provider that takes the first of two scopes or
	// redirect URIs grants something other than what oauthlink checks.
	// Default none.
	AllowedAuthParams []string
	// Header holds extra headers sent on every server-side call (token,
	// revocation and API requests), e.g. Qonto's X-Qonto-Staging-Token.
	// Default none.
	Header http.Header
	// ResendRedirectURIOnRefresh resends the redirect_uri used at exchange
	// on every refresh (Mollie requires it when the exchange sent one).
	// Default false.
	ResendRedirectURIOnRefresh bool
	// RequireRefreshToken makes a code exchange without a refresh token an
	// error, for providers whose access tokens are short-lived (Mollie;
	// Qonto, where it means the offline_access scope was not granted).
	// Leave it unset for providers that issue long-lived access tokens and
	// no refresh token (GoCardless, Shopify offline tokens).
	// Default false.
	RequireRefreshToken bool
	// DefaultTokenLifetime is assumed when a token response that carries a
	// refresh token gives no usable expires_in (missing, zero, negative or
	// malformed), so the token is refreshed ahead of an expiry the provider
	// did not state. A response with neither expires_in nor a refresh token
	// is a long-lived token: Connection.Expiry stays zero and the token is
	// used until the provider's API rejects it (a 401 through
	// Connector.Client then marks the connection reauth_required); it is
	// never expired by guess. Default 1 hour.
	DefaultTokenLifetime time.Duration
	// MaxTokenLifetime caps an absurd expires_in. Default 90 days. A
	// provider that revokes a token earlier answers 401, which makes
	// Connector.Client refresh once.
	MaxTokenLifetime time.Duration
	// RotatesRefreshTokens reports that every refresh returns a new refresh
	// token and retires the old one (Qonto/Hydra). A refresh that got no
	// answer is then retried only inside RefreshGrace, since the provider
	// may already have rotated; and a refresh answered without a refresh
	// token drops the spent one (it is never sent again): the connection
	// works until its new access token expires, then is reauth_required.
	// Without rotation, a refresh answered without a refresh token keeps
	// the old one (RFC 6749 §6).
	// Default false.
	RotatesRefreshTokens bool
	// RefreshGrace is how long the provider accepts an already-rotated
	// refresh token (Qonto/Hydra: 60 s; 0 for no rotation grace). A refresh
	// whose result could not be saved is retried with the old token only
	// inside this window.
	RefreshGrace time.Duration
	// IdleLifetime is how long the provider keeps a refresh token nobody
	// uses (Qonto/Hydra: 90 days); a Keeper refreshes connections before
	// it runs out. Default 0: refresh tokens do not expire from disuse
	// (Mollie), and a Keeper only retries pending revocations.
	IdleLifetime time.Duration
	// Issuer is the authorization server's issuer identifier (RFC 9207).
	// When set, an iss parameter on the callback must equal it exactly.
	// Neither Mollie nor Qonto sends one today. Default "".
	Issuer string
	// IssuerRequired makes a callback without iss fail (for servers whose
	// metadata sets authorization_response_iss_parameter_supported).
	// Default false.
	IssuerRequired bool
	// AccountIDField names the member of the code exchange's token
	// response that carries the provider's id of the connected account
	// (Stripe "stripe_user_id", GoCardless "organisation_id"). When set,
	// its value becomes Connection.AccountID before Hooks.Identify runs,
	// so identifying the account needs no API call, and an exchange
	// whose response lacks it (or carries anything but 1 to 255
	// characters of [A-Za-z0-9._:-]) fails like any malformed token
	// response: the new grant is revoked and nothing is stored. Only that
	// member is read; the rest of the response stays in Connection.Extra,
	// redacted like the tokens, and is never logged. Refresh responses
	// are not read for it. Default "" (AccountID is left to
	// Hooks.Identify).
	AccountIDField string
	// AccessTokensDoNotExpire reports that the provider's access tokens
	// live until revoked (Stripe, GoCardless). A token response without
	// expires_in then gets a zero Connection.Expiry even when it carries
	// a refresh token, so the refresh token is spent only when the
	// provider rejects the access token (a 401 through Connector.Client)
	// or on Connector.ForceRefresh, never on a guessed schedule. A
	// response that does state expires_in is honoured. Without it, such
	// a response gets DefaultTokenLifetime. Default false.
	AccessTokensDoNotExpire bool
	// Revoke, when set, replaces the RFC 7009 request to RevokeURL for
	// providers whose revocation is not RFC 7009 (Stripe deauthorizes an
	// account with POST /oauth/deauthorize and stripe_user_id). It is
	// called wherever oauthlink revokes a grant: Disconnect, the grants a
	// reconnect replaced (Connection.Retired), a new grant whose save
	// failed, and fleet.Keeper's retries. It must return nil only when
	// the provider confirmed; any error keeps the grant recorded for a
	// retry (a disconnected record stays until Disconnect or a Keeper
	// succeeds). Return a *ProviderError for an error answer: a
	// Temporary one (429, 5xx) is retried with backoff honouring
	// RetryAfter, and Code "invalid_token" or "invalid_grant" counts as
	// already revoked. Any other error is retried like a network
	// failure. The call is bounded by Config.Tokens.ExchangeTimeout.
	// RevokeURL must be set (it is passed on in Revocation.URL), and
	// RevokeMethod is not used. Default nil (RFC 7009 at RevokeURL).
	Revoke func(ctx context.Context, r Revocation) error `json:"-"`
	// RevokesAccount reports that one revocation ends the provider's
	// whole authorization of an account, not one token (Stripe's
	// deauthorize): a reconnect to the same account then keeps one grant
	// and retires nothing (revoking the old grant would end the new
	// one), a grant of another account is retired with its AccountID, and
	// an account is revoked once per Disconnect however many of its
	// grants are listed. It requires Revoke and AccountIDField. Note
	// that two owners connected to one account share that authorization:
	// disconnecting either ends both. And a new grant that cannot be
	// stored is still revoked (a live grant is never left untracked),
	// which ends an older connection to the same account too: its next
	// API call is rejected and it becomes reauth_required. Default false.
	RevokesAccount bool
	// APIURL is the base URL of the provider's REST API, used by the
	// provider packages' helpers. Its origin (scheme, host and port) is the
	// only place Connector.Client sends the bearer token; a Connector
	// without it has a Client that refuses every request.
	// Default "" (Client then refuses every request).
	APIURL string
}

// reservedAuthParams are the authorization request parameters oauthlink
// sets itself. Neither Provider.AuthURL's query nor Provider.AllowedAuthParams may
// carry them: the request would repeat them (RFC 6749 §3.1), and which copy
// a server honours is up to the server.
var reservedAuthParams = []string{
	"response_type", "client_id", "redirect_uri", "scope", "state",
	"code_challenge", "code_challenge_method",
}

var providerName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// Validate reports the first problem with p, or nil.
func (p *Provider) validate() error {
	if !providerName.MatchString(p.Name) {
		return fmt.Errorf("%w: provider name %q must match [a-z0-9_-]{1,32}", ErrConfig, p.Name)
	}
	for _, u := range p.endpoints() {
		if u.v == "" && (u.name == "RevokeURL" || u.name == "APIURL") {
			continue
		}
		if err := checkEndpoint(u.v); err != nil {
			return fmt.Errorf("%w: provider %s %s: %v", ErrConfig, p.Name, u.name, err)
		}
	}
	if err := p.checkAuthParams(); err != nil {
		return err
	}
	switch p.AuthStyle {
	case AuthStyleBasic, AuthStyleBody:
	default:
		return fmt.Errorf("%w: provider %s: AuthStyle must be pinned to AuthStyleBasic or AuthStyleBody", ErrConfig, p.Name)
	}
	switch p.RevokeMethod {
	case "", http.MethodPost, http.MethodDelete:
	default:
		return fmt.Errorf("%w: provider %s: RevokeMethod must be POST or DELETE", ErrConfig, p.Name)
	}
	if p.Revoke != nil && p.RevokeURL == "" {
		return fmt.Errorf("%w: provider %s: Revoke needs RevokeURL, which it receives as Revocation.URL", ErrConfig, p.Name)
	}
	if p.RevokesAccount && (p.Revoke == nil || p.AccountIDField == "") {
		return fmt.Errorf("%w: provider %s: RevokesAccount needs Revoke and AccountIDField", ErrConfig, p.Name)
	}
	if p.AccountIDField != "" && (standardTokenMember(p.AccountIDField) || strings.TrimSpace(p.AccountIDField) != p.AccountIDField) {
		return fmt.Errorf("%w: provider %s: AccountIDField %q is not a provider-specific token response member", ErrConfig, p.Name, p.AccountIDField)
	}
	if p.DefaultTokenLifetime < 0 || p.MaxTokenLifetime < 0 || p.RefreshGrace < 0 || p.IdleLifetime < 0 {
		return fmt.Errorf("%w: provider %s: durations must not be negative", ErrConfig, p.Name)
	}
	return nil
}

// endpoints lists the provider's URLs by field name.
func (p *Provider) endpoints() []struct{ name, v string } {
	return []struct{ name, v string }{
		{"AuthURL", p.AuthURL}, {"TokenURL", p.TokenURL}, {"RevokeURL", p.RevokeURL}, {"APIURL", p.APIURL},
	}
}

// checkAuthParams refuses an authorization request that would carry a
// parameter twice: a reserved parameter in AuthURL's query or in
// AuthParams, or an AuthParams name AuthURL's query already sets.
func (p *Provider) checkAuthParams() error {
	u, err := url.Parse(p.AuthURL)
	if err != nil {
		return fmt.Errorf("%w: provider %s AuthURL: not a URL", ErrConfig, p.Name)
	}
	fixed, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fmt.Errorf("%w: provider %s AuthURL: malformed query", ErrConfig, p.Name)
	}
	for _, name := range reservedAuthParams {
		if fixed.Has(name) {
			return fmt.Errorf("%w: provider %s AuthURL: the query sets %q, which oauthlink sets itself (RFC 6749 §3.1 forbids repeating it)", ErrConfig, p.Name, name)
		}
	}
	for _, name := range p.AllowedAuthParams {
		switch {
		case name == "":
			return fmt.Errorf("%w: provider %s AuthParams: empty parameter name", ErrConfig, p.Name)
		case slices.Contains(reservedAuthParams, name):
			return fmt.Errorf("%w: provider %s AuthParams: %q is set by oauthlink and cannot be passed per request (RFC 6749 §3.1 forbids repeating it)", ErrConfig, p.Name, name)
		case fixed.Has(name):
			return fmt.Errorf("%w: provider %s AuthParams: %q is already set in AuthURL's query and would be repeated", ErrConfig, p.Name, name)
		}
	}
	return nil
}

// checkTransport refuses a plain-http endpoint unless insecure is set: the
// token and revocation endpoints receive the client secret, codes and
// refresh tokens, the authorization endpoint the state, and the API the
// bearer token.
func (p *Provider) checkTransport(insecure bool) error {
	if insecure {
		return nil
	}
	for _, e := range p.endpoints() {
		if u, err := url.Parse(e.v); err == nil && strings.EqualFold(u.Scheme, "http") {
			return fmt.Errorf("%w: provider %s %s must use https: over http the client secret, codes and tokens travel in clear (set AllowInsecureHTTP for local development)", ErrConfig, p.Name, e.name)
		}
	}
	return nil
}

func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("must be an absolute http(s) URL")
	}
	if u.User != nil || u.Fragment != "" {
		return fmt.Errorf("must not carry userinfo or a fragment")
	}
	return nil
}

// withDefaults returns a copy of p with defaults filled in and slices and
// headers copied, so the caller's later changes do not reach a running
// Connector.
func (p Provider) withDefaults() Provider {
	p.DefaultScopes = slices.Clone(p.DefaultScopes)
	p.RequiredScopes = slices.Clone(p.RequiredScopes)
	p.AllowedAuthParams = slices.Clone(p.AllowedAuthParams)
	p.Header = p.Header.Clone()
	if p.RevokeMethod == "" {
		p.RevokeMethod = http.MethodPost
	}
	if p.DefaultTokenLifetime == 0 {
		p.DefaultTokenLifetime = time.Hour
	}
	if p.MaxTokenLifetime == 0 {
		p.MaxTokenLifetime = 90 * 24 * time.Hour
	}
	return p
}

package oauthlinktest

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// MollieOptions configures NewMollie. The zero value is a working fake.
type MollieOptions struct {
	// ClientID is the app's client_id. Default "app_testOauthlinkFake01".
	// Mollie's SDKs refuse ids without the "app_" prefix.
	ClientID string
	// ClientSecret is the app's secret. Default "mollie-fake-secret".
	ClientSecret string
	// RedirectURIs are the registered redirect URLs (Mollie registers one
	// per app). A redirect_uri sent to the authorization endpoint must be
	// one of them; without one the first is used. Empty: any absolute
	// http(s) URL is accepted, and redirect_uri must then be sent.
	RedirectURIs []string
	// TLS serves HTTPS with httptest's certificate; Client trusts it.
	// Default plain HTTP.
	TLS bool
	// Now is the fake's clock, for code and token expiry. Default time.Now.
	Now func() time.Time
	// AccessTokenLifetime is the access tokens' lifetime and expires_in.
	// Default 1 hour.
	AccessTokenLifetime time.Duration
	// CodeLifetime is how long an authorization code can be exchanged.
	// Default 30 seconds, as at Mollie.
	CodeLifetime time.Duration
	// ConsentPage shows a sandbox consent page with Approve and Deny
	// buttons instead of approving automatically, for a human clicking
	// through a demo. Default false.
	ConsentPage bool
	// Scopes are the scopes the authorization endpoint accepts. Default
	// (nil): the OAuth scopes Mollie documents, so a typo such as
	// "onbording.write" or an organization-token-only permission such as
	// "clients.write" is refused with invalid_scope.
	Scopes []string
	// TokenContentType is the Content-Type of successful token answers
	// (whose body is JSON). Default "text/html", as Mollie's published
	// API description says; clients must parse JSON regardless.
	TokenContentType string
	// Onboarding is the onboarding state of newly created organizations.
	// Default status "completed", able to receive payments and settlements.
	Onboarding Onboarding
	// OrganizationToken is the partner's organization access token that
	// POST /v2/client-links requires as Bearer. Default
	// DefaultOrganizationToken.
	OrganizationToken string
	// BrowserHost, if set, replaces the host name (not the port) of the
	// links the fake hands out for a browser to open: client links and the
	// HAL dashboard and documentation links. A demo serves its app on
	// 127.0.0.1 and sets "localhost" here, so the client-link step is a
	// cross-site navigation, as Mollie's is. Default: the fake's own host.
	BrowserHost string
	// BeforeTokenResponse, if set, is called for every token request that
	// reached grant processing (success or OAuth error), after the grant
	// was processed and before the answer is written. It runs without the
	// fake's lock, so it may call the fake's methods.
	BeforeTokenResponse func(r *http.Request, grantType string)
}

// Mollie is a fake Mollie Connect server: the OAuth2 authorization, token
// and revocation endpoints at Mollie's paths (/oauth2/authorize,
// POST and DELETE /oauth2/tokens) and the API calls made after connecting
// (GET /v2/organizations/me, GET /v2/onboarding/me), and client links:
// POST /v2/client-links with the partner's organization token, and the
// client-link page, which behaves like the authorization endpoint for the
// organization the link creates (it needs RedirectURIs registered, since a
// client link carries no redirect_uri). Every method is safe
// for concurrent use. Close it when done.
type Mollie struct {
	*server
	opts  MollieOptions
	links map[string]*clientLink // guarded by server.mu
}

// NewMollie starts a fake Mollie server.
func NewMollie(opts MollieOptions) *Mollie {
	opts.ClientID = cmp.Or(opts.ClientID, "app_testOauthlinkFake01")
	opts.ClientSecret = cmp.Or(opts.ClientSecret, "mollie-fake-secret")
	opts.TokenContentType = cmp.Or(opts.TokenContentType, "text/html")
	opts.OrganizationToken = cmp.Or(opts.OrganizationToken, DefaultOrganizationToken)
	if opts.Onboarding.Status == "" {
		opts.Onboarding = Onboarding{Status: OnboardingCompleted, CanReceivePayments: true, CanReceiveSettlements: true}
	}
	opts.RedirectURIs = slices.Clone(opts.RedirectURIs)
	cfg := config{
		name: "mollie", title: "Mollie",
		authPath: "/oauth2/authorize", tokenPath: "/oauth2/tokens", revokePath: "/oauth2/tokens",
		clientID: opts.ClientID, clientSecret: opts.ClientSecret, redirectURIs: opts.RedirectURIs,
		now:            opts.Now,
		accessLifetime: durationOr(opts.AccessTokenLifetime, time.Hour),
		codeLifetime:   durationOr(opts.CodeLifetime, 30*time.Second),
		consentPage:    opts.ConsentPage,
		allowedScopes:  scopeSet(opts.Scopes, mollieScopes),
		newCode:        func() string { return "auth_" + randomAlnum(30) },
		newAccess:      func() string { return "access_" + randomAlnum(40) },
		newRefresh:     func() string { return "refresh_" + randomAlnum(40) },
		newAccount: func(n int) *account {
			return &account{id: fmt.Sprintf("org_%d", n), name: fmt.Sprintf("Test Organization %d", n),
				email: fmt.Sprintf("merchant%d@example.test", n), locale: "en_US", onboarding: opts.Onboarding}
		},
		beforeTokenResponse: opts.BeforeTokenResponse,
	}
	m := &Mollie{server: newServer(cfg, opts.TLS), opts: opts, links: map[string]*clientLink{}}
	m.handle("POST /oauth2/tokens", EndpointToken, m.token)
	m.handle("DELETE /oauth2/tokens", EndpointRevoke, m.revoke)
	m.handle("GET /v2/organizations/me", EndpointAPI, m.organization)
	m.handle("GET /v2/onboarding/me", EndpointAPI, m.onboarding)
	m.handle("POST /v2/client-links", EndpointAPI, m.createClientLink)
	m.handle("GET /v2/client-links/{id}", EndpointAPI, m.getClientLink)
	m.handle("GET /dashboard/client-link/{id}", EndpointAuthorize, m.clientLinkPage)
	return m
}

// token serves POST /oauth2/tokens: Basic or body credentials, a form or
// JSON body.
func (m *Mollie) token(w http.ResponseWriter, r *http.Request) {
	params, oerr := readParams(r, true)
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	m.countPresented(params)
	if oerr := m.authenticateClient(EndpointToken, r, params, true); oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	grantType := params["grant_type"]
	var resp tokenResponse
	m.mu.Lock()
	switch grantType {
	case "":
		oerr = badRequest("invalid_request", "The 'grant_type' parameter is required.")
	case "authorization_code":
		var g *grant
		if g, oerr = m.exchangeLocked(params); oerr == nil {
			resp = m.tokenResponse(g, "", "")
			resp.AccessToken, resp.RefreshToken = m.issueLocked(g, true)
		}
	case "refresh_token":
		resp, oerr = m.refreshLocked(params)
	default:
		oerr = badRequest("unsupported_grant_type", "The grant_type must be authorization_code or refresh_token.")
	}
	m.mu.Unlock()
	m.beforeResponse(r, grantType)
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	writeJSON(w, http.StatusOK, m.opts.TokenContentType, resp)
}

// refreshLocked: Mollie's refresh tokens do not rotate and do not expire;
// redirect_uri is required when the code exchange sent one. m.mu must be
// held.
func (m *Mollie) refreshLocked(params map[string]string) (tokenResponse, *oauthError) {
	m.refreshes++
	value := params["refresh_token"]
	if value == "" {
		return tokenResponse{}, badRequest("invalid_request", "The 'refresh_token' parameter is required.")
	}
	rt := m.refresh[value]
	if rt == nil || rt.revoked {
		return tokenResponse{}, invalidGrant("The refresh token is invalid or has been revoked.")
	}
	g := rt.grant
	redirect, sent := params["redirect_uri"]
	switch {
	case g.exchangeRedirect != "" && !sent:
		return tokenResponse{}, badRequest("invalid_request", "The 'redirect_uri' parameter is required because the code exchange included it.")
	case sent && redirect != g.redirect:
		return tokenResponse{}, invalidGrant("The 'redirect_uri' does not match the one used for the code exchange.")
	}
	access, _ := m.issueLocked(g, false)
	return m.tokenResponse(g, access, value), nil
}

// revoke serves DELETE /oauth2/tokens: token and token_type_hint in a form
// or JSON body; 204. Revoking a refresh token revokes every access token of
// its authorization; revoking an access token revokes only that one.
func (m *Mollie) revoke(w http.ResponseWriter, r *http.Request) {
	params, oerr := readParams(r, true)
	if oerr == nil {
		oerr = m.authenticateClient(EndpointRevoke, r, params, true)
	}
	if oerr == nil && params["token"] == "" {
		oerr = badRequest("invalid_request", "The 'token' parameter is required.")
	}
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	value := params["token"]
	m.mu.Lock()
	m.revocations++
	if t := m.refresh[value]; t != nil {
		t.grant.revokeAll()
	} else if t := m.access[value]; t != nil {
		t.revoked = true
	}
	m.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func durationOr(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

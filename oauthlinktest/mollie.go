package oauthlinktest

import (
	"cmp"
	"fmt"
	"net"
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
	// Listener, if set, is where the fake serves (it then owns and closes
	// it), e.g. a fixed port a demo's browser can find again after a
	// restart. Default: a random loopback port.
	Listener net.Listener
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
		// Basic or body credentials, a form or JSON body; refresh tokens
		// that neither rotate nor expire; revoking an access token
		// revokes only that one.
		token: tokenEndpoint{basicAuth: true, jsonBody: true, contentType: opts.TokenContentType,
			refreshRedirect: true, revokeMethod: http.MethodDelete, revokeStatus: http.StatusNoContent},
		beforeTokenResponse: opts.BeforeTokenResponse,
		listener:            opts.Listener,
	}
	m := &Mollie{server: newServer(cfg, opts.TLS), opts: opts, links: map[string]*clientLink{}}
	m.handle("GET /v2/organizations/me", EndpointAPI, m.organization)
	m.handle("GET /v2/onboarding/me", EndpointAPI, m.onboarding)
	m.handle("POST /v2/client-links", EndpointAPI, m.createClientLink)
	m.handle("GET /v2/client-links/{id}", EndpointAPI, m.getClientLink)
	m.handle("GET /dashboard/client-link/{id}", EndpointAuthorize, m.clientLinkPage)
	return m
}

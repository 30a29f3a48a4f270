package oauthlinktest

import (
	"cmp"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"
)

// StagingHeader is the header Qonto's sandbox requires on every
// server-side call, with the developer's staging token.
const StagingHeader = "X-Qonto-Staging-Token"

// NoGrace, as QontoOptions.Grace, disables the refresh-token grace window:
// a rotated refresh token presented again at once revokes the grant.
const NoGrace time.Duration = -1

// QontoOptions configures NewQonto. The zero value is a working fake.
type QontoOptions struct {
	// ClientID is the app's client_id, a UUID. Default
	// "6f1c1e0a-2d4b-4c8e-9a57-0a1b2c3d4e5f".
	ClientID string
	// ClientSecret is the app's secret. Default "qonto-fake-secret".
	ClientSecret string
	// RedirectURIs are the registered redirect URLs; redirect_uri is
	// required and must be one of them. Empty: any absolute http(s) URL.
	RedirectURIs []string
	// TLS serves HTTPS with httptest's certificate; Client trusts it.
	// Default plain HTTP.
	TLS bool
	// Now is the fake's clock, for code, token and grace expiry. Default
	// time.Now.
	Now func() time.Time
	// AccessTokenLifetime is the access tokens' lifetime and expires_in.
	// Default 1 hour.
	AccessTokenLifetime time.Duration
	// CodeLifetime is how long an authorization code can be exchanged.
	// Default 10 minutes.
	CodeLifetime time.Duration
	// RefreshTokenLifetime is how long a refresh token can be used.
	// Default 90 days.
	RefreshTokenLifetime time.Duration
	// Grace is how long a rotated refresh token stays usable after its
	// first use (Hydra's graceful refresh). Default 60 seconds; NoGrace
	// (any negative value) for none.
	Grace time.Duration
	// ConsentPage shows a sandbox consent page with Approve and Deny
	// buttons instead of approving automatically. Default false.
	ConsentPage bool
	// Scopes are the scopes the authorization endpoint accepts. Default
	// (nil): the scopes Qonto documents.
	Scopes []string
	// StagingToken, when set, makes the fake behave like Qonto's sandbox:
	// every token, revocation and API request without StagingHeader set
	// to this value gets 200 with an HTML login page instead of JSON.
	// Default "" (production behaviour).
	StagingToken string
	// RequirePKCE refuses authorization requests without an S256
	// code_challenge (Qonto does not document PKCE, so it is optional by
	// default; a challenge that is sent is always enforced).
	RequirePKCE bool
	// BeforeTokenResponse, if set, is called for every token request that
	// reached grant processing (success or OAuth error), after the grant
	// was processed (a refresh token already rotated) and before the
	// answer is written. It runs without the fake's lock.
	BeforeTokenResponse func(r *http.Request, grantType string)
	// Listener, if set, is where the fake serves (it then owns and closes
	// it), e.g. a fixed port a demo's browser can find again after a
	// restart. Default: a random loopback port.
	Listener net.Listener
	// WebhookClient sends the fake's webhook deliveries (RevokeConsent,
	// DeliverConsentRevocation) to the subscriptions' callback URLs; for an
	// httptest TLS app, its Client(). Default http.DefaultClient.
	WebhookClient *http.Client
}

// Qonto is a fake Qonto OAuth server, which is Ory Hydra: the
// authorization endpoint /oauth2/auth, the token endpoint POST /oauth2/token
// with Hydra's refresh-token rotation, grace window and reuse detection,
// RFC 7009 revocation at POST /oauth2/revoke, GET /v2/organization, and
// webhook subscriptions (POST /v2/webhook_subscriptions) with signed
// consent revocations (RevokeConsent). Every method is safe for concurrent use. Close it when done.
type Qonto struct {
	*server
	opts     QontoOptions
	webhooks qontoWebhooks
}

// NewQonto starts a fake Qonto server.
func NewQonto(opts QontoOptions) *Qonto {
	opts.ClientID = cmp.Or(opts.ClientID, "6f1c1e0a-2d4b-4c8e-9a57-0a1b2c3d4e5f")
	opts.ClientSecret = cmp.Or(opts.ClientSecret, "qonto-fake-secret")
	opts.RedirectURIs = slices.Clone(opts.RedirectURIs)
	grace := opts.Grace
	switch {
	case grace == 0:
		grace = time.Minute
	case grace < 0:
		grace = 0
	}
	cfg := config{
		name: "qonto", title: "Qonto",
		authPath: "/oauth2/auth", tokenPath: "/oauth2/token", revokePath: "/oauth2/revoke",
		clientID: opts.ClientID, clientSecret: opts.ClientSecret, redirectURIs: opts.RedirectURIs,
		now:             opts.Now,
		accessLifetime:  durationOr(opts.AccessTokenLifetime, time.Hour),
		codeLifetime:    durationOr(opts.CodeLifetime, 10*time.Minute),
		refreshLifetime: durationOr(opts.RefreshTokenLifetime, 90*24*time.Hour),
		consentPage:     opts.ConsentPage,
		allowedScopes:   scopeSet(opts.Scopes, qontoScopes),
		requireRedirect: true,
		minState:        8,
		grace:           grace,
		requirePKCE:     opts.RequirePKCE,
		stagingToken:    opts.StagingToken,
		newCode:         func() string { return randomHydra("ory_ac_") },
		newAccess:       func() string { return randomHydra("ory_at_") },
		newRefresh:      func() string { return randomHydra("ory_rt_") },
		newAccount: func(n int) *account {
			id := newUUID()
			return &account{id: id, name: fmt.Sprintf("Sandbox Company %d", n),
				slug: fmt.Sprintf("sandbox-company-%d-%s", n, id[:4]), locale: "fr"}
		},
		// Form bodies with body credentials only; a refresh token only
		// with offline_access, rotated by Hydra's rules; revoking either
		// token revokes the whole grant, as fosite does.
		token: tokenEndpoint{contentType: "application/json;charset=UTF-8",
			refreshScope: "offline_access", idTokenScope: "openid", rotate: true,
			revokeMethod: http.MethodPost, revokeStatus: http.StatusOK, revokeGrant: true},
		beforeTokenResponse: opts.BeforeTokenResponse,
		listener:            opts.Listener,
		// Hydra publishes OpenID Connect discovery, not the RFC 8414
		// location.
		metadataPath: "/.well-known/openid-configuration",
	}
	q := &Qonto{server: newServer(cfg, opts.TLS), opts: opts}
	q.handle("GET /v2/organization", EndpointAPI, q.organization)
	q.handle("POST /v2/webhook_subscriptions", EndpointAPI, q.createWebhookSubscription)
	return q
}

// Issuer returns the fake's issuer identifier, its URL (the iss of its ID
// tokens). Pass it to discovery.Provider or discovery.Fetch.
func (q *Qonto) Issuer() string { return q.issuer() }

// MetadataURL returns where the fake serves its metadata: Hydra's OpenID
// Connect discovery document, /.well-known/openid-configuration, with the
// RFC 8414 members the fake honours (see the package documentation).
// Requests count as EndpointMetadata and take its faults; with
// StagingToken they need the staging header like every server-side call.
func (q *Qonto) MetadataURL() string { return q.metadataURL() }

// Grace returns the effective refresh-token grace window (0 with NoGrace).
func (q *Qonto) Grace() time.Duration { return q.cfg.grace }

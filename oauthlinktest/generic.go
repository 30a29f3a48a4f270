package oauthlinktest

import (
	"cmp"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The client authentication methods a Generic fake can accept
// (GenericOptions.AuthMethods), by their RFC 8414 names.
const (
	// AuthMethodBasic is client_secret_basic: HTTP Basic credentials.
	AuthMethodBasic = "client_secret_basic"
	// AuthMethodPost is client_secret_post: client_id and client_secret
	// in the form body.
	AuthMethodPost = "client_secret_post"
)

// GenericOptions configures NewGeneric. The zero value is a working fake.
type GenericOptions struct {
	// ClientID is the app's client_id. Default "oauthlinktest-client".
	ClientID string
	// ClientSecret is the app's secret. Default "oauthlinktest-secret".
	ClientSecret string
	// RedirectURIs are the registered redirect URLs; redirect_uri is
	// required and must be one of them. Empty: any absolute http(s) URL.
	RedirectURIs []string
	// TLS serves HTTPS with httptest's certificate; Client trusts it.
	// Default plain HTTP.
	TLS bool
	// Now is the fake's clock. Default time.Now.
	Now func() time.Time
	// AccessTokenLifetime is the access tokens' lifetime and expires_in.
	// Default 1 hour.
	AccessTokenLifetime time.Duration
	// CodeLifetime is how long an authorization code can be exchanged.
	// Default 10 minutes.
	CodeLifetime time.Duration
	// Scopes are the scopes the authorization endpoint accepts (a scope
	// is required) and the metadata lists. Default "read" and "write".
	Scopes []string
	// ConsentPage shows Approve and Deny buttons instead of approving
	// automatically. Default false.
	ConsentPage bool
	// IssuerPath is the path of the issuer identifier, e.g. "/tenant":
	// the issuer is then URL()+"/tenant", the metadata is served at
	// /.well-known/oauth-authorization-server/tenant (RFC 8414 §3.1) and
	// the endpoints live under /tenant. It must start with "/" and not
	// end with one. Default "": the issuer is URL().
	IssuerPath string
	// AuthMethods are the client authentication methods the token and
	// revocation endpoints accept, AuthMethodBasic and AuthMethodPost
	// (at least one; NewGeneric panics on any other). Default both.
	AuthMethods []string
	// RequirePKCE refuses authorization requests without an S256
	// code_challenge. Without it PKCE is optional, but a challenge that
	// is sent is always enforced, and "plain" is always refused.
	RequirePKCE bool
	// IssuerParameter adds iss, the issuer, to every authorization
	// response, success or error (RFC 9207), and the metadata says so
	// (authorization_response_iss_parameter_supported). Default false.
	IssuerParameter bool
	// NoRevocation serves no revocation endpoint. Default: RFC 7009 POST
	// revocation at /revoke (200; revoking a refresh token revokes its
	// grant, revoking an access token only that token).
	NoRevocation bool
	// RotateRefreshTokens makes every refresh return a new refresh token
	// and retire the one used; presenting a retired one again revokes the
	// whole grant. Default false: refresh tokens are reusable.
	RotateRefreshTokens bool
	// BeforeTokenResponse, if set, is called for every token request that
	// reached grant processing, after the grant was processed and before
	// the answer is written. It runs without the fake's lock.
	BeforeTokenResponse func(r *http.Request, grantType string)
	// Listener, if set, is where the fake serves (it then owns and closes
	// it). Default: a random loopback port.
	Listener net.Listener
}

// Generic is a fake standards-following OAuth 2.0 authorization server
// that publishes RFC 8414 metadata, for testing a client configured by
// discovery (package discovery) or by hand against a strict server: the
// authorization endpoint {IssuerPath}/authorize (response_type=code, a
// state and a scope required, S256 PKCE), the token endpoint POST
// {IssuerPath}/token (form body; the authorization_code and refresh_token
// grants; the client authentication of AuthMethods only; single-use codes
// bound to the redirect_uri and the PKCE verifier), RFC 7009 revocation at
// POST {IssuerPath}/revoke unless NoRevocation, and the metadata document
// at MetadataURL. Every method is safe for concurrent use. Close it when
// done.
type Generic struct {
	*server
	opts GenericOptions
}

// NewGeneric starts a fake authorization server. It panics on an invalid
// IssuerPath or AuthMethods.
func NewGeneric(opts GenericOptions) *Generic {
	opts.ClientID = cmp.Or(opts.ClientID, "oauthlinktest-client")
	opts.ClientSecret = cmp.Or(opts.ClientSecret, "oauthlinktest-secret")
	opts.RedirectURIs = slices.Clone(opts.RedirectURIs)
	if p := opts.IssuerPath; p != "" && (!strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.ContainsAny(p, "?#")) {
		panic(fmt.Sprintf("oauthlinktest: GenericOptions.IssuerPath %q must start with / and not end with one", p))
	}
	if opts.AuthMethods == nil {
		opts.AuthMethods = []string{AuthMethodBasic, AuthMethodPost}
	}
	opts.AuthMethods = slices.Clone(opts.AuthMethods)
	if len(opts.AuthMethods) == 0 {
		panic("oauthlinktest: GenericOptions.AuthMethods is empty")
	}
	for _, m := range opts.AuthMethods {
		if m != AuthMethodBasic && m != AuthMethodPost {
			panic(fmt.Sprintf("oauthlinktest: GenericOptions.AuthMethods: %q is not AuthMethodBasic or AuthMethodPost", m))
		}
	}
	base := opts.IssuerPath
	cfg := config{
		name: "generic", title: "OAuth",
		authPath: base + "/authorize", tokenPath: base + "/token",
		clientID: opts.ClientID, clientSecret: opts.ClientSecret, redirectURIs: opts.RedirectURIs,
		now:             opts.Now,
		accessLifetime:  durationOr(opts.AccessTokenLifetime, time.Hour),
		codeLifetime:    durationOr(opts.CodeLifetime, 10*time.Minute),
		consentPage:     opts.ConsentPage,
		allowedScopes:   scopeSet(opts.Scopes, []string{"read", "write"}),
		requireRedirect: true,
		requirePKCE:     opts.RequirePKCE,
		newCode:         func() string { return randomAlnum(32) },
		newAccess:       func() string { return randomAlnum(40) },
		newRefresh:      func() string { return randomAlnum(40) },
		newAccount: func(n int) *account {
			return &account{id: fmt.Sprintf("user-%d", n), name: fmt.Sprintf("Test User %d", n)}
		},
		token: tokenEndpoint{
			basicAuth:    slices.Contains(opts.AuthMethods, AuthMethodBasic),
			noBodyAuth:   !slices.Contains(opts.AuthMethods, AuthMethodPost),
			contentType:  "application/json",
			rotate:       opts.RotateRefreshTokens,
			revokeMethod: http.MethodPost, revokeStatus: http.StatusOK,
		},
		beforeTokenResponse: opts.BeforeTokenResponse,
		listener:            opts.Listener,
		issuerPath:          opts.IssuerPath,
		metadataPath:        "/.well-known/oauth-authorization-server" + opts.IssuerPath,
		issParam:            opts.IssuerParameter,
	}
	if !opts.NoRevocation {
		cfg.revokePath = base + "/revoke"
	}
	return &Generic{server: newServer(cfg, opts.TLS), opts: opts}
}

// Issuer returns the fake's issuer identifier: URL() followed by
// IssuerPath. Pass it to discovery.Provider or discovery.Fetch.
func (g *Generic) Issuer() string { return g.issuer() }

// MetadataURL returns where the fake serves its RFC 8414 metadata: the
// well-known path inserted between host and IssuerPath (RFC 8414 §3.1).
// Requests count as EndpointMetadata and take its faults.
func (g *Generic) MetadataURL() string { return g.metadataURL() }

// RevokeURL returns the revocation endpoint's URL, or "" with
// NoRevocation.
func (g *Generic) RevokeURL() string {
	if g.cfg.revokePath == "" {
		return ""
	}
	return g.server.RevokeURL()
}

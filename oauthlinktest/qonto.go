package oauthlinktest

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
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
}

// Qonto is a fake Qonto OAuth server, which is Ory Hydra: the
// authorization endpoint /oauth2/auth, the token endpoint POST /oauth2/token
// with Hydra's refresh-token rotation, grace window and reuse detection,
// RFC 7009 revocation at POST /oauth2/revoke, and GET /v2/organization.
// Every method is safe for concurrent use. Close it when done.
type Qonto struct {
	*server
	opts QontoOptions
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
		beforeTokenResponse: opts.BeforeTokenResponse,
	}
	q := &Qonto{server: newServer(cfg, opts.TLS), opts: opts}
	q.handle("POST /oauth2/token", EndpointToken, q.token)
	q.handle("POST /oauth2/revoke", EndpointRevoke, q.revoke)
	q.handle("GET /v2/organization", EndpointAPI, q.organization)
	return q
}

// Grace returns the effective refresh-token grace window (0 with NoGrace).
func (q *Qonto) Grace() time.Duration { return q.cfg.grace }

// token serves POST /oauth2/token: form body, body credentials only.
func (q *Qonto) token(w http.ResponseWriter, r *http.Request) {
	params, oerr := readParams(r, false)
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	q.countPresented(params)
	if oerr := q.authenticateClient(EndpointToken, r, params, false); oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	grantType := params["grant_type"]
	var resp tokenResponse
	q.mu.Lock()
	switch grantType {
	case "":
		oerr = badRequest("invalid_request", "The 'grant_type' parameter is required.")
	case "authorization_code":
		var g *grant
		if g, oerr = q.exchangeLocked(params); oerr == nil {
			resp = q.tokenResponse(g, "", "")
			resp.AccessToken, resp.RefreshToken = q.issueLocked(g, g.hasScope("offline_access"))
			if g.hasScope("openid") {
				resp.IDToken = q.idToken(g)
			}
		}
	case "refresh_token":
		resp, oerr = q.refreshLocked(params)
	default:
		oerr = badRequest("unsupported_grant_type", "The grant_type must be authorization_code or refresh_token.")
	}
	q.mu.Unlock()
	q.beforeResponse(r, grantType)
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	writeJSON(w, http.StatusOK, "application/json;charset=UTF-8", resp)
}

// refreshLocked applies Hydra's rules (fosite flow_refresh.go): every
// refresh rotates both tokens and revokes the access token issued with the
// used refresh token; the used refresh token stays valid for the grace
// window; presenting it later, or presenting a revoked one, revokes the
// whole grant. q.mu must be held.
func (q *Qonto) refreshLocked(params map[string]string) (tokenResponse, *oauthError) {
	q.refreshes++
	value := params["refresh_token"]
	if value == "" {
		return tokenResponse{}, badRequest("invalid_request", "The 'refresh_token' parameter is required.")
	}
	rt := q.refresh[value]
	now := q.now()
	switch {
	case rt == nil:
		return tokenResponse{}, invalidGrant("The refresh token is malformed or not valid.")
	case rt.revoked || (!rt.usedAt.IsZero() && !now.Before(rt.usedAt.Add(q.cfg.grace))):
		rt.grant.revokeAll()
		q.reuses++
		return tokenResponse{}, invalidGrant("The refresh token was already used.")
	case rt.expired(now):
		return tokenResponse{}, invalidGrant("The refresh token expired.")
	}
	if rt.usedAt.IsZero() {
		rt.usedAt = now
		rt.access.revoked = true
	}
	g := rt.grant
	access, refresh := q.issueLocked(g, true)
	return q.tokenResponse(g, access, refresh), nil
}

// idToken returns an ID-token-shaped JWT. Its signature is random: it
// cannot be verified and is only there to be carried along.
func (q *Qonto) idToken(g *grant) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	now := q.now()
	claims := map[string]any{"iss": q.URL(), "sub": g.account.id, "aud": []string{g.clientID},
		"iat": now.Unix(), "exp": now.Add(q.cfg.accessLifetime).Unix()}
	return enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "oauthlinktest"}) + "." +
		enc(claims) + "." + randomAlnum(43)
}

// revoke serves POST /oauth2/revoke (RFC 7009 §2.1): form body, body
// credentials; 200 even for an unknown token (§2.2). Revoking either token
// revokes the whole grant, as fosite does.
func (q *Qonto) revoke(w http.ResponseWriter, r *http.Request) {
	params, oerr := readParams(r, false)
	if oerr == nil {
		oerr = q.authenticateClient(EndpointRevoke, r, params, false)
	}
	if oerr == nil && params["token"] == "" {
		oerr = badRequest("invalid_request", "The 'token' parameter is required.")
	}
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	value := params["token"]
	q.mu.Lock()
	q.revocations++
	if t := q.refresh[value]; t != nil {
		t.grant.revokeAll()
	} else if t := q.access[value]; t != nil {
		t.grant.revokeAll()
	}
	q.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

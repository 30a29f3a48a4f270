package oauthlinktest

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/internal/webhooksig"
	"github.com/oauthlink/oauthlink/stripe"
)

// StripeOptions configures NewStripe. The zero value is a working fake.
type StripeOptions struct {
	// ClientID is the platform's client_id. Default "ca_oauthlinkTestPlatform01".
	ClientID string
	// SecretKey is the platform's secret API key, the client secret.
	// Default "sk_test_oauthlinkFakePlatformKey".
	SecretKey string
	// RedirectURIs are the redirect URIs registered in the platform
	// settings. A redirect_uri sent must be one of them; without one the
	// first is used. Empty: any absolute http(s) URL, which must then be
	// sent.
	RedirectURIs []string
	// TLS serves HTTPS with httptest's certificate; Client trusts it.
	TLS bool
	// Now is the fake's clock. Default time.Now.
	Now func() time.Time
	// CodeLifetime is how long an authorization code can be exchanged.
	// Default 5 minutes (Stripe documents that codes expire, not when).
	CodeLifetime time.Duration
	// ConsentPage shows Approve and Deny buttons instead of approving
	// automatically. Default false.
	ConsentPage bool
	// WebhookURL and WebhookSecret are the platform's Connect webhook
	// endpoint and its signing secret (whsec_…), as set in the Stripe
	// Dashboard: UserDeauthorizes and DeliverDeauthorized send there.
	WebhookURL, WebhookSecret string
	// WebhookClient sends the webhook deliveries; for an httptest TLS
	// app, its Client(). Default http.DefaultClient.
	WebhookClient *http.Client
}

// Stripe is a fake Stripe Connect OAuth server for Standard accounts, as
// package stripe documents it: GET /oauth/authorize (scope read_write or
// read_only, stripe_landing login or register, always_prompt true or
// false, stripe_user[…] prefill; the Express-only suggested_capabilities
// is refused), POST /oauth/token (form body, the secret
// key as client_secret or as the Basic user name and nothing else, single-use
// codes, refresh tokens that rotate, answers without expires_in carrying
// stripe_user_id, livemode and stripe_publishable_key, access tokens that
// never expire), POST /oauth/deauthorize (client_id and stripe_user_id,
// the secret key as the Basic user name or a Bearer token; it ends every
// grant of the account; an account not connected answers 401
// invalid_client) and GET /v1/account with an access token. Errors are RFC
// 6749 §5.2 JSON. UserDeauthorizes plays a user who disconnects the
// platform in their Dashboard and sends the signed
// account.application.deauthorized webhook to StripeOptions.WebhookURL. Every method is safe for concurrent use. Close it when
// done.
type Stripe struct {
	*server
	opts StripeOptions
}

// NewStripe starts a fake Stripe Connect server.
func NewStripe(opts StripeOptions) *Stripe {
	opts.ClientID = cmp.Or(opts.ClientID, "ca_oauthlinkTestPlatform01")
	opts.SecretKey = cmp.Or(opts.SecretKey, "sk_test_oauthlinkFakePlatformKey")
	opts.RedirectURIs = slices.Clone(opts.RedirectURIs)
	cfg := config{
		name: "stripe", title: "Stripe",
		authPath: "/oauth/authorize", tokenPath: "/oauth/token", revokePath: "/oauth/deauthorize",
		clientID: opts.ClientID, clientSecret: opts.SecretKey, redirectURIs: opts.RedirectURIs,
		now:              opts.Now,
		accessLifetime:   time.Hour, // replaced: Stripe access tokens never expire
		codeLifetime:     durationOr(opts.CodeLifetime, 5*time.Minute),
		consentPage:      opts.ConsentPage,
		allowedScopes:    scopeSet(nil, []string{stripe.ScopeReadWrite, stripe.ScopeReadOnly}),
		newCode:          func() string { return "ac_" + randomAlnum(32) },
		newAccess:        func() string { return "sk_test_" + randomAlnum(40) },
		newRefresh:       func() string { return "rt_" + randomAlnum(40) },
		newAccount:       func(int) *account { return &account{id: "acct_" + randomAlnum(16), name: "Test Stripe account"} },
		ownTokenEndpoint: true,
		checkExtra:       checkStripeParams,
	}
	st := &Stripe{server: newServer(cfg, opts.TLS), opts: opts}
	st.handle("POST /oauth/token", EndpointToken, st.token)
	st.handle("POST /oauth/deauthorize", EndpointRevoke, st.deauthorize)
	st.handle("GET /v1/account", EndpointAPI, st.account)
	return st
}

// Provider returns stripe.Provider with every URL pointing at the fake.
func (st *Stripe) Provider() oauthlink.Provider {
	p := stripe.Provider()
	p.AuthURL, p.TokenURL, p.RevokeURL, p.APIURL = st.AuthURL(), st.TokenURL(), st.RevokeURL(), st.APIURL()
	return p
}

// checkStripeParams refuses the documented parameters with values Stripe
// does not define, suggested_capabilities (documented for Express
// accounts only, whose flow starts at /express/oauth/authorize), and
// parameters Stripe does not document.
func checkStripeParams(extra url.Values) (code, desc string) {
	for k, v := range extra {
		switch {
		case k == "suggested_capabilities[]", k == "suggested_capabilities":
			return "invalid_request", "suggested_capabilities applies only to Express accounts (/express/oauth/authorize)."
		case k == stripe.ParamStripeLanding && (len(v) != 1 || v[0] != "login" && v[0] != "register"):
			return "invalid_request", "stripe_landing must be login or register."
		case k == stripe.ParamAlwaysPrompt && (len(v) != 1 || v[0] != "true" && v[0] != "false"):
			return "invalid_request", "always_prompt must be true or false."
		case k == stripe.ParamStripeLanding, k == stripe.ParamAlwaysPrompt:
		case strings.HasPrefix(k, stripe.ParamPrefix) && strings.HasSuffix(k, "]") &&
			slices.Contains(stripe.PrefillFields, strings.TrimSuffix(strings.TrimPrefix(k, stripe.ParamPrefix), "]")):
		default:
			return "invalid_request", "Unknown parameter: " + k
		}
	}
	return "", ""
}

// authenticate checks the platform's secret key: as client_secret in the
// body (with client_id, if sent, the platform's), or as the user name of
// Basic credentials with an empty password, or as a Bearer token when
// allowBearer. Exactly one of them. It records the style (a Bearer key
// counts as ClientAuthBasic).
func (st *Stripe) authenticate(e Endpoint, r *http.Request, params map[string]string, allowBearer bool) *oauthError {
	user, pass, basic := r.BasicAuth()
	scheme, bearerKey, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	bearer := allowBearer && strings.EqualFold(scheme, "Bearer")
	_, body := params["client_secret"]
	style := ClientAuthNone
	switch {
	case (basic || bearer) && body:
		style = ClientAuthBoth
	case basic || bearer:
		style = ClientAuthBasic
	case body:
		style = ClientAuthBody
	}
	st.mu.Lock()
	st.auths[e] = append(st.auths[e], style)
	st.mu.Unlock()
	fail := &oauthError{status: http.StatusUnauthorized, code: "invalid_client"}
	key := func(v string) bool {
		return subtle.ConstantTimeCompare([]byte(v), []byte(st.opts.SecretKey)) == 1
	}
	switch {
	case style == ClientAuthNone:
		fail.desc = "No API key provided."
	case style == ClientAuthBoth:
		fail.code, fail.status, fail.desc = "invalid_request", http.StatusBadRequest, "Provide the secret key once: as client_secret or as the API key, not both."
	case basic && (!key(user) || pass != ""):
		fail.desc = "Invalid API Key provided."
	case bearer && !key(bearerKey):
		fail.desc = "Invalid API Key provided."
	case body && !key(params["client_secret"]):
		fail.desc = "Invalid API Key provided."
	case body && params["client_id"] != "" && params["client_id"] != st.opts.ClientID:
		fail.desc = "The client_id does not belong to this platform."
	default:
		return nil
	}
	return fail
}

// token serves POST /oauth/token.
func (st *Stripe) token(w http.ResponseWriter, r *http.Request) {
	params, oerr := readParams(r, false)
	if oerr == nil {
		st.countPresented(params)
		oerr = st.authenticate(EndpointToken, r, params, false)
	}
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	st.mu.Lock()
	var g *grant
	var access, refresh string
	switch params["grant_type"] {
	case "authorization_code":
		if g, oerr = st.exchangeLocked(params); oerr == nil {
			access, refresh = st.issueLocked(g, true)
		}
	case "refresh_token":
		g, access, refresh, oerr = st.refreshLocked(params)
	case "":
		oerr = badRequest("invalid_request", "No grant type specified.")
	default:
		oerr = badRequest("unsupported_grant_type", "Unsupported grant type: only authorization_code and refresh_token are supported.")
	}
	var resp map[string]any
	if oerr == nil {
		st.access[access].expires = time.Time{} // Stripe access tokens do not expire
		scope := cmp.Or(params["scope"], strings.Join(g.scopes, " "))
		resp = map[string]any{
			"access_token": access, "refresh_token": refresh, "token_type": "bearer",
			"scope": scope, "livemode": false,
			"stripe_user_id": g.account.id, "stripe_publishable_key": "pk_test_" + randomAlnum(24),
		}
	}
	st.mu.Unlock()
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", resp)
}

// refreshLocked serves the refresh_token grant: the refresh token is
// spent (rotated) and a new pair issued; the old access token keeps
// working. A scope, if sent, must be the grant's or a lesser one
// (read_only under read_write); the answer then names it. st.mu must be
// held.
func (st *Stripe) refreshLocked(params map[string]string) (*grant, string, string, *oauthError) {
	st.refreshes++
	rt := st.refresh[params["refresh_token"]]
	switch {
	case params["refresh_token"] == "":
		return nil, "", "", badRequest("invalid_request", "No refresh_token provided.")
	case rt == nil || rt.revoked:
		return nil, "", "", invalidGrant("Refresh token does not exist or has been revoked.")
	case !rt.usedAt.IsZero():
		st.reuses++
		return nil, "", "", invalidGrant("Refresh token has already been used.")
	}
	g := rt.grant
	if sc, ok := params["scope"]; ok && !g.hasScope(sc) && !(sc == stripe.ScopeReadOnly && g.hasScope(stripe.ScopeReadWrite)) {
		return nil, "", "", badRequest("invalid_scope", "The scope must be equal to or lesser than the original grant's.")
	}
	rt.usedAt = st.now()
	access, refresh := st.issueLocked(g, true)
	return g, access, refresh, nil
}

// deauthorize serves POST /oauth/deauthorize: every grant of the account
// for this platform is revoked.
func (st *Stripe) deauthorize(w http.ResponseWriter, r *http.Request) {
	params, oerr := readParams(r, false)
	if oerr == nil {
		delete(params, "client_secret") // never a credential here
		oerr = st.authenticate(EndpointRevoke, r, map[string]string{}, true)
	}
	id := params["stripe_user_id"]
	switch {
	case oerr != nil:
	case params["client_id"] != st.opts.ClientID:
		oerr = &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: "No such application: the client_id does not belong to this platform."}
	case id == "":
		oerr = badRequest("invalid_request", "No stripe_user_id provided.")
	}
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	st.mu.Lock()
	st.revocations++
	connected := false
	for _, g := range st.grants {
		if g.account.id == id && g.clientID == st.opts.ClientID && !g.revoked {
			connected = true
			g.revokeAll()
		}
	}
	st.mu.Unlock()
	if !connected {
		writeOAuthError(w, &oauthError{status: http.StatusUnauthorized, code: "invalid_client",
			desc: "This application is not connected to stripe account " + id + ", or that account does not exist."})
		return
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]string{"stripe_user_id": id})
}

// account serves GET /v1/account: the connected account of the bearer
// access token.
func (st *Stripe) account(w http.ResponseWriter, r *http.Request) {
	_, acct, ok := st.bearer(r)
	if !ok {
		writeInvalidToken(w)
		writeJSON(w, http.StatusUnauthorized, "application/json", map[string]any{"error": map[string]string{
			"type": "invalid_request_error", "message": "Invalid API Key provided."}})
		return
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"id": acct.id, "object": "account", "type": "standard"})
}

// Deauthorized reports whether the fake's last grant for accountID is
// revoked (by deauthorize or a replayed code), false when there is none.
func (st *Stripe) Deauthorized(accountID string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	for i := len(st.grants) - 1; i >= 0; i-- {
		if g := st.grants[i]; g.account.id == accountID {
			return g.revoked
		}
	}
	return false
}

// UserDeauthorizes plays the connected account's user who disconnects the
// platform in their Stripe Dashboard: every grant of accountID to the
// platform is revoked (its tokens stop working, its refresh tokens are
// refused), then DeliverDeauthorized notifies the platform's webhook
// endpoint.
func (st *Stripe) UserDeauthorizes(ctx context.Context, accountID string) (WebhookDelivery, error) {
	st.mu.Lock()
	for _, g := range st.grants {
		if g.account.id == accountID && g.clientID == st.opts.ClientID {
			g.revokeAll()
		}
	}
	st.mu.Unlock()
	return st.DeliverDeauthorized(ctx, accountID)
}

// DeliverDeauthorized POSTs an account.application.deauthorized event for
// accountID to StripeOptions.WebhookURL, signed as Stripe signs
// (Stripe-Signature: t={unix seconds on the fake's clock},v1={hex
// HMAC-SHA256 of "{t}.{body}" under WebhookSecret}), waiting at most 1
// second for the answer. The event's created time is the fake's clock. It
// revokes nothing: call it again to test a repeated delivery. The fake
// does not send it when the platform deauthorizes through
// /oauth/deauthorize, as Stripe does, because the app is waiting for that
// answer then. The error is non-nil only when no endpoint is configured
// or the event cannot be built.
func (st *Stripe) DeliverDeauthorized(ctx context.Context, accountID string) (WebhookDelivery, error) {
	if st.opts.WebhookURL == "" || st.opts.WebhookSecret == "" {
		return WebhookDelivery{}, errors.New("oauthlinktest: StripeOptions.WebhookURL and WebhookSecret are not set")
	}
	now := st.now()
	body, err := json.Marshal(map[string]any{
		"id": "evt_" + randomAlnum(24), "object": "event", "api_version": "2024-06-20",
		"type": "account.application.deauthorized", "account": accountID, "created": now.Unix(),
		"livemode": strings.HasPrefix(st.opts.SecretKey, "sk_live_"), "pending_webhooks": 1,
		"data": map[string]any{"object": map[string]any{"id": st.opts.ClientID, "object": "application", "name": "Test platform"}},
	})
	if err != nil {
		return WebhookDelivery{}, err
	}
	return postWebhook(ctx, st.opts.WebhookClient, st.opts.WebhookURL, "Stripe-Signature", SignStripeWebhook(st.opts.WebhookSecret, now, body), body), nil
}

// SignStripeWebhook returns the Stripe-Signature of body sent at t under
// secret: "t={unix seconds},v1={hex HMAC-SHA256 of "{t}.{body}"}", for
// tests that post their own events.
func SignStripeWebhook(secret string, t time.Time, body []byte) string {
	return webhooksig.Sign([]byte(secret), t, body)
}

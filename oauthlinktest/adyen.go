package oauthlinktest

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/adyen"
)

// AdyenOptions configures NewAdyen. The zero value is a working fake.
type AdyenOptions struct {
	// ClientID is the OAuth app's client id. Default "adyen-oauthlink-fake-app".
	ClientID string
	// ClientSecret is the app's secret. Default "adyen-fake-secret".
	ClientSecret string
	// RedirectURIs are the app's redirect URLs; redirect_uri is required
	// and must be one of them. Empty: any absolute http(s) URL.
	RedirectURIs []string
	// TLS serves HTTPS with httptest's certificate; Client trusts it.
	TLS bool
	// Now is the fake's clock. Default time.Now.
	Now func() time.Time
	// AccessTokenLifetime is expires_in. Default 1 hour.
	AccessTokenLifetime time.Duration
	// CodeLifetime is how long a code can be exchanged. Default 10
	// minutes (Adyen does not document it publicly).
	CodeLifetime time.Duration
	// Scopes are the scopes the authorization endpoint accepts. Default:
	// the three package adyen names.
	Scopes []string
	// ConsentPage shows Approve and Deny buttons instead of approving
	// automatically. Default false.
	ConsentPage bool
}

// Adyen is a fake Adyen partner OAuth server, as package adyen documents
// it: GET /ca/ca/oauth/connect.shtml (redirect_uri and S256 PKCE
// required), POST /v1/token (form body, HTTP Basic client credentials
// only, single-use codes bound to redirect_uri and the PKCE verifier;
// answers with expires_in, a refresh token and the accounts list; every
// refresh rotates the refresh token and a spent one is refused) and GET
// /v3/me with an access token. There is no revocation endpoint;
// RevokeAccess plays the customer uninstalling the app in their Customer
// Area, which ends every token of the grant at once. Every method is safe
// for concurrent use. Close it when done.
type Adyen struct {
	*server
	opts AdyenOptions
}

// NewAdyen starts a fake Adyen OAuth server.
func NewAdyen(opts AdyenOptions) *Adyen {
	opts.ClientID = cmp.Or(opts.ClientID, "adyen-oauthlink-fake-app")
	opts.ClientSecret = cmp.Or(opts.ClientSecret, "adyen-fake-secret")
	opts.RedirectURIs = slices.Clone(opts.RedirectURIs)
	cfg := config{
		name: "adyen", title: "Adyen",
		authPath: "/ca/ca/oauth/connect.shtml", tokenPath: "/v1/token",
		clientID: opts.ClientID, clientSecret: opts.ClientSecret, redirectURIs: opts.RedirectURIs,
		now:             opts.Now,
		accessLifetime:  durationOr(opts.AccessTokenLifetime, time.Hour),
		codeLifetime:    durationOr(opts.CodeLifetime, 10*time.Minute),
		consentPage:     opts.ConsentPage,
		allowedScopes:   scopeSet(opts.Scopes, []string{adyen.ScopeOnlinePayment, adyen.ScopeAccountSettings, adyen.ScopeWebhook}),
		requireRedirect: true,
		requirePKCE:     true,
		newCode:         func() string { return randomAlnum(40) },
		newAccess:       func() string { return randomAlnum(48) },
		newRefresh:      func() string { return randomAlnum(48) },
		newAccount: func(n int) *account {
			return &account{id: "TestMerchant" + randomAlnum(6), name: "Test Merchant"}
		},
		ownTokenEndpoint: true,
	}
	a := &Adyen{server: newServer(cfg, opts.TLS), opts: opts}
	a.handle("POST /v1/token", EndpointToken, a.token)
	a.handle("GET /v3/me", EndpointAPI, a.me)
	return a
}

// Provider returns adyen.Provider with every URL pointing at the fake and
// DefaultTokenLifetime set to AccessTokenLifetime.
func (a *Adyen) Provider() oauthlink.Provider {
	p := adyen.Provider(adyen.Options{})
	p.AuthURL, p.TokenURL, p.APIURL = a.AuthURL(), a.TokenURL(), a.APIURL()
	p.DefaultTokenLifetime = a.cfg.accessLifetime
	return p
}

// token serves POST /v1/token.
func (a *Adyen) token(w http.ResponseWriter, r *http.Request) {
	params, oerr := readParams(r, false)
	if oerr == nil {
		a.countPresented(params)
		oerr = a.authenticateClient(EndpointToken, r, params, true)
	}
	if oerr == nil {
		if _, body := params["client_secret"]; body {
			oerr = &oauthError{status: http.StatusUnauthorized, code: "invalid_client",
				desc: "Client authentication failed: use HTTP Basic credentials."}
		}
	}
	var resp map[string]any
	if oerr == nil {
		a.mu.Lock()
		var g *grant
		var access, refresh string
		switch params["grant_type"] {
		case "authorization_code":
			if g, oerr = a.exchangeLocked(params); oerr == nil {
				access, refresh = a.issueLocked(g, true)
			}
		case "refresh_token":
			a.refreshes++
			rt := a.refresh[params["refresh_token"]]
			switch {
			case params["refresh_token"] == "":
				oerr = badRequest("invalid_request", "The 'refresh_token' parameter is required.")
			case rt == nil || rt.revoked:
				oerr = invalidGrant("The refresh token is invalid.")
			case !rt.usedAt.IsZero():
				a.reuses++
				oerr = invalidGrant("The refresh token was already used.")
			default:
				rt.usedAt = a.now()
				g = rt.grant
				access, refresh = a.issueLocked(g, true)
			}
		case "":
			oerr = badRequest("invalid_request", "The 'grant_type' parameter is required.")
		default:
			oerr = badRequest("unsupported_grant_type", "The grant_type must be authorization_code or refresh_token.")
		}
		if oerr == nil {
			resp = map[string]any{"access_token": access, "refresh_token": refresh, "token_type": "bearer",
				"expires_in": int64(a.cfg.accessLifetime.Seconds()), "scope": strings.Join(g.scopes, " "),
				"accounts": []string{g.account.id}}
		}
		a.mu.Unlock()
	}
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", resp)
}

// me serves GET /v3/me: the token's account.
func (a *Adyen) me(w http.ResponseWriter, r *http.Request) {
	_, acct, ok := a.bearer(r)
	if !ok {
		writeInvalidToken(w)
		writeJSON(w, http.StatusUnauthorized, "application/json", map[string]any{"status": 401, "errorCode": "000", "message": "Not authorized", "errorType": "security"})
		return
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"id": "S2-OAUTH", "associatedMerchantAccounts": []string{acct.id}})
}

// RevokeAccess plays the customer uninstalling the app in their Customer
// Area (Developers > OAuth authorizations), for the grants that cover
// merchantAccount: Adyen documents that this revokes the app's access and
// invalidates all active access at once, so every access and refresh
// token of those grants stops working.
func (a *Adyen) RevokeAccess(merchantAccount string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, g := range a.grants {
		if g.account.id == merchantAccount {
			g.revokeAll()
		}
	}
}

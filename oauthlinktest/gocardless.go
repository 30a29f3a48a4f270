package oauthlinktest

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/gocardless"
)

// GoCardlessOptions configures NewGoCardless. The zero value is a working
// fake.
type GoCardlessOptions struct {
	// ClientID is the partner app's client_id. Default "gc-oauthlink-fake-app".
	ClientID string
	// ClientSecret is the app's secret. Default "gocardless-fake-secret".
	ClientSecret string
	// RedirectURIs are the app's registered redirect URIs; redirect_uri is
	// required at authorize and exchange and must be one of them. Empty:
	// any absolute http(s) URL.
	RedirectURIs []string
	// TLS serves HTTPS with httptest's certificate; Client trusts it.
	TLS bool
	// Now is the fake's clock. Default time.Now.
	Now func() time.Time
	// CodeLifetime is how long an authorization code can be exchanged.
	// Default 5 minutes (GoCardless does not publish it).
	CodeLifetime time.Duration
	// ConsentPage shows Approve and Deny buttons instead of approving
	// automatically. Default false.
	ConsentPage bool
}

// GoCardless is a fake GoCardless partner OAuth server, as package
// gocardless documents it: GET /oauth/authorize (scope read_write or
// read_only, redirect_uri required, initial_view signup or login,
// prefill[…] and language; anything else is refused), POST
// /oauth/access_token (form body with body credentials only, the
// authorization_code grant only, single-use codes, redirect_uri required
// and matching; answers carry organisation_id and neither expires_in nor a
// refresh token, and the access tokens never expire) and GET /creditors
// with an access token. There is no revocation endpoint; RevokeAccess
// plays the user disconnecting the app in the dashboard. Every method is
// safe for concurrent use. Close it when done.
type GoCardless struct {
	*server
	opts GoCardlessOptions
}

// NewGoCardless starts a fake GoCardless partner OAuth server.
func NewGoCardless(opts GoCardlessOptions) *GoCardless {
	opts.ClientID = cmp.Or(opts.ClientID, "gc-oauthlink-fake-app")
	opts.ClientSecret = cmp.Or(opts.ClientSecret, "gocardless-fake-secret")
	opts.RedirectURIs = slices.Clone(opts.RedirectURIs)
	cfg := config{
		name: "gocardless", title: "GoCardless",
		authPath: "/oauth/authorize", tokenPath: "/oauth/access_token",
		clientID: opts.ClientID, clientSecret: opts.ClientSecret, redirectURIs: opts.RedirectURIs,
		now:             opts.Now,
		accessLifetime:  time.Hour, // replaced: the tokens never expire
		codeLifetime:    durationOr(opts.CodeLifetime, 5*time.Minute),
		consentPage:     opts.ConsentPage,
		allowedScopes:   scopeSet(nil, []string{gocardless.ScopeReadWrite, gocardless.ScopeReadOnly}),
		requireRedirect: true,
		newCode:         func() string { return randomAlnum(32) },
		newAccess:       func() string { return "sandbox_" + randomAlnum(40) },
		newRefresh:      func() string { return "" },
		newAccount: func(n int) *account {
			return &account{id: fmt.Sprintf("OR%06d%s", n, strings.ToUpper(randomAlnum(4))), name: fmt.Sprintf("Test Organisation %d", n)}
		},
		ownTokenEndpoint: true,
		checkExtra:       checkGoCardlessParams,
	}
	gc := &GoCardless{server: newServer(cfg, opts.TLS), opts: opts}
	gc.handle("POST /oauth/access_token", EndpointToken, gc.token)
	gc.handle("GET /creditors", EndpointAPI, gc.creditors)
	return gc
}

// Provider returns gocardless.Provider with every URL pointing at the
// fake.
func (gc *GoCardless) Provider() oauthlink.Provider {
	p := gocardless.Provider(gocardless.Options{Sandbox: true})
	p.AuthURL, p.TokenURL, p.APIURL = gc.AuthURL(), gc.TokenURL(), gc.APIURL()
	return p
}

var languageTag = regexp.MustCompile(`^[a-z]{2}$`)

func checkGoCardlessParams(extra url.Values) (code, desc string) {
	for k, v := range extra {
		switch {
		case len(v) != 1:
			return "invalid_request", "The '" + k + "' parameter is included more than once."
		case k == gocardless.ParamInitialView && v[0] != "signup" && v[0] != "login":
			return "invalid_request", "initial_view must be signup or login."
		case k == gocardless.ParamLanguage && !languageTag.MatchString(v[0]):
			return "invalid_request", "language must be a two-letter language code."
		case k == gocardless.ParamInitialView, k == gocardless.ParamLanguage, slices.Contains(gocardless.PrefillParams, k):
		default:
			return "invalid_request", "Unknown parameter: " + k
		}
	}
	return "", ""
}

// token serves POST /oauth/access_token: the authorization_code grant only.
func (gc *GoCardless) token(w http.ResponseWriter, r *http.Request) {
	params, oerr := readParams(r, false)
	if oerr == nil {
		gc.countPresented(params)
		oerr = gc.authenticateClient(EndpointToken, r, params, false)
	}
	if oerr == nil && params["grant_type"] != "authorization_code" {
		oerr = badRequest("unsupported_grant_type", "Only the authorization_code grant is supported: access tokens do not expire.")
	}
	var resp map[string]any
	if oerr == nil {
		gc.mu.Lock()
		var g *grant
		if g, oerr = gc.exchangeLocked(params); oerr == nil {
			access, _ := gc.issueLocked(g, false)
			gc.access[access].expires = time.Time{}
			resp = map[string]any{"access_token": access, "token_type": "bearer",
				"scope": strings.Join(g.scopes, " "), "organisation_id": g.account.id}
		}
		gc.mu.Unlock()
	}
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", resp)
}

// creditors serves GET /creditors for the token's organisation.
func (gc *GoCardless) creditors(w http.ResponseWriter, r *http.Request) {
	_, acct, ok := gc.bearer(r)
	if !ok {
		writeInvalidToken(w)
		writeJSON(w, http.StatusUnauthorized, "application/json", map[string]any{"error": map[string]any{
			"type": "invalid_api_usage", "code": 401, "message": "Invalid token", "errors": []any{}}})
		return
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"creditors": []map[string]string{{"id": "CR" + acct.id[2:], "name": acct.name}}})
}

// RevokeAccess plays the user disconnecting the app from the GoCardless
// dashboard: every token of the organisation stops working.
func (gc *GoCardless) RevokeAccess(organisationID string) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	for _, g := range gc.grants {
		if g.account.id == organisationID {
			g.revokeAll()
		}
	}
}

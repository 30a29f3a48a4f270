package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink/store"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/mollie"
	"github.com/oauthlink/oauthlink/qonto"
)

// provider is one provider as the demo serves it.
type provider struct {
	name, title string
	conn        *oauthlink.Connector
	// sandbox is the fake's browser-facing URL, "" against the real
	// provider.
	sandbox string
	// apiURL is the provider's API base URL.
	apiURL string
	// organization reads the connected organization's JSON, as the
	// provider sent it, through the provider package's typed client whose
	// HTTPClient is hc (the owner's Connector.Client).
	organization func(ctx context.Context, hc *http.Client) (json.RawMessage, error)
	// clientLinks is the Mollie client-link handler; nil for Qonto, or
	// when MOLLIE_ORG_TOKEN is missing.
	clientLinks http.Handler
}

// mollieProvider returns the Mollie descriptor and the partner's
// organization token ("" without one) from the environment, or the
// sandbox's.
func (a *app) mollieProvider(env providerEnv) (oauthlink.Provider, string, string, store.Secret, error) {
	if env.sandbox() {
		token := sandboxOrgToken()
		ln, err := a.sandboxListener("mollie")
		if err != nil {
			return oauthlink.Provider{}, "", "", "", err
		}
		f := newSandboxMollie(a.callback("mollie"), token, a.sandboxHost, ln, a.now)
		a.fakeMollie = f
		a.closers = append(a.closers, func() error { f.Close(); return f.PersistErr() })
		if err := a.persistSandbox("mollie", f); err != nil {
			return oauthlink.Provider{}, "", "", "", err
		}
		p := f.Provider()
		p.AuthURL = browserURL(p.AuthURL, a.sandboxHost)
		return p, f.ClientID(), f.ClientSecret(), store.Secret(token), nil
	}
	p := mollie.Provider()
	if env.AuthURL != "" {
		p.AuthURL = env.AuthURL
	}
	if env.TokenURL != "" {
		p.TokenURL, p.RevokeURL = env.TokenURL, env.TokenURL // Mollie revokes at the token URL
	}
	if env.APIURL != "" {
		p.APIURL = strings.TrimRight(env.APIURL, "/")
	}
	return p, env.ClientID, env.ClientSecret, store.Secret(env.OrgToken), nil
}

// qontoProvider returns the Qonto descriptor from the environment (the
// sandbox's endpoints and staging header when QONTO_STAGING_TOKEN is set),
// or the built-in fake's.
func (a *app) qontoProvider(env providerEnv) (oauthlink.Provider, string, string, error) {
	if env.sandbox() {
		ln, err := a.sandboxListener("qonto")
		if err != nil {
			return oauthlink.Provider{}, "", "", err
		}
		f := newSandboxQonto(a.callback("qonto"), ln, a.now)
		a.fakeQonto = f
		a.closers = append(a.closers, func() error { f.Close(); return f.PersistErr() })
		if err := a.persistSandbox("qonto", f); err != nil {
			return oauthlink.Provider{}, "", "", err
		}
		// The merchant's side of a consent revocation: the fake's
		// "connected applications" page, with a Revoke access button.
		back := a.cfg.PublicURL + "/"
		// Its buttons are on the consent page too.
		f.ServeConsents(sandboxConsentsPath, back)
		p := f.Provider()
		p.AuthURL = browserURL(p.AuthURL, a.sandboxHost)
		return p, f.ClientID(), f.ClientSecret(), nil
	}
	p := qonto.Provider(qonto.Options{Sandbox: env.StagingToken != "", StagingToken: env.StagingToken})
	for _, o := range []struct {
		dst *string
		v   string
	}{
		{&p.AuthURL, env.AuthURL}, {&p.TokenURL, env.TokenURL}, {&p.RevokeURL, env.RevokeURL},
		{&p.APIURL, strings.TrimRight(env.APIURL, "/")},
	} {
		if o.v != "" {
			*o.dst = o.v
		}
	}
	return p, env.ClientID, env.ClientSecret, nil
}

// plainEndpoint reports whether one of p's endpoints is plain http: the
// sandbox's fakes on loopback, or a *_URL variable that says so. oauthlink
// accepts such endpoints only with AllowInsecureHTTP, which the demo then
// sets for that provider even under an https public URL (its flow cookies
// then drop Secure and the __Host- prefix; the library logs it once).
func plainEndpoint(p oauthlink.Provider) bool {
	for _, u := range []string{p.AuthURL, p.TokenURL, p.RevokeURL, p.APIURL} {
		if strings.HasPrefix(u, "http:") {
			return true
		}
	}
	return false
}

// callback is the redirect URL registered at the provider.
func (a *app) callback(name string) string {
	return a.cfg.PublicURL + "/connect/" + name + "/callback"
}

// newProviders builds both connectors on the shared store.
func (a *app) newProviders() error {
	base := func(p oauthlink.Provider, id, secret string, scopes []string) oauthlink.Config {
		return oauthlink.Config{
			Provider: p, ClientID: id, ClientSecret: secret,
			RedirectURL:       a.callback(p.Name),
			Scopes:            scopes,
			Store:             a.store,
			CookieSecrets:     [][]byte{a.keys.flow},
			AllowInsecureHTTP: a.cfg.insecure() || plainEndpoint(p),
			Owner:             a.sessions.owner,
			Logger:            a.libLog,
			Flow:              oauthlink.FlowOptions{CrossOrigin: a.crossOrigin},
			Hooks:             oauthlink.Hooks{OnError: a.flowError, OnEvent: a.event, OnConnected: a.connected(p.Name, nil)},
			Now:               a.now,
			// No per-process token cache: each API call reads the store, so
			// what another process changed (the oauthlink CLI, another
			// instance, a token rewritten by hand) takes effect at once, as
			// the dashboard shows it.
			Tokens: oauthlink.TokenOptions{CacheTTL: -1},
		}
	}

	mp, mid, msecret, orgToken, err := a.mollieProvider(a.cfg.Mollie)
	if err != nil {
		return err
	}
	mcfg := base(mp, mid, msecret, a.cfg.Mollie.Scopes)
	mollieAPI := mollie.Client{BaseURL: mp.APIURL, AllowInsecureHTTP: mcfg.AllowInsecureHTTP}
	mcfg.Hooks.Identify = mollie.Identify(mollieAPI) // Connection.AccountID = "org_…"
	mconn, err := oauthlink.New(mcfg)
	if err != nil {
		return fmt.Errorf("mollie: %w", err)
	}
	m := &provider{name: "mollie", title: "Mollie", conn: mconn, apiURL: mp.APIURL}
	m.organization = func(ctx context.Context, hc *http.Client) (raw json.RawMessage, err error) {
		api := mollieAPI
		api.HTTPClient, api.Timeout = hc, apiTimeout
		return raw, api.Get(ctx, "/v2/organizations/me", nil, &raw)
	}
	if a.cfg.Mollie.sandbox() {
		m.sandbox = strings.TrimSuffix(mp.AuthURL, "/oauth2/authorize")
	}
	if orgToken != "" {
		// Its failures go to the connector's Hooks.OnError, a.flowError.
		partner, err := mollie.NewTokenClient(orgToken, mollieAPI)
		if err == nil {
			m.clientLinks, err = mollie.NewClientLinkHandler(mconn, partner, buildClientLink, mollie.ClientLinkOptions{
				ClientID:    mid,
				CrossOrigin: a.crossOrigin,
			})
		}
		if err != nil {
			return fmt.Errorf("mollie client links: %w", err)
		}
	}

	qp, qid, qsecret, err := a.qontoProvider(a.cfg.Qonto)
	if err != nil {
		return err
	}
	qcfg := base(qp, qid, qsecret, qontoScopes(a.cfg.Qonto, qp))
	qcfg.Flow.AuthParams = qontoParams
	qontoAPI := qonto.Client{BaseURL: qp.APIURL, AllowInsecureHTTP: qcfg.AllowInsecureHTTP}
	// Connection.AccountID = the organization id; the sandbox's staging
	// header goes with the new token.
	qcfg.Hooks.Identify = qonto.Identify(qontoAPI, qp.Header)
	// Webhooks: the secret that signs Qonto's deliveries to POST
	// /webhooks/qonto (a random one in the sandbox), and, once a connection
	// with the webhook scope is committed, its subscription to consent
	// revocations. The handler finds the connections of the organization a
	// revocation names, so it needs a store that scans.
	whSecret := a.cfg.Qonto.WebhookSecret
	if whSecret == "" && a.cfg.Qonto.sandbox() {
		whSecret = sandboxWebhookSecret()
	}
	var qconn *oauthlink.Connector
	if whSecret != "" && a.scans {
		qcfg.Hooks.OnConnected = a.connected(qp.Name, func(r *http.Request, c *oauthlink.Connection) {
			a.subscribeQonto(r.Context(), qconn, qontoAPI, c, whSecret)
		})
	}
	qconn, err = oauthlink.New(qcfg)
	if err != nil {
		return fmt.Errorf("qonto: %w", err)
	}
	if err := a.newQontoWebhook(qconn, qp.Name, qid, whSecret); err != nil {
		return err
	}
	q := &provider{name: "qonto", title: "Qonto", conn: qconn, apiURL: qp.APIURL}
	q.organization = func(ctx context.Context, hc *http.Client) (raw json.RawMessage, err error) {
		api := qontoAPI
		api.HTTPClient, api.Timeout = hc, apiTimeout
		return raw, api.Get(ctx, "/v2/organization", &raw)
	}
	if a.cfg.Qonto.sandbox() {
		q.sandbox = strings.TrimSuffix(qp.AuthURL, "/oauth2/auth")
	}
	a.providers = []*provider{m, q}
	return nil
}

// qontoScopes are the scopes the demo asks Qonto for: QONTO_SCOPES or the
// provider's default, and in the sandbox also qonto.ScopeWebhook, which
// the fake (like Qonto) requires to subscribe to webhooks. The connector
// adds offline_access.
func qontoScopes(env providerEnv, p oauthlink.Provider) []string {
	scopes := slices.Clone(env.Scopes)
	if !env.sandbox() {
		return scopes
	}
	if len(scopes) == 0 { // QONTO_SCOPES unset or empty, as the connector reads it
		scopes = slices.Clone(p.DefaultScopes)
	}
	if !slices.Contains(scopes, qonto.ScopeWebhook) {
		scopes = append(scopes, qonto.ScopeWebhook)
	}
	return scopes
}

// qontoWebhookPath is where Qonto delivers its webhooks.
const qontoWebhookPath = "/webhooks/qonto"

// newQontoWebhook builds the handler of POST /webhooks/qonto: the qonto
// package's WebhookHandler (signature check, then fleet.MarkRevoked for
// the connection to the organization a consent revocation names), or,
// without a secret or a store that scans, a 501 that says which.
func (a *app) newQontoWebhook(conn *oauthlink.Connector, providerName, clientID, secret string) error {
	off := func(why string) {
		a.log.Info("Qonto webhooks off: " + why)
		a.qontoWebhook = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "Qonto webhooks are not configured: "+why, http.StatusNotImplemented)
		})
	}
	switch {
	case secret == "":
		off("QONTO_WEBHOOK_SECRET is not set")
		return nil
	case !a.scans:
		off("the store cannot list connections (store.Scanner)")
		return nil
	}
	h, err := qonto.NewWebhookHandler(conn, a.store, [][]byte{[]byte(secret)}, qonto.WebhookOptions{
		ProviderName: providerName, ClientID: clientID, Logger: a.log, Now: a.now,
	})
	if err != nil {
		return fmt.Errorf("qonto webhooks: %w", err)
	}
	a.qontoWebhook = h
	a.log.Info("Qonto webhooks: consent revocations at "+qontoWebhookPath, "callback_url", a.cfg.PublicURL+qontoWebhookPath)
	return nil
}

// subscribeTimeout bounds the webhook subscription made after a connect.
const subscribeTimeout = 10 * time.Second

// subscribeQonto subscribes the organization c connects to consent
// revocations, as its owner (conn.Client), when the connection was granted
// the webhook scope. A failure is logged and nothing more: the connection
// stands.
func (a *app) subscribeQonto(ctx context.Context, conn *oauthlink.Connector, api qonto.Client, c *oauthlink.Connection, secret string) {
	if !slices.Contains(c.Scopes, qonto.ScopeWebhook) {
		a.log.Info("Qonto webhook subscription skipped: the connection lacks the webhook scope", "owner", c.Owner)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), subscribeTimeout)
	defer cancel()
	api.HTTPClient, api.Timeout = conn.Client(c.Owner), subscribeTimeout
	sub, err := api.CreateWebhookSubscription(ctx, qonto.NewWebhookSubscription{
		CallbackURL: a.cfg.PublicURL + qontoWebhookPath,
		Types:       []string{qonto.EventConsentRevocations},
		Secret:      store.Secret(secret),
		Description: "oauthlink demo",
	})
	if err != nil {
		a.log.Warn("Qonto webhook subscription failed", "owner", c.Owner, "error", err)
		return
	}
	a.log.Info("Qonto webhook subscription created", "owner", c.Owner, "organization", sub.OrganizationID, "subscription", sub.ID)
}

// redirectConnected is the library's default end of a callback: 303 to
// returnTo (a relative path the start handler checked), else to /.
func redirectConnected(w http.ResponseWriter, r *http.Request, returnTo string) {
	if !strings.HasPrefix(returnTo, "/") || strings.HasPrefix(returnTo, "//") || strings.HasPrefix(returnTo, "/\\") {
		returnTo = "/"
	}
	w.Header().Set("Location", returnTo)
	w.WriteHeader(http.StatusSeeOther)
}

// qontoParams passes the start request's organization_id or
// registration_id on to Qonto, as a UUID (qonto.WithOrganization and
// WithRegistration refuse anything else, which answers 400). Empty fields,
// as the dashboard's form sends them, are ignored.
func qontoParams(r *http.Request) (url.Values, error) {
	// FormValue parses the query itself: the start handler does not
	// promise a parsed r.Form on GET.
	org, reg := r.FormValue(qonto.ParamOrganizationID), r.FormValue(qonto.ParamRegistrationID)
	switch {
	case org != "" && reg != "":
		return nil, &oauthlink.ParamError{Param: qonto.ParamOrganizationID, Err: errors.New("send organization_id or registration_id, not both")}
	case org != "":
		return named(qonto.ParamOrganizationID)(qonto.WithOrganization(org))
	case reg != "":
		return named(qonto.ParamRegistrationID)(qonto.WithRegistration(reg))
	}
	return nil, nil
}

// named returns a function that passes params on, or err as an
// *oauthlink.ParamError naming param, so the error page names the
// parameter (never its value).
func named(param string) func(url.Values, error) (url.Values, error) {
	return func(params url.Values, err error) (url.Values, error) {
		if err != nil {
			return nil, &oauthlink.ParamError{Param: param, Err: err}
		}
		return params, nil
	}
}

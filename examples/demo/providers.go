package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

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
func (a *app) mollieProvider(env providerEnv) (oauthlink.Provider, string, string, store.Secret) {
	if env.sandbox() {
		token := sandboxOrgToken()
		f := newSandboxMollie(a.callback("mollie"), token, a.sandboxHost)
		a.fakeMollie = f
		a.closers = append(a.closers, func() error { f.Close(); return nil })
		p := f.Provider()
		p.AuthURL = browserURL(p.AuthURL, a.sandboxHost)
		return p, f.ClientID(), f.ClientSecret(), store.Secret(token)
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
	return p, env.ClientID, env.ClientSecret, store.Secret(env.OrgToken)
}

// qontoProvider returns the Qonto descriptor from the environment (the
// sandbox's endpoints and staging header when QONTO_STAGING_TOKEN is set),
// or the built-in fake's.
func (a *app) qontoProvider(env providerEnv) (oauthlink.Provider, string, string) {
	if env.sandbox() {
		f := newSandboxQonto(a.callback("qonto"))
		a.fakeQonto = f
		a.closers = append(a.closers, func() error { f.Close(); return nil })
		p := f.Provider()
		p.AuthURL = browserURL(p.AuthURL, a.sandboxHost)
		return p, f.ClientID(), f.ClientSecret()
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
	return p, env.ClientID, env.ClientSecret
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
			Hooks:             oauthlink.Hooks{OnError: a.flowError, OnEvent: a.event},
		}
	}

	mp, mid, msecret, orgToken := a.mollieProvider(a.cfg.Mollie)
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

	qp, qid, qsecret := a.qontoProvider(a.cfg.Qonto)
	qcfg := base(qp, qid, qsecret, a.cfg.Qonto.Scopes)
	qcfg.Flow.AuthParams = qontoParams
	qontoAPI := qonto.Client{BaseURL: qp.APIURL, AllowInsecureHTTP: qcfg.AllowInsecureHTTP}
	// Connection.AccountID = the organization id; the sandbox's staging
	// header goes with the new token.
	qcfg.Hooks.Identify = qonto.Identify(qontoAPI, qp.Header)
	qconn, err := oauthlink.New(qcfg)
	if err != nil {
		return fmt.Errorf("qonto: %w", err)
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
		return nil, fmt.Errorf("send organization_id or registration_id, not both")
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

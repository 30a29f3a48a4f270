package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	// apiURL is the provider's API base URL; orgPath is the API path of
	// the connected organization.
	apiURL, orgPath string
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
	m := &provider{name: "mollie", title: "Mollie", conn: mconn, apiURL: mp.APIURL, orgPath: "/v2/organizations/me"}
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
	qcfg.Hooks.Identify = qontoIdentify(qp)
	qconn, err := oauthlink.New(qcfg)
	if err != nil {
		return fmt.Errorf("qonto: %w", err)
	}
	q := &provider{name: "qonto", title: "Qonto", conn: qconn, apiURL: qp.APIURL, orgPath: "/v2/organization"}
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

// qontoIdentify records the Qonto organization id as Connection.AccountID:
// the token response carries none, so it asks GET /v2/organization with the
// new token (and the sandbox's staging header), when organization.read was
// granted. The qonto package has no such helper yet; this is the shape
// mollie.Identify has.
func qontoIdentify(p oauthlink.Provider) func(context.Context, *oauthlink.Connection) error {
	client := &http.Client{
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return func(ctx context.Context, conn *oauthlink.Connection) error {
		if !slices.Contains(conn.Scopes, "organization.read") {
			return nil
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.APIURL+"/v2/organization", nil)
		if err != nil {
			return err
		}
		for k, vs := range p.Header {
			req.Header[k] = vs
		}
		req.Header.Set("Authorization", "Bearer "+conn.AccessToken.Reveal())
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("qonto: GET /v2/organization: %w", unwrapURL(err))
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("qonto: GET /v2/organization answered %d", resp.StatusCode)
		}
		var body struct {
			Organization struct {
				ID string `json:"id"`
			} `json:"organization"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil || !printable(body.Organization.ID, 128) {
			return fmt.Errorf("qonto: GET /v2/organization: no usable organization id")
		}
		conn.AccountID = body.Organization.ID
		return nil
	}
}

// unwrapURL drops *url.Error's repetition of the URL.
func unwrapURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// printable reports whether s is 1 to n printable ASCII characters.
func printable(s string, n int) bool {
	if s == "" || len(s) > n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

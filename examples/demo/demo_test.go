package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
)

func TestLoginAndDashboard(t *testing.T) {
	d := startDemo(t, nil)
	b := newBrowser(t)

	p := b.get(d.URL + "/")
	assert.Equal(t, http.StatusOK, p.Status)
	assert.Contains(t, p.Body, `<form method="post" action="/login">`)

	p = b.post(d.URL+"/login", url.Values{"user": {"alice"}}, false)
	assert.Equal(t, http.StatusSeeOther, p.Status)
	assert.Equal(t, "/", p.Header.Get("Location"))
	cookie := p.Header.Get("Set-Cookie")
	assert.Contains(t, cookie, "demo-login=")
	assert.Contains(t, cookie, "HttpOnly")
	assert.Contains(t, cookie, "SameSite=Lax")
	assert.NotContains(t, cookie, "Secure", "plain http drops Secure")

	p = b.get(d.URL + "/")
	assert.Equal(t, http.StatusOK, p.Status)
	assert.Contains(t, p.Body, `Logged in as <strong id="user">alice</strong>`)
	assert.Equal(t, 2, strings.Count(p.Body, `<span class="badge sandbox">sandbox</span>`), "both providers are labelled sandbox")
	assert.Equal(t, 2, strings.Count(p.Body, `data-status="none"`))
	assert.Contains(t, p.Body, `action="/connect/mollie/client-link"`)

	p = b.get(d.URL + "/nope")
	assert.Equal(t, http.StatusNotFound, p.Status)
	assert.Contains(t, p.Body, "Page not found")

	p = b.post(d.URL+"/logout", nil, true)
	assert.Contains(t, p.Body, `action="/login"`)
}

func TestLoginValidation(t *testing.T) {
	d := startDemo(t, nil)
	for name, user := range map[string]string{"empty": "", "spaces": "a b", "markup": "<b>x</b>", "long": strings.Repeat("x", 65)} {
		t.Run(name, func(t *testing.T) {
			b := newBrowser(t)
			p := b.post(d.URL+"/login", url.Values{"user": {user}}, false)
			assert.Equal(t, http.StatusUnprocessableEntity, p.Status)
			assert.Contains(t, p.Body, "user: use 1 to 64 letters (A–Z, a–z), digits or . _ @ &#43; - and no spaces")
			assert.NotContains(t, p.Body, "<b>x</b>", "the value is escaped")
			assert.Empty(t, p.Header.Get("Set-Cookie"))
		})
	}
}

// TestConnectFlows runs each provider's whole flow through the fake's
// consent page with a cookie jar, then the JSON API and disconnect.
func TestConnectFlows(t *testing.T) {
	for _, provider := range []string{"mollie", "qonto"} {
		t.Run(provider, func(t *testing.T) {
			d := startDemo(t, nil)
			b := newBrowser(t)
			b.login(d, "alice")

			consent := b.get(d.URL + "/connect/" + provider)
			assert.Equal(t, "localhost", consent.URL.Hostname(), "the fake is another site than the demo")
			b.hops = nil
			p := b.approve(consent)
			require.Equal(t, http.StatusOK, p.Status, p.Body)
			assert.Equal(t, "/", p.URL.Path)
			require.Len(t, b.hops, 2, "fake → callback → dashboard")
			assert.Equal(t, "/connect/"+provider+"/callback", mustParse(t, b.hops[1].URL).Path)
			assert.Equal(t, http.StatusSeeOther, b.hops[1].Status, "a successful callback answers 303")
			assert.Equal(t, "/", b.hops[1].Location)
			assert.Contains(t, p.Body, `data-status="active"`)

			conn, err := d.store0().Load(t.Context(), provider, "alice")
			require.NoError(t, err)
			require.NotEmpty(t, conn.AccountID)
			assert.Contains(t, p.Body, conn.AccountID)

			var list []map[string]any
			raw := b.getJSON(d.URL+"/api/connections", &list)
			assert.Equal(t, http.StatusOK, raw.Status)
			require.Len(t, list, 1)
			assert.ElementsMatch(t, []string{"provider", "account", "scopes", "expires_at", "status"}, mapKeys(list[0]))
			assert.Equal(t, provider, list[0]["provider"])
			assert.Equal(t, conn.AccountID, list[0]["account"])
			assert.Equal(t, "active", list[0]["status"])
			exp, err := time.Parse(time.RFC3339, list[0]["expires_at"].(string))
			require.NoError(t, err)
			assert.WithinDuration(t, conn.Expiry, exp, time.Second)
			assert.NotEmpty(t, list[0]["scopes"])
			assertNoTokens(t, raw.Body, conn)

			var org map[string]any
			raw = b.getJSON(d.URL+"/api/"+provider+"/organization", &org)
			require.Equal(t, http.StatusOK, raw.Status, raw.Body)
			assert.Contains(t, raw.Body, `"`+conn.AccountID+`"`)
			assertNoTokens(t, raw.Body, conn)

			p = b.post(d.URL+"/connections/"+provider+"/disconnect", nil, false)
			assert.Equal(t, http.StatusSeeOther, p.Status)
			assert.Equal(t, "/", p.Header.Get("Location"))
			assert.False(t, fake(d, provider).RefreshTokenValid(conn.RefreshToken.Reveal()), "revoked at the provider")
			b.getJSON(d.URL+"/api/connections", &list)
			assert.Empty(t, list)
			var notConnected map[string]string
			raw = b.getJSON(d.URL+"/api/"+provider+"/organization", &notConnected)
			assert.Equal(t, http.StatusUnauthorized, raw.Status)
			assert.Equal(t, "not_connected", notConnected["error"])

			assertNoTokens(t, d.logs.String(), conn)
			assertNoSecretsLogged(t, d.logs.String())
		})
	}
}

func TestMollieClientLink(t *testing.T) {
	d := startDemo(t, nil)
	b := newBrowser(t)
	b.login(d, "bob")

	p := b.post(d.URL+"/connect/mollie/client-link", signupForm0(), false)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	link := mustParse(t, p.Header.Get("Location"))
	assert.Contains(t, link.Path, "/dashboard/client-link/cl_")
	assert.Equal(t, "localhost", link.Hostname(), "the client-link page is another site than the demo")
	for _, q := range []string{"client_id", "state", "scope"} {
		assert.NotEmpty(t, link.Query().Get(q), q)
	}
	require.Len(t, d.fakeMollie.ClientLinks(), 1)
	assert.Equal(t, "Bakkerij Jansen", d.fakeMollie.ClientLinks()[0].Name)

	p = b.get(link.String())
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Equal(t, "/", p.URL.Path)
	conn, err := d.store0().Load(t.Context(), "mollie", "bob")
	require.NoError(t, err)
	assert.Equal(t, d.fakeMollie.ClientLinks()[0].AccountID, conn.AccountID, "connected to the organization the link created")
	assert.Contains(t, p.Body, conn.AccountID)
}

func signupForm0() url.Values {
	return url.Values{
		"email": {"anna@bakkerij.example"}, "given_name": {"Anna"}, "family_name": {"Jansen"},
		"organization_name": {"Bakkerij Jansen"}, "country": {"nl"},
	}
}

// TestMollieClientLinkValidation: a form Mollie would refuse comes back
// with 422, filled in, naming the field; nothing is created and no flow
// starts.
func TestMollieClientLinkValidation(t *testing.T) {
	d := startDemo(t, nil)
	b := newBrowser(t)
	b.login(d, "bob")
	for name, tc := range map[string]struct {
		set   map[string]string
		field string
	}{
		"missing email":       {map[string]string{"email": ""}, "email"},
		"bad email":           {map[string]string{"email": "anna at bakkerij"}, "email"},
		"missing given name":  {map[string]string{"given_name": " "}, "given_name"},
		"missing family name": {map[string]string{"family_name": ""}, "family_name"},
		"missing org name":    {map[string]string{"organization_name": ""}, "organization_name"},
		"country not a code":  {map[string]string{"country": "Netherlands"}, "country"},
		"street without code": {map[string]string{"street": "Keizersgracht 126", "city": "Amsterdam"}, "postal_code"},
		"street without city": {map[string]string{"street": "Keizersgracht 126", "postal_code": "1015 CW"}, "city"},
	} {
		t.Run(name, func(t *testing.T) {
			form := signupForm0()
			for k, v := range tc.set {
				form.Set(k, v)
			}
			p := b.post(d.URL+"/connect/mollie/client-link", form, false)
			assert.Equal(t, http.StatusUnprocessableEntity, p.Status)
			assert.Contains(t, p.Body, "("+tc.field+")", "the message names the form field")
			assert.Regexp(t, `name="`+tc.field+`" value="[^"]*"( required)? aria-invalid="true"`, p.Body)
			witness := `value="Bakkerij Jansen" required`
			if tc.field == "organization_name" {
				witness = `value="Anna" required`
			}
			assert.Contains(t, p.Body, witness, "the form is filled in again")
			assert.NotContains(t, p.Header.Get("Set-Cookie"), "oauthlink-mollie", "no flow started")
		})
	}
	assert.Empty(t, d.fakeMollie.ClientLinks(), "nothing sent to Mollie")
}

func TestWithoutLogin(t *testing.T) {
	d := startDemo(t, nil)
	b := newBrowser(t)
	for _, path := range []string{"/api/connections", "/api/mollie/organization", "/api/qonto/organization"} {
		var body map[string]string
		p := b.getJSON(d.URL+path, &body)
		assert.Equal(t, http.StatusUnauthorized, p.Status, path)
		assert.Equal(t, "not_authenticated", body["error"], path)
	}
	for _, path := range []string{"/connect/mollie", "/connect/qonto", "/connect/qonto/callback?state=x&code=y"} {
		p := b.getNoFollow(d.URL + path)
		assert.Equal(t, http.StatusSeeOther, p.Status, path)
		assert.Equal(t, "/", p.Header.Get("Location"), path)
	}
	for _, path := range []string{"/connections/mollie/disconnect", "/connections/qonto/refresh", "/connect/mollie/client-link"} {
		p := b.post(d.URL+path, signupForm0(), false)
		assert.Equal(t, http.StatusSeeOther, p.Status, path)
		assert.Equal(t, "/", p.Header.Get("Location"), path)
	}
	assert.Empty(t, d.fakeMollie.ClientLinks())
}

// TestFailedCallback: every failure renders the demo's error page with a
// 4xx/5xx status, provider text escaped, and stores nothing.
func TestFailedCallback(t *testing.T) {
	for name, tc := range map[string]struct {
		provider string
		script   func(d *demo)
		status   int
		text     string
	}{
		"provider error with markup": {"qonto", func(d *demo) {
			d.fakeQonto.DenyNext("server_error", `<script>alert(1)</script>`)
		}, http.StatusBadGateway, "The provider said: <q>&lt;script&gt;alert(1)&lt;/script&gt;</q>"},
		"user declined": {"mollie", func(d *demo) {
			d.fakeMollie.DenyNext("access_denied", "The resource owner denied the request.")
		}, http.StatusForbidden, "Connection cancelled"},
		"token endpoint fails": {"mollie", func(d *demo) {
			d.fakeMollie.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Status: http.StatusInternalServerError})
		}, http.StatusBadGateway, "token endpoint failed"},
		"token endpoint refuses": {"qonto", func(d *demo) {
			d.fakeQonto.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Status: http.StatusBadRequest, Body: `{"error":"invalid_grant"}`, ContentType: "application/json"})
		}, http.StatusBadGateway, "token endpoint failed"},
	} {
		t.Run(name, func(t *testing.T) {
			d := startDemo(t, nil)
			b := newBrowser(t)
			b.login(d, "carol")
			tc.script(d)
			p := b.get(d.URL + "/connect/" + tc.provider)
			if strings.Contains(p.Body, "Authorize application") {
				p = b.approve(p) // scripted decisions skip the consent page; faults do not
			}
			assert.Equal(t, tc.status, p.Status, p.Body)
			assert.Equal(t, "/connect/"+tc.provider+"/callback", p.URL.Path)
			assert.Contains(t, p.Body, tc.text)
			assert.NotContains(t, p.Body, "<script>")
			assert.Equal(t, "no-store", p.Header.Get("Cache-Control"))
			assertNothingStored(t, d, "carol")
		})
	}

	t.Run("store unavailable", func(t *testing.T) {
		d := startDemo(t, func(c *config) { c.Store = "sqlite:" + filepath.Join(t.TempDir(), "demo.db") })
		b := newBrowser(t)
		b.login(d, "carol")
		consent := b.get(d.URL + "/connect/qonto")
		require.NoError(t, d.closers[0](), "close the database under the running demo")
		p := b.approve(consent)
		// The replay guard, in the store, fails before the code is spent:
		// 503 (500 in library versions that count it as a store failure).
		assert.Contains(t, []int{http.StatusInternalServerError, http.StatusServiceUnavailable}, p.Status, p.Body)
		assert.Contains(t, p.Body, "The token store")
		assert.Zero(t, d.fakeQonto.Exchanges(), "the code was not spent")
	})

	t.Run("forged state", func(t *testing.T) {
		d := startDemo(t, nil)
		b := newBrowser(t)
		b.login(d, "carol")
		p := b.get(d.URL + "/connect/qonto/callback?state=forged-state-value&code=ory_ac_x")
		assert.Equal(t, http.StatusBadRequest, p.Status)
		// No flow cookie matches a forged state.
		assert.Contains(t, p.Body, "Your browser did not send back the sign-in cookie")
		assert.Contains(t, p.Body, `<a class="button" id="error-action" href="/connect/qonto">Start again</a>`)
		assertNothingStored(t, d, "carol")
	})

	t.Run("replayed callback", func(t *testing.T) {
		d := startDemo(t, nil)
		b := newBrowser(t)
		b.login(d, "carol")
		b.hops = nil
		b.connect(d, "qonto")
		callback := b.hops[len(b.hops)-1].URL
		require.Contains(t, callback, "/connect/qonto/callback?")
		before, err := d.store0().Load(t.Context(), "qonto", "carol")
		require.NoError(t, err)

		p := b.get(callback)
		assert.Equal(t, http.StatusBadRequest, p.Status)
		assert.Contains(t, p.Body, "<h1>You&#39;re already connected</h1>", "the reload is told the account is connected")
		assert.Contains(t, p.Body, "it connected your Qonto account")
		assert.Contains(t, p.Body, `Logged in as <strong id="user">carol</strong>`, "the header says who is logged in")
		assert.Contains(t, p.Body, `href="/">Back to the dashboard</a>`)
		after, err := d.store0().Load(t.Context(), "qonto", "carol")
		require.NoError(t, err)
		assert.Equal(t, before.Version, after.Version, "the replay changed nothing")
		assert.Equal(t, 1, d.fakeQonto.Exchanges())
	})
}

func assertNothingStored(t *testing.T, d *demo, owner string) {
	t.Helper()
	list, err := d.store0().List(t.Context(), owner)
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestCrossOriginPostRefused(t *testing.T) {
	d := startDemo(t, nil)
	b := newBrowser(t)
	b.login(d, "dave")
	b.connect(d, "mollie")
	for name, header := range map[string][]string{
		"Sec-Fetch-Site cross-site": {"Sec-Fetch-Site", "cross-site"},
		"foreign Origin":            {"Sec-Fetch-Site", "", "Origin", "http://evil.example"},
	} {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/connections/mollie/disconnect", "/connect/mollie/client-link", "/login", "/logout"} {
				p := b.post(d.URL+path, signupForm0(), false, header...)
				assert.Equal(t, http.StatusForbidden, p.Status, path)
				assert.Contains(t, p.Body, "Request refused", path)
			}
		})
	}
	_, err := d.store0().Load(t.Context(), "mollie", "dave")
	assert.NoError(t, err, "still connected")
	assert.Empty(t, d.fakeMollie.ClientLinks())
}

func TestRefreshNow(t *testing.T) {
	d := startDemo(t, nil)
	b := newBrowser(t)
	b.login(d, "erin")
	b.connect(d, "qonto")
	before, err := d.store0().Load(t.Context(), "qonto", "erin")
	require.NoError(t, err)

	p := b.post(d.URL+"/connections/qonto/refresh", nil, false)
	assert.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	assert.Equal(t, 1, d.fakeQonto.Refreshes())
	after, err := d.store0().Load(t.Context(), "qonto", "erin")
	require.NoError(t, err)
	assert.NotEqual(t, before.RefreshToken.Reveal(), after.RefreshToken.Reveal(), "Qonto rotated the refresh token")
	assert.True(t, d.fakeQonto.RefreshTokenValid(after.RefreshToken.Reveal()))

	var org map[string]any
	raw := b.getJSON(d.URL+"/api/qonto/organization", &org)
	assert.Equal(t, http.StatusOK, raw.Status, raw.Body)

	p = b.post(d.URL+"/connections/mollie/refresh", nil, false)
	assert.Equal(t, http.StatusNotFound, p.Status)
	assert.Contains(t, p.Body, "Mollie is not connected")
}

func TestQontoOrganizationParam(t *testing.T) {
	d := startDemo(t, nil)
	b := newBrowser(t)
	b.login(d, "fay")

	p := b.get(d.URL + "/connect/qonto?organization_id=not-a-uuid")
	assert.Equal(t, http.StatusBadRequest, p.Status)
	assert.Contains(t, p.Body, "organization_id parameter is invalid", "the page names the parameter")
	assert.NotContains(t, p.Body, "not-a-uuid", "and never shows its value")

	const org = "a584b060-8c96-488d-8bbb-74f0d3d2803c"
	p = b.connect(d, "qonto?organization_id="+strings.ToUpper(org)+"&registration_id=")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Equal(t, org, d.fakeQonto.LastAuthorize().Extra.Get("organization_id"))
	conn, err := d.store0().Load(t.Context(), "qonto", "fay")
	require.NoError(t, err)
	assert.Equal(t, org, conn.AccountID)
}

// TestDashboardShowsConnection checks what a person reads on the card.
func TestDashboardShowsConnection(t *testing.T) {
	d := startDemo(t, nil)
	b := newBrowser(t)
	b.login(d, "gus")
	p := b.connect(d, "mollie")
	card := section(t, p.Body, "mollie")
	assert.Contains(t, card, `data-status="active"`)
	assert.Regexp(t, `<span class="account-name">Test Organization \d+</span> <code class="account-id">org_\d+</code>`, card, "the name, the id beside it")
	assert.Contains(t, card, "<code>organizations.read</code> <code>onboarding.read</code>")
	assert.Regexp(t, `\(in (59|60) min\)`, card)
	for _, button := range []string{"Reconnect", "Refresh now", "Disconnect", "Organization JSON"} {
		assert.Contains(t, card, button)
	}
	assert.Contains(t, section(t, p.Body, "qonto"), `data-status="none"`)
}

func section(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<section class="card" id="` + id + `".*?</section>`).FindString(body)
	require.NotEmpty(t, m, "no %s card", id)
	return m
}

func fake(d *demo, provider string) interface{ RefreshTokenValid(string) bool } {
	if provider == "mollie" {
		return d.fakeMollie
	}
	return d.fakeQonto
}

func mapKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

func assertNoTokens(t *testing.T, s string, conn *oauthlink.Connection) {
	t.Helper()
	for _, secret := range []string{conn.AccessToken.Reveal(), conn.RefreshToken.Reveal()} {
		require.NotEmpty(t, secret)
		assert.NotContains(t, s, secret)
	}
}

// assertNoSecretsLogged looks for anything shaped like a token, code or
// state in the log.
func assertNoSecretsLogged(t *testing.T, logs string) {
	t.Helper()
	require.NotEmpty(t, logs)
	for _, re := range []string{`ory_(ac|at|rt)_\w`, `\bauth_\w{10}`, `\baccess_\w{10}`, `\brefresh_[A-Za-z0-9]{20}`, `state=`, `code=`, `fake-secret`} {
		assert.NotRegexp(t, re, logs)
	}
}

// TestLiveProviders configures both providers as real ones (client ids and
// URLs), pointed at fakes the test owns: the page says "live", Qonto's
// staging token travels on every server-side call, client links use
// MOLLIE_ORG_TOKEN, and without it the form says so and the route answers
// 501.
func TestLiveProviders(t *testing.T) {
	m := oauthlinktest.NewMollie(oauthlinktest.MollieOptions{ConsentPage: true})
	t.Cleanup(m.Close)
	q := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{StagingToken: "staging-token-1"})
	t.Cleanup(q.Close)
	live := func(orgToken string) func(*config) {
		return func(c *config) {
			c.Mollie = providerEnv{ClientID: m.ClientID(), ClientSecret: m.ClientSecret(), OrgToken: orgToken,
				AuthURL: m.AuthURL(), TokenURL: m.TokenURL(), APIURL: m.APIURL()}
			c.Qonto = providerEnv{ClientID: q.ClientID(), ClientSecret: q.ClientSecret(), StagingToken: "staging-token-1",
				AuthURL: q.AuthURL(), TokenURL: q.TokenURL(), RevokeURL: q.RevokeURL(), APIURL: q.APIURL()}
		}
	}

	t.Run("qonto with a staging token", func(t *testing.T) {
		d := startDemo(t, live(""))
		b := newBrowser(t)
		b.login(d, "ivy")
		p := b.get(d.URL + "/")
		assert.Equal(t, 2, strings.Count(p.Body, `<span class="badge live">live</span>`))
		assert.NotContains(t, p.Body, "badge sandbox")
		assert.Nil(t, d.fakeMollie)
		assert.Nil(t, d.fakeQonto)

		p = b.get(d.URL + "/connect/qonto") // the fake approves at once
		require.Equal(t, http.StatusOK, p.Status, p.Body)
		assert.Contains(t, section(t, p.Body, "qonto"), `data-status="active"`)
		var org map[string]any
		raw := b.getJSON(d.URL+"/api/qonto/organization", &org)
		assert.Equal(t, http.StatusOK, raw.Status, "the staging header reached the API: %s", raw.Body)
		p = b.post(d.URL+"/connections/qonto/refresh", nil, false)
		assert.Equal(t, http.StatusSeeOther, p.Status)
		assert.Equal(t, 1, q.Refreshes())
	})

	t.Run("mollie client links need the organization token", func(t *testing.T) {
		d := startDemo(t, live(""))
		b := newBrowser(t)
		b.login(d, "ivy")
		assert.Contains(t, b.get(d.URL+"/").Body, "Set <code>MOLLIE_ORG_TOKEN</code>")
		p := b.post(d.URL+"/connect/mollie/client-link", signupForm0(), false)
		assert.Equal(t, http.StatusNotImplemented, p.Status)
		assert.Contains(t, p.Body, "MOLLIE_ORG_TOKEN")
	})

	t.Run("mollie client link with the organization token", func(t *testing.T) {
		d := startDemo(t, live(oauthlinktest.DefaultOrganizationToken))
		b := newBrowser(t)
		b.login(d, "ivy")
		assert.NotContains(t, b.get(d.URL+"/").Body, "MOLLIE_ORG_TOKEN")
		p := b.post(d.URL+"/connect/mollie/client-link", signupForm0(), false)
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		assert.True(t, strings.HasPrefix(p.Header.Get("Location"), m.URL()+"/dashboard/client-link/"))
	})
}

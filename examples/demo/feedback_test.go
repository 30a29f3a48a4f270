package main

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
)

var noticeRe = regexp.MustCompile(`(?s)<p class="notice" role="status" id="notice">(.*?)</p>`)

// noticeOf returns the page's one-time notice, unescaped; "" when none.
func noticeOf(body string) string {
	m := noticeRe.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// TestNotices (issue 16 item 3): after every action the dashboard says
// what happened, once.
func TestNotices(t *testing.T) {
	d := startDemo(t, nil)
	b := newBrowser(t)
	b.login(d, "alice")

	p := b.connect(d, "qonto")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	first, err := d.store0().Load(t.Context(), "qonto", "alice")
	require.NoError(t, err)
	assert.Equal(t, "Connected to Sandbox Company 1 ("+first.AccountID+") at Qonto.", noticeOf(p.Body))
	assert.Empty(t, noticeOf(b.get(d.URL+"/").Body), "a notice is shown once")

	// Reconnect: the sandbox approves as a new organization, and the
	// notice says the link moved.
	p = b.connect(d, "qonto")
	second, err := d.store0().Load(t.Context(), "qonto", "alice")
	require.NoError(t, err)
	require.NotEqual(t, first.AccountID, second.AccountID)
	assert.Equal(t, "Reconnected: now linked to Sandbox Company 2 ("+second.AccountID+") instead of Sandbox Company 1 ("+first.AccountID+") at Qonto.", noticeOf(p.Body))

	// Reconnect to the same organization.
	d.fakeQonto.ApproveNextAs(second.AccountID)
	p = b.get(d.URL + "/connect/qonto")
	assert.Equal(t, "Reconnected to Sandbox Company 2 ("+second.AccountID+") at Qonto (the same organization as before), with a new token.", noticeOf(p.Body))

	// Refresh now.
	p = b.post(d.URL+"/connections/qonto/refresh", nil, true)
	assert.Regexp(t, `^Token refreshed: Qonto's new token is valid until \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in (59 min|1 h 0 min)\)\.$`, noticeOf(p.Body))

	// Disconnect.
	p = b.post(d.URL+"/connections/qonto/disconnect", nil, true)
	assert.Equal(t, "Disconnected Sandbox Company 2 ("+second.AccountID+") and revoked the demo's access at Qonto.", noticeOf(p.Body))

	// A client-link signup.
	form := signupForm0()
	form.Set("organization_name", "Ada's Bakery")
	p = b.post(d.URL+"/connect/mollie/client-link", form, true)
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	m, err := d.store0().Load(t.Context(), "mollie", "alice")
	require.NoError(t, err)
	assert.Equal(t, "Signed up Ada's Bakery via a client link: its new Mollie organization ("+m.AccountID+") is connected.", noticeOf(p.Body))
	// The next plain connect is not a signup.
	p = b.connect(d, "mollie")
	assert.True(t, strings.HasPrefix(noticeOf(p.Body), "Reconnected: now linked to Test Organization 2"), noticeOf(p.Body))
}

// TestRefreshNotice covers the three things "Refresh now" can report.
func TestRefreshNotice(t *testing.T) {
	now := time.Date(2026, 12, 7, 13, 4, 0, 0, time.UTC)
	before := &oauthlink.Connection{AccessToken: "a", Expiry: now.Add(58 * time.Minute)}
	after := &oauthlink.Connection{AccessToken: "b", Expiry: now.Add(time.Hour)}
	assert.Equal(t, "Token refreshed: Qonto's new token is valid until 2026-12-07 14:04 UTC (in 1 h 0 min).", refreshNotice("Qonto", before, after, now))
	assert.Equal(t, "Nothing to refresh yet: Qonto's token is valid for 58 min more, until 2026-12-07 14:02 UTC.", refreshNotice("Qonto", before, before, now))
	assert.Equal(t, "Nothing to refresh: Qonto gave this connection no refresh token; its token is valid for 58 min more, until 2026-12-07 14:02 UTC.", refreshNotice("Qonto", before, nil, now))
}

// revokeAtFake revokes the grant of the owner's connection at the fake
// Qonto behind the demo's back (RFC 7009), as an expired or lost grant
// would look.
func revokeAtFake(t *testing.T, d *demo, owner string) {
	t.Helper()
	c, err := d.store0().Load(t.Context(), "qonto", owner)
	require.NoError(t, err)
	resp, err := http.PostForm(d.fakeQonto.RevokeURL(), url.Values{"token": {c.AccessToken.Reveal()},
		"client_id": {d.fakeQonto.ClientID()}, "client_secret": {d.fakeQonto.ClientSecret()}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestStatusTruth (issue 16 item 2): a connection the provider refuses is
// shown as needing a reconnect, with only the actions that can work.
func TestStatusTruth(t *testing.T) {
	d := startDemo(t, nil)
	b := newBrowser(t)
	b.login(d, "bea")
	b.connect(d, "qonto")
	card := section(t, b.get(d.URL+"/").Body, "qonto")
	assert.Contains(t, card, `data-status="active">Active</span>`)
	assert.Contains(t, card, "Refresh now")

	revokeAtFake(t, d, "bea")
	// The API call takes the library's 401 path: one forced refresh,
	// which the provider refuses, so the connection is reauth_required.
	var answer map[string]any
	p := b.getJSON(d.URL+"/api/qonto/organization", &answer)
	assert.Equal(t, http.StatusUnauthorized, p.Status)
	assert.Equal(t, "reauth_required", answer["error"])

	card = section(t, b.get(d.URL+"/").Body, "qonto")
	assert.Contains(t, card, `data-status="reauth_required">Needs reconnect</span>`)
	assert.Contains(t, card, `<a class="button connect" id="connect-qonto" href="/connect/qonto">Reconnect</a>`)
	for _, gone := range []string{"Refresh now", "refreshed on next use", "Token expires", "Organization JSON"} {
		assert.NotContains(t, card, gone)
	}
	p = b.post(d.URL+"/connections/qonto/refresh", nil, false)
	assert.Equal(t, http.StatusConflict, p.Status)
	assert.Contains(t, p.Body, "<h1>Reconnect needed</h1>")
	assert.Contains(t, p.Body, `<a class="button" id="error-action" href="/connect/qonto">Reconnect Qonto</a>`)
	assert.Contains(t, p.Body, `Logged in as <strong id="user">bea</strong>`)

	var list []connectionJSON
	b.getJSON(d.URL+"/api/connections", &list)
	require.Len(t, list, 1)
	assert.Equal(t, "reauth_required", list[0].Status, "the JSON contract keeps its status values")
}

// TestPendingRevocation: a disconnect whose revocation the provider does
// not confirm is shown as pending, with a retry that completes it.
func TestPendingRevocation(t *testing.T) {
	d := startDemo(t, nil)
	b := newBrowser(t)
	b.login(d, "cleo")
	b.connect(d, "qonto")
	d.fakeQonto.Fault(oauthlinktest.EndpointRevoke, oauthlinktest.Fault{Status: http.StatusBadRequest,
		Body: `{"error":"invalid_request"}`, ContentType: "application/json"})
	p := b.post(d.URL+"/connections/qonto/disconnect", nil, true)
	assert.Equal(t, http.StatusBadGateway, p.Status)
	assert.Contains(t, p.Body, "<h1>Disconnected — revocation pending</h1>")
	assert.Contains(t, p.Body, `<form method="post" action="/connections/qonto/disconnect"><button type="submit" id="error-action">Retry the revocation</button></form>`)

	card := section(t, b.get(d.URL+"/").Body, "qonto")
	assert.Contains(t, card, `data-status="disconnected">Disconnected — revocation pending</span>`)
	assert.Contains(t, card, "Retry the revocation")
	assert.NotContains(t, card, "Refresh now")

	p = b.post(d.URL+"/connections/qonto/disconnect", nil, true)
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Regexp(t, `^Revocation confirmed: Sandbox Company 1 \([0-9a-f-]{36}\) is disconnected and revoked at Qonto\.$`, noticeOf(p.Body))
	assert.Contains(t, section(t, p.Body, "qonto"), `data-status="none"`)
}

// TestErrorPages (issue 16 item 4): each cause has its own page, with the
// header and the action that fixes it.
func TestErrorPages(t *testing.T) {
	t.Run("back then approve, when connected", func(t *testing.T) {
		d := startDemo(t, nil)
		b := newBrowser(t)
		b.login(d, "dora")
		consent := b.get(d.URL + "/connect/qonto")
		b.approve(consent)
		p := b.approve(consent) // Back to the consent page, Approve again
		assert.Equal(t, http.StatusBadRequest, p.Status)
		assert.Contains(t, p.Body, "<h1>You&#39;re already connected</h1>")
		assert.Contains(t, p.Body, `Logged in as <strong id="user">dora</strong>`)
		assert.Equal(t, 1, d.fakeQonto.Exchanges(), "the second code was not spent")
	})
	t.Run("replayed after a disconnect", func(t *testing.T) {
		d := startDemo(t, nil)
		b := newBrowser(t)
		b.login(d, "dora")
		b.hops = nil
		b.connect(d, "qonto")
		callback := b.hops[len(b.hops)-1].URL
		b.post(d.URL+"/connections/qonto/disconnect", nil, true)
		p := b.get(callback)
		assert.Equal(t, http.StatusBadRequest, p.Status)
		assert.Contains(t, p.Body, "<h1>This connection attempt was already used</h1>")
		assert.Contains(t, p.Body, `id="error-action" href="/connect/qonto">Start again</a>`)
		assertNothingStored(t, d, "dora")
	})
	t.Run("a flow older than 10 minutes", func(t *testing.T) {
		clock := oauthlinktest.NewClock(time.Now())
		d := startDemo(t, func(c *config) { c.Now = clock.Now })
		b := newBrowser(t)
		b.login(d, "dora")
		consent := b.get(d.URL + "/connect/mollie")
		clock.Advance(11 * time.Minute)
		p := b.approve(consent)
		assert.Equal(t, http.StatusBadRequest, p.Status)
		assert.Contains(t, p.Body, "<h1>This connection attempt expired; start again</h1>")
		assert.Contains(t, p.Body, `id="error-action" href="/connect/mollie">Start again</a>`)
		assert.Zero(t, d.fakeMollie.Exchanges())
	})
	t.Run("the cookie did not come back", func(t *testing.T) {
		d := startDemo(t, nil)
		b := newBrowser(t)
		b.login(d, "dora")
		consent := b.get(d.URL + "/connect/qonto")
		other := newBrowser(t) // another browser, the same user
		other.login(d, "dora")
		p := other.approve(consent)
		assert.Equal(t, http.StatusBadRequest, p.Status)
		assert.Contains(t, p.Body, "<h1>Your browser did not send back the sign-in cookie</h1>")
		assert.Contains(t, p.Body, "cookies are blocked for this site")
		assertNothingStored(t, d, "dora")
	})
	for name, tc := range map[string]struct{ query, title, hint string }{
		"invalid organization_id": {"organization_id=nope", "Invalid organization_id", "it must be a UUID"},
		"both Qonto parameters":   {"organization_id=a584b060-8c96-488d-8bbb-74f0d3d2803c&registration_id=1acf250c-a068-47fa-ae9d-032b85c148dc", "Invalid organization_id", "send only one of organization_id and registration_id"},
		"refused return_to":       {"return_to=https://evil.example/", "Invalid return_to", "it must be a path on this site"},
	} {
		t.Run(name, func(t *testing.T) {
			d := startDemo(t, nil)
			b := newBrowser(t)
			b.login(d, "dora")
			p := b.get(d.URL + "/connect/qonto?" + tc.query)
			assert.Equal(t, http.StatusBadRequest, p.Status)
			assert.Contains(t, p.Body, "<h1>"+tc.title+"</h1>")
			assert.Contains(t, p.Body, tc.hint)
			assert.NotContains(t, p.Body, "evil.example", "the value is not echoed")
			assert.Contains(t, p.Body, `Logged in as <strong id="user">dora</strong>`)
		})
	}
}

// TestDashboardDetails (issue 16 item 5).
func TestDashboardDetails(t *testing.T) {
	d := startDemo(t, nil)
	b := newBrowser(t)

	// Logged out, a connect link says "Log in to continue" and comes back
	// after the login, its query kept.
	p := b.getNoFollow(d.URL + "/connect/qonto?return_to=%2F%3Ffrom%3Dlink")
	assert.Equal(t, http.StatusSeeOther, p.Status)
	assert.Equal(t, "/", p.Header.Get("Location"), "the documented redirect")
	p = b.get(d.URL + "/")
	assert.Contains(t, p.Body, `<p class="notice" role="status" id="continue">Log in to continue: you will be taken back to /connect/qonto?return_to=%2F%3Ffrom%3Dlink.</p>`)
	p = b.post(d.URL+"/login", url.Values{"user": {"eve"}}, false)
	assert.Equal(t, http.StatusSeeOther, p.Status)
	assert.Equal(t, "/connect/qonto?return_to=%2F%3Ffrom%3Dlink", p.Header.Get("Location"))
	p = b.approve(b.get(d.URL + p.Header.Get("Location")))
	assert.Equal(t, "/?from=link", p.URL.RequestURI(), "the flow kept its return_to")
	assert.Contains(t, noticeOf(p.Body), "Connected to Sandbox Company 1")
	// The destination is used once.
	p = b.post(d.URL+"/logout", nil, true)
	assert.NotContains(t, p.Body, "Log in to continue")

	// A logged-out callback cannot be resumed (its query holds the code),
	// but the login form says why it is shown.
	b.getNoFollow(d.URL + "/connect/qonto/callback?state=x&code=y")
	p = b.get(d.URL + "/")
	assert.Contains(t, p.Body, "Log in to continue, then start again from the dashboard.")
	p = b.post(d.URL+"/login", url.Values{"user": {"eve"}}, true)
	assert.Equal(t, "/", p.URL.Path)
	assert.Empty(t, noticeOf(p.Body), "said on the login form, not again")

	// The dashboard: never cached, the organization's name with its id,
	// one date format with a relative time, no empty Qonto parameters.
	assert.Equal(t, "no-store", p.Header.Get("Cache-Control"))
	card := section(t, p.Body, "qonto")
	c, err := d.store0().Load(t.Context(), "qonto", "eve")
	require.NoError(t, err)
	assert.Contains(t, card, `<span class="account-name">Sandbox Company 1</span> <code class="account-id">`+c.AccountID+`</code>`)
	assert.Regexp(t, `<time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time> <span class="muted">\(in (59 min|1 h 0 min)\)</span>`, card)
	assert.Regexp(t, `<dt>Connected</dt><dd>\d{4}-\d\d-\d\d \d\d:\d\d UTC <span class="muted">\((\d+ s ago|just now)\)</span>`, card)
	assert.Contains(t, card, `<a class="button secondary connect" id="connect-qonto" href="/connect/qonto">Reconnect</a>`)
	for _, form := range regexp.MustCompile(`(?s)<form method="get" action="/connect/qonto".*?</form>`).FindAllString(card, -1) {
		assert.Equal(t, 1, strings.Count(form, "<input"), "one parameter per form, so none is sent empty: %s", form)
		assert.Contains(t, form, " required ")
	}

	// The login says which names it takes.
	p = b.post(d.URL+"/login", url.Values{"user": {"Ada Lovelace"}}, false)
	assert.Equal(t, http.StatusUnprocessableEntity, p.Status)
	assert.Contains(t, p.Body, "no spaces, e.g. ada.lovelace")
}

// TestSandboxConsentRevocation (issue 16 item 6): the merchant revokes at
// the sandbox Qonto's connected-applications page, the fake sends the
// signed webhook, and the dashboard shows the connection revoked.
func TestSandboxConsentRevocation(t *testing.T) {
	d := startDemo(t, nil)
	b := newBrowser(t)
	b.login(d, "fay")
	p := b.connect(d, "qonto")
	m := regexp.MustCompile(`<a href="([^"]+)" id="qonto-consents">connected applications</a>`).FindStringSubmatch(p.Body)
	require.NotNil(t, m, "the dashboard links the sandbox's page")
	page := b.get(html.UnescapeString(m[1]))
	require.Equal(t, http.StatusOK, page.Status)
	assert.Equal(t, "localhost", page.URL.Hostname(), "the merchant's side is the provider's site")
	assert.Contains(t, page.Body, "Sandbox Company 1")

	c, err := d.store0().Load(t.Context(), "qonto", "fay")
	require.NoError(t, err)
	p = b.post(page.URL.String(), url.Values{"organization_id": {c.AccountID}}, false)
	assert.Equal(t, http.StatusOK, p.Status)
	assert.Contains(t, p.Body, "Access revoked for Sandbox Company 1")
	assert.Contains(t, p.Body, "/webhooks/qonto</code>: answered 204")

	card := section(t, b.get(d.URL+"/").Body, "qonto")
	assert.Contains(t, card, `data-status="revoked">Revoked by the merchant</span>`)
	assert.Contains(t, card, "Connect again")
	assert.Contains(t, card, ">Remove</button>")
	assert.NotContains(t, card, "Refresh now")
	after, err := d.store0().Load(t.Context(), "qonto", "fay")
	require.NoError(t, err)
	assert.Equal(t, store.StatusRevoked, after.Status)

	p = b.post(d.URL+"/connections/qonto/disconnect", nil, true)
	assert.Equal(t, "Removed the connection to Sandbox Company 1 ("+c.AccountID+"): the merchant had already revoked it at Qonto.", noticeOf(p.Body))
}

// TestTimes: one date format, with a relative time that never puts a past
// event in the future.
func TestTimes(t *testing.T) {
	now := time.Date(2026, 12, 7, 13, 4, 0, 0, time.UTC)
	assert.Equal(t, "2026-12-07 13:04 UTC", fmtTime(now.In(time.FixedZone("CET", 3600))))
	assert.Equal(t, "in 59 min", relative(now.Add(59*time.Minute+30*time.Second), now))
	assert.Equal(t, "2 h 5 min ago", relative(now.Add(-125*time.Minute), now))
	assert.Equal(t, "2 h 5 min ago", ago(now.Add(-125*time.Minute), now))
	assert.Equal(t, "just now", ago(now.Add(500*time.Millisecond), now), "a store clock a little ahead")
	assert.Equal(t, "just now", ago(now, now))
}

// TestTwoTabs: two tabs start a flow each; the second to finish is a
// reconnect, and its notice says the link moved.
func TestTwoTabs(t *testing.T) {
	d := startDemo(t, nil)
	b := newBrowser(t)
	b.login(d, "tab")
	first := b.get(d.URL + "/connect/qonto")
	second := b.get(d.URL + "/connect/qonto")
	p := b.approve(second)
	assert.True(t, strings.HasPrefix(noticeOf(p.Body), "Connected to Sandbox Company 1 ("), noticeOf(p.Body))
	p = b.approve(first)
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Regexp(t, `^Reconnected: now linked to Sandbox Company 2 \([0-9a-f-]{36}\) instead of Sandbox Company 1 \([0-9a-f-]{36}\) at Qonto\.$`, noticeOf(p.Body))
}

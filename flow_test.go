package oauthlink_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
)

func TestFullFlow(t *testing.T) {
	for _, provider := range []string{"mollie", "qonto", "stripe", "gocardless", "adyen"} {
		t.Run(provider, func(t *testing.T) {
			e := newEnv(t, withFake("stripe"), withFake("gocardless"), withFake("adyen"))
			b := e.browser("shop-1")
			cb := b.connect(provider, "?return_to=/settings%3Ftab%3Dpayments")
			require.Equal(t, http.StatusSeeOther, cb.Status, cb.Body)
			assert.Equal(t, "/settings?tab=payments", cb.Header.Get("Location"))

			conn, err := e.load(provider, "shop-1")
			require.NoError(t, err)
			f := e.fakes[provider]
			assert.True(t, f.AccessTokenValid(conn.AccessToken.Reveal()))
			if provider == "gocardless" {
				assert.Empty(t, conn.RefreshToken, "GoCardless issues none")
			} else {
				assert.True(t, f.RefreshTokenValid(conn.RefreshToken.Reveal()))
			}
			assert.Equal(t, store.StatusActive, conn.Status)
			assert.Equal(t, e.app.URL+"/connect/"+provider+"/callback", conn.RedirectURI)
			assert.Equal(t, "Bearer", conn.TokenType)
			switch provider {
			case "stripe", "gocardless":
				assert.True(t, conn.Expiry.IsZero(), "access tokens that do not expire")
				assert.Equal(t, f.LastAuthorize().AccountID, conn.AccountID)
			default:
				assert.WithinDuration(t, e.clk.Now().Add(time.Hour), conn.Expiry, time.Second)
			}
			assert.Equal(t, int64(1), conn.Version)
			assert.Equal(t, 1, f.Exchanges())

			want := oauthlinktest.ClientAuthBasic
			if provider != "mollie" && provider != "adyen" {
				want = oauthlinktest.ClientAuthBody
			}
			assert.Equal(t, []oauthlinktest.ClientAuth{want}, f.ClientAuths(oauthlinktest.EndpointToken), "G27: pinned client auth")
			ar := f.LastAuthorize()
			assert.Equal(t, e.app.URL+"/connect/"+provider+"/callback", ar.RedirectURI)
			if provider == "qonto" {
				assert.Contains(t, ar.Scopes, "offline_access")
			}
			if provider == "adyen" {
				assert.Equal(t, "S256", ar.CodeChallengeMethod, "Adyen's PKCE")
			}
		})
	}
}

func TestAuthorizeURL(t *testing.T) {
	e := newEnv(t, withConfig(func(c *oauthlink.Config) {
		c.Scopes = []string{"organizations.read", "payments.read"}
		if c.Provider.Name == "mollie" {
			c.Flow.AuthParams = func(*http.Request) (url.Values, error) {
				return url.Values{"locale": {"nl_NL"}, "approval_prompt": {"force"}}, nil
			}
		}
	}))
	b := e.browser("shop-1")
	h := b.get(e.app.URL + "/connect/mollie")
	require.Equal(t, http.StatusSeeOther, h.Status)
	loc := h.Header.Get("Location")
	assert.Contains(t, loc, "scope=organizations.read%20payments.read", "space-separated, %20-encoded")
	u, err := url.Parse(loc)
	require.NoError(t, err)
	q := u.Query()
	assert.Equal(t, e.mollie.ClientID(), q.Get("client_id"))
	assert.Equal(t, "code", q.Get("response_type"))
	assert.Equal(t, "nl_NL", q.Get("locale"))
	assert.Equal(t, "force", q.Get("approval_prompt"))
	assert.Len(t, q.Get("state"), 22)
	assert.Empty(t, q.Get("code_challenge"), "Mollie: no PKCE")
	assert.Equal(t, "no-store", h.Header.Get("Cache-Control"))
}

func TestStartRejectsDisallowedParams(t *testing.T) {
	e := newEnv(t, withConfig(func(c *oauthlink.Config) {
		c.Flow.AuthParams = func(*http.Request) (url.Values, error) { return url.Values{"redirect_uri": {"https://evil"}}, nil }
	}))
	h := e.browser("shop-1").get(e.app.URL + "/connect/qonto")
	assert.Equal(t, http.StatusBadRequest, h.Status)
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrBadRequest)
}

// Security catalogue A1: no state or no cookie → 400 and no token call.
func TestA1_MissingStateOrCookie(t *testing.T) {
	e := newEnv(t)
	b := e.browser("shop-1")
	h := b.get(e.app.URL + "/connect/mollie/callback?code=auth_x")
	assert.Equal(t, http.StatusBadRequest, h.Status)
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrInvalidState)

	cb := b.authorize("mollie", "")
	fresh := e.browser("shop-1") // same user, no flow cookie
	h = fresh.get(cb)
	assert.Equal(t, http.StatusBadRequest, h.Status)
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrInvalidState)
	assert.Zero(t, e.tokenCalls())
}

// A2: a tampered cookie, a cookie under another flow's name, or a query
// state that differs from the cookie's → 400.
func TestA2_TamperedCookieAndStateMismatch(t *testing.T) {
	e := newEnv(t)
	b := e.browser("shop-1")
	cb := b.authorize("mollie", "")
	u, _ := url.Parse(e.app.URL)
	cks := b.jar.Cookies(u)
	var flowCookie *http.Cookie
	for _, c := range cks {
		if strings.HasPrefix(c.Name, "__Host-oauthlink-mollie-") {
			flowCookie = c
		}
	}
	require.NotNil(t, flowCookie)

	t.Run("tampered value", func(t *testing.T) {
		v := []byte(flowCookie.Value)
		v[len(v)/2] ^= 0x04
		h := e.browser("shop-1").do(http.MethodGet, cb, http.Header{"Cookie": {"user=shop-1; " + flowCookie.Name + "=" + string(v)}})
		assert.Equal(t, http.StatusBadRequest, h.Status)
		assert.ErrorIs(t, e.lastErr(), oauthlink.ErrInvalidState)
	})
	t.Run("query state differs", func(t *testing.T) {
		cbu, _ := url.Parse(cb)
		q := cbu.Query()
		q.Set("state", "AAAAAAAAAAAAAAAAAAAAAA")
		cbu.RawQuery = q.Encode()
		// The genuine cookie is sent under its own name, and again under
		// the name the forged state maps to.
		h := e.browser("shop-1").do(http.MethodGet, cbu.String(), http.Header{"Cookie": {"user=shop-1; " + flowCookie.Name + "=" + flowCookie.Value}})
		assert.Equal(t, http.StatusBadRequest, h.Status)
	})
	assert.Zero(t, e.tokenCalls())
}

// A3: the callback is single use, in the browser (cookie deleted) and on
// the server (replay guard), even when the original cookie is replayed.
func TestA3_Replay(t *testing.T) {
	e := newEnv(t)
	b := e.browser("shop-1")
	cb := b.authorize("qonto", "")
	saved := b.cookieHeader()
	h := b.get(cb)
	require.Equal(t, http.StatusSeeOther, h.Status)

	again := b.get(cb)
	assert.Equal(t, http.StatusBadRequest, again.Status, "cookie was deleted")

	replay := e.browser("").do(http.MethodGet, cb, http.Header{"Cookie": {saved}})
	assert.Equal(t, http.StatusBadRequest, replay.Status)
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrStateReplayed)
	assert.Equal(t, 1, e.qonto.Exchanges(), "the code was spent once")
	assert.Equal(t, 1, e.qonto.Calls(oauthlinktest.EndpointToken))
}

// A4: a flow expires after 10 minutes.
func TestA4_FlowExpiry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after time.Duration
		ok    bool
	}{{"9m59s", 9*time.Minute + 59*time.Second, true}, {"10m01s", 10*time.Minute + time.Second, false}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, withQonto(oauthlinktest.QontoOptions{CodeLifetime: time.Hour}))
			b := e.browser("shop-1")
			cb := b.authorize("qonto", "")
			e.clk.Advance(tc.after)
			h := b.get(cb)
			if tc.ok {
				assert.Equal(t, http.StatusSeeOther, h.Status, h.Body)
				return
			}
			assert.Equal(t, http.StatusBadRequest, h.Status)
			assert.ErrorIs(t, e.lastErr(), oauthlink.ErrStateExpired)
			assert.Zero(t, e.tokenCalls())
		})
	}
}

// A5: connection CSRF. The victim opens the attacker's callback URL in the
// victim's session: rejected, nothing stored.
func TestA5_OwnerMismatch(t *testing.T) {
	e := newEnv(t)
	attacker := e.browser("attacker")
	cb := attacker.authorize("mollie", "")
	// The attacker's flow cookie travels too (worst case: planted).
	victim := e.browser("victim")
	h := victim.do(http.MethodGet, cb, http.Header{"Cookie": {strings.Replace(attacker.cookieHeader(), "user=attacker", "user=victim", 1)}})
	assert.Equal(t, http.StatusForbidden, h.Status)
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrOwnerMismatch)
	_, err := e.load("mollie", "victim")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = e.load("mollie", "attacker")
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.Zero(t, e.tokenCalls())

	anon := e.browser("")
	h = anon.do(http.MethodGet, cb, http.Header{"Cookie": {strings.Replace(attacker.cookieHeader(), "user=attacker; ", "", 1)}})
	assert.Equal(t, http.StatusUnauthorized, h.Status)
}

// A6 and D13: a Mollie flow's callback delivered to the Qonto route →
// 400, and no token endpoint is called.
func TestA6_D13_WrongProviderRoute(t *testing.T) {
	e := newEnv(t)
	b := e.browser("shop-1")
	cb := b.authorize("mollie", "")
	wrong := strings.Replace(cb, "/connect/mollie/callback", "/connect/qonto/callback", 1)
	h := b.get(wrong)
	assert.Equal(t, http.StatusBadRequest, h.Status)
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrInvalidState)
	assert.Zero(t, e.tokenCalls())
}

// A7: interleaved flows in two tabs both succeed; 20 flows keep the Cookie
// header under 8 KiB.
func TestA7_TwoTabsAndCookieCap(t *testing.T) {
	e := newEnv(t)
	b := e.browser("shop-1")
	cb1 := b.authorize("mollie", "?return_to=/one")
	cb2 := b.authorize("qonto", "?return_to=/two")
	h2 := b.get(cb2)
	h1 := b.get(cb1)
	assert.Equal(t, "/two", h2.Header.Get("Location"))
	assert.Equal(t, "/one", h1.Header.Get("Location"))

	for range 20 {
		b.get(e.app.URL + "/connect/mollie")
		b.get(e.app.URL + "/connect/qonto")
	}
	assert.Less(t, len(b.cookieHeader()), 8<<10)
	assert.LessOrEqual(t, strings.Count(b.cookieHeader(), "oauthlink-mollie-"), 5)
	// The newest flow still works after pruning.
	assert.Equal(t, http.StatusSeeOther, b.connect("mollie", "").Status)
}

// B9 and B10: flow cookie attributes.
func TestB9_CookieAttributes(t *testing.T) {
	e := newEnv(t)
	h := e.browser("shop-1").get(e.app.URL + "/connect/mollie")
	cks := (&http.Response{Header: h.Header}).Cookies()
	require.Len(t, cks, 1)
	c := cks[0]
	assert.True(t, strings.HasPrefix(c.Name, "__Host-oauthlink-mollie-"))
	assert.True(t, c.HttpOnly)
	assert.True(t, c.Secure)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite, "B10: Lax, not Strict")
	assert.Equal(t, "/", c.Path)
	assert.Empty(t, c.Domain)
	// The flow lives 600 s (FlowTTL); its cookie lingers 50 minutes more,
	// so a late callback is told it expired.
	assert.Equal(t, 3600, c.MaxAge)
	assert.Less(t, len(h.Header.Get("Set-Cookie")), 4096)
}

func TestB9_InsecureDevelopmentCookies(t *testing.T) {
	e := newEnv(t, withConfig(func(c *oauthlink.Config) { c.AllowInsecureHTTP = true }))
	h := e.browser("shop-1").get(e.app.URL + "/connect/mollie")
	c := (&http.Response{Header: h.Header}).Cookies()[0]
	assert.True(t, strings.HasPrefix(c.Name, "oauthlink-mollie-"))
	assert.False(t, c.Secure)
	assert.True(t, c.HttpOnly)
	assert.Contains(t, e.logs.String(), "AllowInsecureHTTP")
}

func make32(b byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = b
	}
	return k
}

// B11: a cookie that would exceed 4096 bytes fails the start; an old-key
// cookie still decodes after rotation.
func TestB11_CookieSizeAndKeyRotation(t *testing.T) {
	e := newEnv(t)
	// The longest owner id allowed, and a return-to that together do not
	// fit in 4096 bytes.
	b := e.browser(strings.Repeat("o", oauthlink.MaxOwnerLen))
	h := b.get(e.app.URL + "/connect/mollie?return_to=/" + strings.Repeat("r", 2000))
	assert.Equal(t, http.StatusBadRequest, h.Status)
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrCookieTooLarge)

	h = e.browser("shop-1").get(e.app.URL + "/connect/mollie?return_to=/" + strings.Repeat("a", 5000))
	assert.Equal(t, http.StatusBadRequest, h.Status)

	// Rotation: a flow started under the old secret completes on a
	// connector whose first secret is new.
	b = e.browser("shop-1")
	cb := b.authorize("mollie", "")
	rotated, err := oauthlink.New(oauthlink.Config{Provider: e.cfgs["mollie"].Provider, ClientID: e.mollie.ClientID(), ClientSecret: e.mollie.ClientSecret(),
		RedirectURL: e.app.URL + "/connect/mollie/callback", Store: e.store, Owner: ownerFromCookie,
		CookieSecrets: [][]byte{make32(9), e.secret}, HTTPClient: e.mollie.Client(), Now: e.clk.Now, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	e.mux.Handle("/rotated/mollie/callback", rotated.CallbackHandler())
	h = b.get(strings.Replace(cb, "/connect/mollie/callback", "/rotated/mollie/callback", 1))
	assert.Equal(t, http.StatusSeeOther, h.Status, h.Body)
}

// C12: S256 PKCE where the provider takes it; the fake recomputes the
// challenge, so a flow whose verifier is lost or swapped fails.
func TestC12_PKCE(t *testing.T) {
	e := newEnv(t, withQonto(oauthlinktest.QontoOptions{RequirePKCE: true}))
	b := e.browser("shop-1")
	start := b.get(e.app.URL + "/connect/qonto")
	u, _ := url.Parse(start.Header.Get("Location"))
	assert.Equal(t, "S256", u.Query().Get("code_challenge_method"))
	assert.Len(t, u.Query().Get("code_challenge"), 43)
	h := b.get(b.get(start.Header.Get("Location")).Header.Get("Location"))
	require.Equal(t, http.StatusSeeOther, h.Status, h.Body)

	// Swap: the code of flow 2 delivered with flow 1's state and cookie.
	cb1 := b.authorize("qonto", "")
	cb2 := b.authorize("qonto", "")
	u1, _ := url.Parse(cb1)
	u2, _ := url.Parse(cb2)
	q := u1.Query()
	q.Set("code", u2.Query().Get("code"))
	u1.RawQuery = q.Encode()
	h = b.get(u1.String())
	assert.Equal(t, http.StatusBadGateway, h.Status, "the fake refuses a verifier from another flow")
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrExchange)
}

// D14: with an issuer configured, a wrong, missing (when required) or
// repeated iss stops the callback before any token call.
func TestD14_Issuer(t *testing.T) {
	e := newEnv(t, withProvider(func(p *oauthlink.Provider) {
		p.Issuer = "https://issuer.example"
		p.IssuerRequired = true
	}))
	for name, extra := range map[string]string{
		"wrong":    "&iss=https%3A%2F%2Fevil.example",
		"missing":  "",
		"repeated": "&iss=https%3A%2F%2Fissuer.example&iss=https%3A%2F%2Fissuer.example",
	} {
		t.Run(name, func(t *testing.T) {
			b := e.browser("shop-1")
			h := b.get(b.authorize("mollie", "") + extra)
			assert.Equal(t, http.StatusBadRequest, h.Status)
		})
	}
	assert.Zero(t, e.tokenCalls())
	b := e.browser("shop-1")
	h := b.get(b.authorize("mollie", "") + "&iss=https%3A%2F%2Fissuer.example")
	assert.Equal(t, http.StatusSeeOther, h.Status, h.Body)
}

// E15: the redirect_uri is configured, not taken from Host headers.
func TestE15_HostHeaderInjection(t *testing.T) {
	e := newEnv(t)
	b := e.browser("shop-1")
	h := b.do(http.MethodGet, e.app.URL+"/connect/mollie", http.Header{"X-Forwarded-Host": {"evil.example"}})
	// Served directly: over TLS, net/http itself refuses a Host that does
	// not match the server name before any handler runs.
	req := httptest.NewRequest(http.MethodGet, "https://evil.example/connect/qonto", nil)
	req.Header.Set("Cookie", "user=shop-1")
	req.Header.Set("X-Forwarded-Host", "evil.example")
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, req)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	resp := rec.Result()
	for _, loc := range []string{h.Header.Get("Location"), resp.Header.Get("Location")} {
		u, err := url.Parse(loc)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(u.Query().Get("redirect_uri"), e.app.URL+"/connect/"), "location %q", loc)
	}
	// And the whole flow succeeds: the fake checks redirect_uri equality
	// at authorize and exchange.
	assert.Equal(t, http.StatusSeeOther, b.connect("mollie", "").Status)
}

// E16: return-to accepts relative paths only, at start and at redirect.
func TestE16_ReturnTo(t *testing.T) {
	e := newEnv(t)
	b := e.browser("shop-1")
	for _, bad := range []string{"//evil", "/\\evil", "/%09/evil", "/\t/evil", "https:evil", "javascript:alert(1)",
		"https://app.example.com.evil", "https://app@evil", "\uff0fevil", "/\uff0fevil"} {
		h := b.get(e.app.URL + "/connect/mollie?return_to=" + url.QueryEscape(bad))
		assert.Equal(t, http.StatusBadRequest, h.Status, "return_to %q", bad)
	}
	assert.Zero(t, e.tokenCalls())
}

// E17 and F: every callback branch carries no-store and no-referrer.
func TestE17_CallbackHeadersOnEveryBranch(t *testing.T) {
	e := newEnv(t)
	b := e.browser("shop-1")
	branches := map[string]string{
		"success":      b.authorize("mollie", ""),
		"no state":     e.app.URL + "/connect/mollie/callback?code=x",
		"bad state":    e.app.URL + "/connect/mollie/callback?code=x&state=nope",
		"repeated":     e.app.URL + "/connect/mollie/callback?code=x&code=y&state=s",
		"code + error": e.app.URL + "/connect/mollie/callback?code=x&error=y&state=s",
	}
	for name, target := range branches {
		h := b.get(target)
		assert.Equal(t, "no-store", h.Header.Get("Cache-Control"), name)
		assert.Equal(t, "no-referrer", h.Header.Get("Referrer-Policy"), name)
	}
}

// F18: an error callback without state is 400; with a valid state,
// access_denied is reported as a cancellation, the cookie is cleared and
// no token call is made.
func TestF18_ErrorCallback(t *testing.T) {
	e := newEnv(t)
	b := e.browser("shop-1")
	h := b.get(e.app.URL + "/connect/mollie/callback?error=access_denied&error_description=phish")
	assert.Equal(t, http.StatusBadRequest, h.Status)
	assert.NotContains(t, h.Body, "phish")

	e.mollie.DenyNext("access_denied", "The user denied")
	cb := b.authorize("mollie", "")
	h = b.get(cb)
	var pe *oauthlink.ProviderError
	require.ErrorAs(t, e.lastErr(), &pe)
	assert.True(t, pe.Cancelled())
	assert.Equal(t, http.StatusForbidden, h.Status)
	assert.Contains(t, h.Body, "cancelled")
	assert.NotContains(t, b.cookieHeader(), "oauthlink-mollie-", "cookie cleared")
	assert.Zero(t, e.tokenCalls())
}

// F19: provider text is escaped; error_uri is never rendered as a link.
func TestF19_ErrorTextEscaped(t *testing.T) {
	for _, desc := range []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, `javascript:alert(1)`} {
		e := newEnv(t)
		b := e.browser("shop-1")
		e.mollie.DenyNext("server_error", desc)
		cb := b.authorize("mollie", "")
		if !strings.Contains(cb, "error_uri=") {
			cb += "&error_uri=" + url.QueryEscape("javascript:alert(1)")
		}
		h := b.get(cb)
		assert.Equal(t, http.StatusBadGateway, h.Status)
		var pe *oauthlink.ProviderError
		require.ErrorAs(t, e.lastErr(), &pe)
		assert.False(t, pe.Cancelled())
		assert.NotContains(t, h.Body, "<script>")
		assert.NotContains(t, h.Body, "<img")
		assert.NotContains(t, h.Body, "javascript:alert(1)\"")
		assert.NotContains(t, h.Body, "href=\"javascript")
		assert.Equal(t, "text/html; charset=utf-8", h.Header.Get("Content-Type"))
	}
}

// F20: oversized or repeated parameters → 400.
func TestF20_OversizedOrRepeatedParams(t *testing.T) {
	e := newEnv(t)
	b := e.browser("shop-1")
	for name, q := range map[string]string{
		"1 MB query":     "code=x&state=s&pad=" + strings.Repeat("a", 1<<20),
		"repeated state": "code=x&state=a&state=b",
		"code and error": "code=x&error=access_denied&state=s",
	} {
		h := b.get(e.app.URL + "/connect/mollie/callback?" + q)
		assert.Equal(t, http.StatusBadRequest, h.Status, name)
	}
	assert.Zero(t, e.tokenCalls())
}

// G21: a hanging token endpoint is cut off by ExchangeTimeout.
func TestG21_TokenEndpointHang(t *testing.T) {
	e := newEnv(t, withConfig(func(c *oauthlink.Config) { c.Tokens.ExchangeTimeout = 200 * time.Millisecond }))
	e.mollie.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Delay: time.Minute})
	b := e.browser("shop-1")
	h := b.connect("mollie", "")
	assert.Equal(t, http.StatusBadGateway, h.Status)
	assert.ErrorIs(t, e.lastErr(), context.DeadlineExceeded)
	_, err := e.load("mollie", "shop-1")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// G22: a dropped connection during the exchange is not retried.
func TestG22_ExchangeNeverRetried(t *testing.T) {
	e := newEnv(t)
	e.qonto.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Drop: true})
	h := e.browser("shop-1").connect("qonto", "")
	assert.Equal(t, http.StatusBadGateway, h.Status)
	assert.Equal(t, 1, e.qonto.Calls(oauthlinktest.EndpointToken), "one POST only")
	assert.Equal(t, 1, e.qonto.Exchanges())
}

// G24–G26: malformed, HTML, huge and redirected token answers → 502,
// nothing stored, the body never echoed or logged.
func TestG24_G26_BadTokenAnswers(t *testing.T) {
	cases := []struct {
		name  string
		fault oauthlinktest.Fault
	}{
		{"html with 200", oauthlinktest.Fault{Status: 200, ContentType: "text/html", Body: "<html>SECRET-PAGE OneLogin</html>"}},
		{"empty access_token", oauthlinktest.Fault{Status: 200, Body: `{"access_token":"","token_type":"bearer","refresh_token":"r"}`}},
		{"non-bearer", oauthlinktest.Fault{Status: 200, Body: `{"access_token":"a","token_type":"mac","refresh_token":"r"}`}},
		{"error json", oauthlinktest.Fault{Status: 400, Body: `{"error":"invalid_grant","error_description":"SECRET-PAGE"}`}},
		{"50 MB", oauthlinktest.Fault{Status: 200, BodySize: 50 << 20}},
		{"307", oauthlinktest.Fault{RedirectTo: "http://127.0.0.1:1/steal"}},
		{"no refresh token (qonto requires one)", oauthlinktest.Fault{Status: 200, Body: `{"access_token":"a","token_type":"bearer","expires_in":3600}`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.qonto.Fault(oauthlinktest.EndpointToken, tc.fault)
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			h := e.browser("shop-1").connect("qonto", "")
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			assert.Equal(t, http.StatusBadGateway, h.Status)
			assert.ErrorIs(t, e.lastErr(), oauthlink.ErrExchange)
			assert.NotContains(t, h.Body, "SECRET-PAGE")
			assert.NotContains(t, e.logs.String(), "SECRET-PAGE<")
			assert.NotContains(t, e.lastErr().Error(), "OneLogin")
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "body read is capped")
			_, err := e.load("qonto", "shop-1")
			assert.ErrorIs(t, err, store.ErrNotFound)
			assert.Equal(t, 1, e.qonto.Calls(oauthlinktest.EndpointToken))
		})
	}
}

// failingStore fails Ping or Save on demand.
type failingStore struct {
	store.TokenStore
	pingErr, saveErr error
}

func (f *failingStore) Ping(context.Context) error { return f.pingErr }
func (f *failingStore) Save(ctx context.Context, c *oauthlink.Connection) error {
	if f.saveErr != nil {
		return f.saveErr
	}
	return f.TokenStore.Save(ctx, c)
}

// I34: the store is checked before the code is spent; a save that keeps
// failing after the exchange revokes the new grant and reports 500.
func TestI34_StoreDownDuringCallback(t *testing.T) {
	t.Run("ping fails: code not spent", func(t *testing.T) {
		fs := &failingStore{TokenStore: memstore.New(), pingErr: errors.New("connection refused")}
		e := newEnv(t, withStore(fs))
		h := e.browser("shop-1").connect("mollie", "")
		assert.Equal(t, http.StatusServiceUnavailable, h.Status)
		assert.ErrorIs(t, e.lastErr(), oauthlink.ErrStoreUnavailable)
		assert.Zero(t, e.tokenCalls())
	})
	t.Run("save fails: grant revoked, nothing stored", func(t *testing.T) {
		fs := &failingStore{TokenStore: memstore.New(), saveErr: errors.New("disk full")}
		e := newEnv(t, withStore(fs))
		h := e.browser("shop-1").connect("mollie", "")
		assert.Equal(t, http.StatusInternalServerError, h.Status)
		assert.ErrorIs(t, e.lastErr(), oauthlink.ErrStore)
		assert.NotContains(t, h.Body, "connected")
		assert.Equal(t, 1, e.mollie.Revocations())
		_, err := fs.TokenStore.Load(context.Background(), "mollie", "shop-1")
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
}

// K37: no code, state, token, verifier or client secret in logs, errors
// or pages across successful and failing flows.
func TestK37_NoSecretsInLogs(t *testing.T) {
	e := newEnv(t, withQonto(oauthlinktest.QontoOptions{RequirePKCE: true}), withFake("stripe"), withFake("gocardless"), withFake("adyen"))
	b := e.browser("shop-1")
	var canaries []string
	for _, p := range []string{"mollie", "qonto", "stripe", "gocardless", "adyen"} {
		cb := b.authorize(p, "")
		u, _ := url.Parse(cb)
		canaries = append(canaries, u.Query().Get("code"), u.Query().Get("state"))
		h := b.get(cb)
		require.Equal(t, http.StatusSeeOther, h.Status)
		conn, err := e.load(p, "shop-1")
		require.NoError(t, err)
		canaries = append(canaries, conn.AccessToken.Reveal(), e.fakes[p].ClientSecret())
		if p != "gocardless" { // issues no refresh token
			canaries = append(canaries, conn.RefreshToken.Reveal())
		}
		// A failing flow logs too.
		e.fakes[p].Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Status: 400, Body: `{"error":"invalid_grant"}`})
		cb = b.authorize(p, "")
		u, _ = url.Parse(cb)
		canaries = append(canaries, u.Query().Get("code"), u.Query().Get("state"))
		b.get(cb)
	}
	logs := e.logs.String()
	require.NotEmpty(t, logs)
	for _, c := range canaries {
		require.NotEmpty(t, c)
		assert.NotContains(t, logs, c)
		for _, err := range e.errs {
			assert.NotContains(t, err.Error(), c)
		}
	}
}

// F20: a ';' in the callback query is refused, as net/url refuses it.
func TestF20_SemicolonRefused(t *testing.T) {
	e := newEnv(t)
	b := e.browser("shop-1")
	cb := b.authorize("mollie", "")
	h := b.get(cb + ";x=1")
	assert.Equal(t, http.StatusBadRequest, h.Status)
	assert.Zero(t, e.tokenCalls())
	// The state itself is ambiguous here ("state=X;x=1"), so no flow
	// cookie is identified to clear; it expires with the flow. A clean
	// retry of the same callback still works once.
	assert.Equal(t, http.StatusSeeOther, b.get(cb).Status)
}

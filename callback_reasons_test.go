package oauthlink_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
)

// The sentences DefaultErrorHandler shows for each cause. Each test also
// checks that the page does not show the sentence of a neighbouring cause.
const (
	sayNoCookie      = "This browser has no record of this connection attempt"
	sayExpired       = "This connection attempt expired"
	sayConnected     = "Your account is connected"
	sayReplayed      = "This link was already used"
	sayOwner         = "This connection was started from another account"
	sayIssuerMissing = "did not say which server sent it"
	sayIssuerWrong   = "did not come from the provider this connection was started with"
	sayInvalidLink   = "does not belong to the connection attempt in this browser"
	sayParam         = "parameter is invalid"
	sayOldCatchAll   = "invalid or was already used"
)

// allSayings lists every cause-specific sentence, for the "and no other"
// check.
var allSayings = []string{sayNoCookie, sayExpired, sayConnected, sayReplayed, sayOwner,
	sayIssuerMissing, sayIssuerWrong, sayInvalidLink, sayParam, sayOldCatchAll}

// assertSays checks that the page shows want and none of the other
// cause-specific sentences.
func assertSays(t *testing.T, body, want string) {
	t.Helper()
	assert.Contains(t, body, want)
	for _, s := range allSayings {
		if s != want {
			assert.NotContains(t, body, s)
		}
	}
}

// A callback that arrives in a browser without the flow's cookie (the flow
// was started in another browser, or the cookie was blocked) is told so,
// not "invalid or already used".
func TestCallbackReasonNoFlowCookie(t *testing.T) {
	e := newEnv(t)
	cb := e.browser("shop-1").authorize("qonto", "")
	h := e.browser("shop-1").get(cb) // same user, another browser
	assert.Equal(t, http.StatusBadRequest, h.Status)
	err := e.lastErr()
	assert.ErrorIs(t, err, oauthlink.ErrNoFlowCookie)
	assert.ErrorIs(t, err, oauthlink.ErrInvalidState, "existing callers still see ErrInvalidState")
	assert.Equal(t, http.StatusBadRequest, oauthlink.HTTPStatus(err))
	assertSays(t, h.Body, sayNoCookie)
	assert.Zero(t, e.tokenCalls())
}

// A callback replayed with its original cookie (a reload sent before the
// first answer arrived) is refused by the replay guard: while the owner is
// connected it says so, after a disconnect it is the plain replay. Nothing
// changes either way.
func TestCallbackReasonReplayedWithOriginalCookie(t *testing.T) {
	e := newEnv(t)
	b := e.browser("shop-1")
	cb := b.authorize("qonto", "")
	original := b.cookieHeader()
	require.Equal(t, http.StatusSeeOther, b.get(cb).Status)
	before, err := e.load("qonto", "shop-1")
	require.NoError(t, err)

	h := e.browser("").do(http.MethodGet, cb, http.Header{"Cookie": {original}})
	assert.Equal(t, http.StatusBadRequest, h.Status)
	err = e.lastErr()
	assert.ErrorIs(t, err, oauthlink.ErrAlreadyConnected)
	assert.ErrorIs(t, err, oauthlink.ErrStateReplayed, "existing callers still see a replay")
	assertSays(t, h.Body, sayConnected)
	after, err := e.load("qonto", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, before.Version, after.Version, "nothing changed")

	require.NoError(t, e.links["qonto"].Disconnect(context.Background(), "shop-1"))
	h = e.browser("").do(http.MethodGet, cb, http.Header{"Cookie": {original}})
	assert.Equal(t, http.StatusBadRequest, h.Status)
	err = e.lastErr()
	assert.ErrorIs(t, err, oauthlink.ErrStateReplayed)
	assert.NotErrorIs(t, err, oauthlink.ErrAlreadyConnected)
	assertSays(t, h.Body, sayReplayed)
	assert.Equal(t, 1, e.qonto.Exchanges(), "the code was spent once")
}

// The owner check comes before the expiry: a flow another account started
// is reported as such, however old.
func TestCallbackReasonOwnerMismatch(t *testing.T) {
	e := newEnv(t)
	attacker := e.browser("attacker")
	cb := attacker.authorize("mollie", "")
	e.clk.Advance(11 * time.Minute)
	h := e.browser("").do(http.MethodGet, cb, http.Header{"Cookie": {strings.Replace(attacker.cookieHeader(), "user=attacker", "user=victim", 1)}})
	assert.Equal(t, http.StatusForbidden, h.Status)
	assert.ErrorIs(t, e.lastErr(), oauthlink.ErrOwnerMismatch)
	assertSays(t, h.Body, sayOwner)
	assert.Zero(t, e.tokenCalls())
}

// RFC 9207: a missing iss and a wrong one are told apart.
func TestCallbackReasonIssuer(t *testing.T) {
	e := newEnv(t, withProvider(func(p *oauthlink.Provider) {
		p.Issuer = "https://issuer.example"
		p.IssuerRequired = true
	}))
	for _, tc := range []struct {
		name, extra string
		want        error
		other       error
		says        string
	}{
		{"missing", "", oauthlink.ErrIssuerMissing, oauthlink.ErrIssuerMismatch, sayIssuerMissing},
		{"wrong", "&iss=https%3A%2F%2Fevil.example", oauthlink.ErrIssuerMismatch, oauthlink.ErrIssuerMissing, sayIssuerWrong},
		{"empty", "&iss=", oauthlink.ErrIssuerMismatch, oauthlink.ErrIssuerMissing, sayIssuerWrong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser("shop-1")
			h := b.get(b.authorize("mollie", "") + tc.extra)
			assert.Equal(t, http.StatusBadRequest, h.Status)
			err := e.lastErr()
			assert.ErrorIs(t, err, tc.want)
			assert.NotErrorIs(t, err, tc.other)
			assert.ErrorIs(t, err, oauthlink.ErrInvalidState, "existing callers still see ErrInvalidState")
			assertSays(t, h.Body, tc.says)
			assert.NotContains(t, h.Body, "evil.example")
		})
	}
	assert.Zero(t, e.tokenCalls())
}

// The remaining state failures (here a flow cookie that fails
// authentication) keep a sentence of their own.
func TestCallbackReasonInvalidLink(t *testing.T) {
	e := newEnv(t)
	b := e.browser("shop-1")
	cb := b.authorize("mollie", "")
	u, err := url.Parse(e.app.URL)
	require.NoError(t, err)
	var flowCookie *http.Cookie
	for _, c := range b.jar.Cookies(u) {
		if strings.HasPrefix(c.Name, "__Host-oauthlink-mollie-") {
			flowCookie = c
		}
	}
	require.NotNil(t, flowCookie)
	tampered := []byte(flowCookie.Value)
	tampered[len(tampered)/2] ^= 0x04
	h := e.browser("").do(http.MethodGet, cb, http.Header{"Cookie": {"user=shop-1; " + flowCookie.Name + "=" + string(tampered)}})
	assert.Equal(t, http.StatusBadRequest, h.Status)
	err = e.lastErr()
	assert.ErrorIs(t, err, oauthlink.ErrInvalidState)
	for _, specific := range []error{oauthlink.ErrNoFlowCookie, oauthlink.ErrIssuerMissing, oauthlink.ErrIssuerMismatch} {
		assert.NotErrorIs(t, err, specific)
	}
	assertSays(t, h.Body, sayInvalidLink)
}

// A bad start parameter is named on the page, and its value is never
// shown.
func TestStartReasonInvalidParam(t *testing.T) {
	hostile := `<b>x</b>javascript:alert(1)`
	for _, tc := range []struct {
		name   string
		query  string
		hook   func(*http.Request) (url.Values, error)
		param  string
		reason error
	}{
		{name: "return_to not relative", query: "?return_to=" + url.QueryEscape("//evil.example/"+hostile), param: "return_to"},
		{name: "return_to repeated", query: "?return_to=/a&return_to=/b", param: "return_to"},
		{name: "hook names the parameter", query: "?organization_id=" + url.QueryEscape(hostile), param: "organization_id",
			reason: errNotUUID,
			hook: func(*http.Request) (url.Values, error) {
				return nil, &oauthlink.ParamError{Param: "organization_id", Err: errNotUUID}
			}},
		{name: "hook returns a parameter the provider does not allow", param: "redirect_uri",
			hook: func(*http.Request) (url.Values, error) { return url.Values{"redirect_uri": {hostile}}, nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, withConfig(func(c *oauthlink.Config) { c.Flow.AuthParams = tc.hook }))
			h := e.browser("shop-1").get(e.app.URL + "/connect/qonto" + tc.query)
			assert.Equal(t, http.StatusBadRequest, h.Status)
			err := e.lastErr()
			assert.ErrorIs(t, err, oauthlink.ErrInvalidParam)
			assert.ErrorIs(t, err, oauthlink.ErrBadRequest, "existing callers still see ErrBadRequest")
			var pe *oauthlink.ParamError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.param, pe.Param)
			if tc.reason != nil {
				assert.ErrorIs(t, err, tc.reason)
			}
			assertSays(t, h.Body, sayParam)
			assert.Contains(t, h.Body, "<code>"+tc.param+"</code>")
			for _, leak := range []string{"alert", "<b>", "&lt;b&gt;", "evil.example"} {
				assert.NotContains(t, h.Body, leak)
				assert.NotContains(t, err.Error(), leak)
			}
			assert.Empty(t, h.Header.Get("Set-Cookie"), "no flow started")
		})
	}
}

var errNotUUID = errors.New("must be a UUID")

// A parameter name chosen by the request (a hook that forwards names) is
// escaped on the page.
func TestStartReasonParamNameEscaped(t *testing.T) {
	e := newEnv(t, withConfig(func(c *oauthlink.Config) {
		c.Flow.AuthParams = func(r *http.Request) (url.Values, error) {
			return url.Values{r.FormValue("name"): {"v"}}, nil
		}
	}))
	h := e.browser("shop-1").get(e.app.URL + "/connect/qonto?name=" + url.QueryEscape(`<img src=x onerror=alert(1)>`))
	assert.Equal(t, http.StatusBadRequest, h.Status)
	assert.NotContains(t, h.Body, "<img")
	assertSays(t, h.Body, sayParam)
}

// HTTPStatus maps every typed cause; the wrapped sentinels keep theirs.
func TestHTTPStatusOfCauses(t *testing.T) {
	for err, want := range map[error]int{
		oauthlink.ErrNoFlowCookie:         http.StatusBadRequest,
		oauthlink.ErrAlreadyConnected:     http.StatusBadRequest,
		oauthlink.ErrIssuerMissing:        http.StatusBadRequest,
		oauthlink.ErrIssuerMismatch:       http.StatusBadRequest,
		oauthlink.ErrInvalidParam:         http.StatusBadRequest,
		&oauthlink.ParamError{Param: "p"}: http.StatusBadRequest,
		oauthlink.ErrCrossOrigin:          http.StatusForbidden,
	} {
		assert.Equal(t, want, oauthlink.HTTPStatus(err), "%v", err)
	}
}

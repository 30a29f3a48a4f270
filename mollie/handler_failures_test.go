package mollie

// The client-link handler's failures: each is reported through the
// connector's error hook with the status and page the user must see.

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type clientLinkFailure struct {
	name     string
	req      func() *http.Request
	script   *answer
	build    BuildFunc
	status   int
	calls    int    // client-link creations the fake saw
	body     string // must appear in the page
	retry    string // Retry-After header
	typeOK   func(t *testing.T, err error)
	notInBod string
}

var clientLinkFailures = []clientLinkFailure{

	{
		name: "app validation: country missing", status: 422, calls: 0,
		req:  func() *http.Request { f := signupForm(); f.Del("country"); return post(f, "user-1") },
		body: "The <code>address.country</code> parameter is invalid",
		typeOK: func(t *testing.T, err error) {
			var ve *ValidationError
			assert.ErrorAs(t, err, &ve)
		},
	},
	{
		name: "bad email", status: 422, calls: 0,
		req:  func() *http.Request { f := signupForm(); f.Set("email", "<b>x</b>"); return post(f, "user-1") },
		body: "The <code>owner.email</code> parameter is invalid", notInBod: "<b>x</b>",
	},
	{
		name: "Mollie 422 names its field, never its detail", status: 422, calls: 1,
		script:   &answer{422, map[string]string{"Content-Type": "application/hal+json"}, `{"status":422,"title":"Unprocessable Entity","detail":"The VAT number <script>alert(1)</script> is invalid","field":"vatNumber"}`},
		req:      func() *http.Request { return post(signupForm(), "user-1") },
		body:     "The <code>vatNumber</code> parameter is invalid",
		notInBod: "script",
		typeOK: func(t *testing.T, err error) {
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, "vatNumber", ae.Field)
		},
	},
	{
		name: "Mollie 429 becomes 503 with Retry-After", status: 503, calls: 1, retry: "12",
		script: &answer{429, map[string]string{"Retry-After": "12"}, `{"status":429,"title":"Too Many Requests"}`},
		req:    func() *http.Request { return post(signupForm(), "user-1") },
		body:   "busy right now",
	},
	{
		name: "Mollie 429 with Retry-After as HTTP date", status: 503, calls: 1, retry: "2",
		script: &answer{429, map[string]string{"Retry-After": testNow.Add(2 * time.Second).Format(http.TimeFormat)}, ``},
		req:    func() *http.Request { return post(signupForm(), "user-1") },
	},
	{
		name: "Mollie 500 becomes 502", status: 502, calls: 1,
		script: &answer{500, map[string]string{"Content-Type": "text/html"}, "<html>oops " + orgToken + "</html>"},
		req:    func() *http.Request { return post(signupForm(), "user-1") }, body: "Something went wrong", notInBod: "oops",
	},
	{
		name: "Mollie 401 (wrong partner token) becomes 502", status: 502, calls: 1,
		script: &answer{401, nil, `{"status":401,"title":"Unauthorized Request","detail":"Missing authentication"}`},
		req:    func() *http.Request { return post(signupForm(), "user-1") }, notInBod: "Missing authentication",
	},
	{
		name: "unsafe href becomes 502 and sets no cookie", status: 502, calls: 1,
		script: &answer{201, nil, `{"id":"cl_1","_links":{"clientLink":{"href":"https://my.mollie.com/cl/1?redirect_uri=https://evil.example"}}}`},
		req:    func() *http.Request { return post(signupForm(), "user-1") },
		typeOK: func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrLinkURL) },
	},
	{
		// The state would reach the attacker, who could then complete
		// the victim's flow with a code of their own (Mollie has no PKCE).
		name: "href on a foreign host becomes 502: no redirect, no flow cookie", status: 502, calls: 1,
		script: &answer{201, nil, `{"id":"cl_1","_links":{"clientLink":{"href":"https://attacker.example/dashboard/client-link/cl_1"}}}`},
		req:    func() *http.Request { return post(signupForm(), "user-1") },
		body:   "Something went wrong", notInBod: "attacker.example",
		typeOK: func(t *testing.T, err error) {
			assert.ErrorIs(t, err, ErrResponse)
			assert.ErrorIs(t, err, ErrHostNotAllowed)
			assert.Contains(t, err.Error(), "attacker.example", "the log names the refused host")
		},
	},
	{
		name: "cross-origin post refused", status: 403, calls: 0,
		req: func() *http.Request {
			r := post(signupForm(), "user-1")
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			return r
		},
		body: "sent from another site", typeOK: func(t *testing.T, err error) { assert.ErrorIs(t, err, oauthlink.ErrCrossOrigin) },
	},
	{
		name: "cross-origin by Origin header refused", status: 403, calls: 0,
		req: func() *http.Request {
			r := post(signupForm(), "user-1")
			r.Header.Set("Origin", "https://evil.example")
			return r
		},
	},
	{
		name: "GET refused", status: 400, calls: 0,
		req: func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/signup?"+signupForm().Encode(), nil)
			r.Header.Set("X-Owner", "user-1")
			return r
		},
	},
	{
		name: "open redirect in return_to refused before creating", status: 400, calls: 0,
		req: func() *http.Request {
			f := signupForm()
			f.Set("return_to", "//evil.example")
			return post(f, "user-1")
		},
	},
	{
		name: "repeated return_to refused", status: 400, calls: 0,
		req: func() *http.Request { f := signupForm(); f.Add("return_to", "/b"); return post(f, "user-1") },
	},
	{
		name: "oversized form refused", status: 400, calls: 0,
		req: func() *http.Request {
			f := signupForm()
			f.Set("pad", strings.Repeat("x", maxForm))
			return post(f, "user-1")
		},
	},
	{
		name: "build error wrapping ErrBadRequest is 400", status: 400, calls: 0,
		build: func(*http.Request) (ClientLinkRequest, error) {
			return ClientLinkRequest{}, fmt.Errorf("%w: unknown plan", oauthlink.ErrBadRequest)
		},
		req: func() *http.Request { return post(signupForm(), "user-1") },
	},
	{
		name: "other build error is 500", status: 500, calls: 0,
		build: func(*http.Request) (ClientLinkRequest, error) {
			return ClientLinkRequest{}, errors.New("database down")
		},
		req: func() *http.Request { return post(signupForm(), "user-1") }, notInBod: "database down",
	},
	{
		// The link exists at Mollie but nobody can use it; it expires.
		name: "nobody signed in: 401 before any link is created, no cookie", status: 401, calls: 0,
		req:    func() *http.Request { return post(signupForm(), "") },
		typeOK: func(t *testing.T, err error) { assert.ErrorIs(t, err, oauthlink.ErrNoOwner) },
	},
}

func TestClientLinkHandlerFailures(t *testing.T) {
	for _, tt := range clientLinkFailures {
		t.Run(tt.name, func(t *testing.T) {
			rg := newRig(t, ClientLinkOptions{}, tt.build)
			if tt.script != nil {
				rg.f.queue("POST /v2/client-links", *tt.script)
			}
			w := rg.serve(tt.req())
			got := rg.lastErr()
			assert.Equal(t, tt.status, w.Code, w.Body.String())
			assert.Equal(t, tt.status, oauthlink.HTTPStatus(got))
			require.NotEmpty(t, rg.events)
			assert.Equal(t, oauthlink.EventFlowFailed, rg.events[len(rg.events)-1], "reported as the connector reports its own failures")
			assert.Len(t, slices.DeleteFunc(slices.Clone(rg.events), func(k oauthlink.EventKind) bool { return k != oauthlink.EventFlowFailed }), 1)
			assert.Equal(t, tt.calls, rg.f.count("POST /v2/client-links"))
			assert.Empty(t, w.Result().Cookies(), "no flow cookie on failure")
			assert.Empty(t, w.Header().Get("Location"))
			assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
			assert.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
			assert.Equal(t, tt.retry, w.Header().Get("Retry-After"))
			if tt.body != "" {
				assert.Contains(t, w.Body.String(), tt.body)
			}
			if tt.notInBod != "" {
				assert.NotContains(t, w.Body.String(), tt.notInBod)
			}
			if tt.typeOK != nil {
				tt.typeOK(t, got)
			}
			assert.Empty(t, rg.created)
			noCanary(t, fmt.Sprint(w.Header(), w.Body.String(), got, rg.logs.String()))
		})
	}
}

func TestClientLinkHandlerNetworkError(t *testing.T) {
	rg := newRig(t, ClientLinkOptions{}, nil)
	rg.f.srv.Close()
	w := rg.serve(post(signupForm(), "user-1"))
	assert.Equal(t, http.StatusBadGateway, w.Code)
	assert.Empty(t, w.Result().Cookies())
	noCanary(t, w.Body.String())
}

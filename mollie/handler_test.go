package mollie

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testClientID = "app_testClient123"

// rig is a connector with the client-link handler in front of the fake.
type rig struct {
	f       *fakeMollie
	conn    *oauthlink.Connector
	h       http.Handler
	logs    *syncBuffer
	mu      sync.Mutex
	errs    []error // what the connector's OnError saw (callback side)
	created []*ClientLink
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func ownerFromHeader(r *http.Request) (string, error) {
	if o := r.Header.Get("X-Owner"); o != "" {
		return o, nil
	}
	return "", errors.New("not signed in")
}

// formBuild reads the signup form; a missing country shows how an app
// reports its own validation.
func formBuild(r *http.Request) (ClientLinkRequest, error) {
	f := r.PostForm
	return ClientLinkRequest{
		Owner:   Owner{Email: f.Get("email"), GivenName: f.Get("given_name"), FamilyName: f.Get("family_name")},
		Name:    f.Get("company"),
		Address: Address{Country: f.Get("country")},
	}, nil
}

func newRig(t *testing.T, opts ClientLinkOptions, build BuildFunc) *rig {
	t.Helper()
	rg := &rig{f: newFake(t), logs: &syncBuffer{}}
	conn, err := oauthlink.New(oauthlink.Config{
		Provider:      Provider(),
		ClientID:      testClientID,
		ClientSecret:  "CANARYclientSecret",
		RedirectURL:   "https://platform.example/connect/mollie/callback",
		Scopes:        []string{"onboarding.read", "onboarding.write", "organizations.read"},
		Store:         memstore.New(),
		Owner:         ownerFromHeader,
		CookieSecrets: [][]byte{bytes.Repeat([]byte("k"), 32)},
		Logger:        slog.New(slog.NewTextHandler(rg.logs, nil)),
		Now:           func() time.Time { return testNow },
		Hooks: oauthlink.Hooks{
			Identify: Identify(rg.f.URL(), nil),
			OnError: func(w http.ResponseWriter, r *http.Request, err error) {
				rg.mu.Lock()
				rg.errs = append(rg.errs, err)
				rg.mu.Unlock()
				oauthlink.DefaultErrorHandler(w, r, err)
			},
		},
	})
	require.NoError(t, err)
	rg.conn = conn
	if opts.ClientID == "" {
		opts.ClientID = testClientID
	}
	if opts.OnCreated == nil {
		opts.OnCreated = func(r *http.Request, link *ClientLink) {
			rg.mu.Lock()
			rg.created = append(rg.created, link)
			rg.mu.Unlock()
		}
	}
	if build == nil {
		build = formBuild
	}
	rg.h, err = NewClientLinkHandler(conn, orgClient(rg.f), build, opts)
	require.NoError(t, err)
	return rg
}

func signupForm() url.Values {
	return url.Values{
		"email": {"owner@shop.example"}, "given_name": {"Anna"}, "family_name": {"de Vries"},
		"company": {"Shop B.V."}, "country": {"NL"}, "return_to": {"/settings/payments"},
	}
}

func post(form url.Values, owner string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "https://platform.example/connect/mollie/signup", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if owner != "" {
		r.Header.Set("X-Owner", owner)
	}
	return r
}

func (rg *rig) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	rg.h.ServeHTTP(w, r)
	return w
}

// callback sends the browser back to the connector's callback with the
// state and an access_denied error (so no token endpoint is needed) and
// returns the error the connector reported.
func (rg *rig) callback(t *testing.T, state, owner string, cookies []*http.Cookie) error {
	t.Helper()
	q := url.Values{"state": {state}, "error": {"access_denied"}}
	r := httptest.NewRequest(http.MethodGet, "https://platform.example/connect/mollie/callback?"+q.Encode(), nil)
	r.Header.Set("X-Owner", owner)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	rg.conn.CallbackHandler().ServeHTTP(httptest.NewRecorder(), r)
	rg.mu.Lock()
	defer rg.mu.Unlock()
	require.NotEmpty(t, rg.errs)
	return rg.errs[len(rg.errs)-1]
}

func TestClientLinkHandlerSuccess(t *testing.T) {
	rg := newRig(t, ClientLinkOptions{}, nil)
	w := rg.serve(post(signupForm(), "user-1"))
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	assert.Equal(t, "no-referrer", w.Header().Get("Referrer-Policy"))

	loc, err := url.Parse(w.Header().Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "https://my.mollie.com/dashboard/client-link/cl_fake1", loc.Scheme+"://"+loc.Host+loc.Path)
	assert.True(t, strings.HasPrefix(loc.RawQuery, "lang=nl&x=a%20b&client_id="+testClientID+"&state="), loc.RawQuery)
	assert.True(t, strings.HasSuffix(loc.RawQuery, "&scope=onboarding.read%20onboarding.write%20organizations.read"), loc.RawQuery)
	q := loc.Query()
	assert.NotContains(t, q, "redirect_uri")
	assert.NotContains(t, q, "approval_prompt")
	assert.NotContains(t, q, "response_type")
	state := q.Get("state")
	require.GreaterOrEqual(t, len(state), 22)

	cookies := w.Result().Cookies()
	require.Len(t, cookies, 1)
	assert.True(t, strings.HasPrefix(cookies[0].Name, "__Host-oauthlink-mollie-"), cookies[0].Name)
	assert.True(t, cookies[0].HttpOnly)
	assert.True(t, cookies[0].Secure)

	assert.Equal(t, 1, rg.f.count("POST /v2/client-links"))
	assert.Equal(t, "owner@shop.example", rg.f.lastBody()["owner"].(map[string]any)["email"])
	require.Len(t, rg.created, 1)
	assert.Equal(t, "cl_fake1", rg.created[0].ID)
	assert.Equal(t, testNow.Add(ClientLinkLifetime), rg.created[0].ExpiresAt)

	// The state is the connector's own flow, bound to the same owner: the
	// ordinary callback accepts it for user-1 and refuses it for user-2.
	err = rg.callback(t, state, "user-2", cookies)
	assert.ErrorIs(t, err, oauthlink.ErrOwnerMismatch)
	err = rg.callback(t, state, "user-1", cookies)
	var pe *oauthlink.ProviderError
	require.ErrorAs(t, err, &pe, "state and cookie accepted, then the provider's error reported")
	assert.True(t, pe.Cancelled())
	err = rg.callback(t, state+"x", "user-1", cookies)
	assert.ErrorIs(t, err, oauthlink.ErrInvalidState)

	noCanary(t, fmt.Sprint(w.Header(), w.Body.String(), rg.logs.String()))
	assert.NotContains(t, rg.logs.String(), state)
}

func TestClientLinkHandlerApprovalPrompt(t *testing.T) {
	rg := newRig(t, ClientLinkOptions{ApprovalPrompt: ApprovalForce}, nil)
	w := rg.serve(post(signupForm(), "user-1"))
	require.Equal(t, http.StatusSeeOther, w.Code)
	assert.True(t, strings.HasSuffix(w.Header().Get("Location"), "&approval_prompt=force"))
}

func TestClientLinkHandlerFailures(t *testing.T) {
	tests := []struct {
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
	}{
		{
			name: "app validation: country missing", status: 422, calls: 0,
			req:  func() *http.Request { f := signupForm(); f.Del("country"); return post(f, "user-1") },
			body: "address.country is required",
			typeOK: func(t *testing.T, err error) {
				var ve *ValidationError
				assert.ErrorAs(t, err, &ve)
			},
		},
		{
			name: "bad email", status: 422, calls: 0,
			req:  func() *http.Request { f := signupForm(); f.Set("email", "<b>x</b>"); return post(f, "user-1") },
			body: "owner.email must be an email address", notInBod: "<b>x</b>",
		},
		{
			name: "Mollie 422 detail shown escaped", status: 422, calls: 1,
			script:   &answer{422, map[string]string{"Content-Type": "application/hal+json"}, `{"status":422,"title":"Unprocessable Entity","detail":"The VAT number <script>alert(1)</script> is invalid","field":"vatNumber"}`},
			req:      func() *http.Request { return post(signupForm(), "user-1") },
			body:     "The VAT number &lt;script&gt;alert(1)&lt;/script&gt; is invalid",
			notInBod: "<script>",
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
			body:   "Mollie is busy",
		},
		{
			name: "Mollie 429 with Retry-After as HTTP date", status: 503, calls: 1, retry: "2",
			script: &answer{429, map[string]string{"Retry-After": testNow.Add(2 * time.Second).Format(http.TimeFormat)}, ``},
			req:    func() *http.Request { return post(signupForm(), "user-1") },
		},
		{
			name: "Mollie 500 becomes 502", status: 502, calls: 1,
			script: &answer{500, map[string]string{"Content-Type": "text/html"}, "<html>oops " + orgToken + "</html>"},
			req:    func() *http.Request { return post(signupForm(), "user-1") }, body: "could not reach Mollie", notInBod: "oops",
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
			body:   "We could not reach Mollie", notInBod: "attacker.example",
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
			typeOK: func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrCrossOrigin) },
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
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got error
			opts := ClientLinkOptions{OnError: func(w http.ResponseWriter, r *http.Request, err error) {
				got = err
				DefaultClientLinkErrorHandler(w, r, err)
			}}
			rg := newRig(t, opts, tt.build)
			if tt.script != nil {
				rg.f.queue("POST /v2/client-links", *tt.script)
			}
			w := rg.serve(tt.req())
			assert.Equal(t, tt.status, w.Code, w.Body.String())
			assert.Equal(t, tt.status, HTTPStatus(got))
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

func TestNewClientLinkHandlerConfig(t *testing.T) {
	rg := newRig(t, ClientLinkOptions{}, nil)
	good := orgClient(rg.f)
	tests := []struct {
		name  string
		conn  *oauthlink.Connector
		api   *Client
		build BuildFunc
		opts  ClientLinkOptions
	}{
		{"nil connector", nil, good, formBuild, ClientLinkOptions{ClientID: testClientID}},
		{"nil client", rg.conn, nil, formBuild, ClientLinkOptions{ClientID: testClientID}},
		{"nil build", rg.conn, good, nil, ClientLinkOptions{ClientID: testClientID}},
		{"bad approval prompt", rg.conn, good, formBuild, ClientLinkOptions{ClientID: testClientID, ApprovalPrompt: "sometimes"}},
		{"no token", rg.conn, &Client{BaseURL: rg.f.URL()}, formBuild, ClientLinkOptions{ClientID: testClientID}},
		{"insecure base", rg.conn, &Client{BaseURL: "http://api.mollie.com", Token: orgToken}, formBuild, ClientLinkOptions{ClientID: testClientID}},
		{"browser host with a scheme", rg.conn, &Client{BaseURL: rg.f.URL(), Token: orgToken, BrowserHosts: []string{"https://links.example"}}, formBuild, ClientLinkOptions{ClientID: testClientID}},
		{"browser host with a path", rg.conn, &Client{BaseURL: rg.f.URL(), Token: orgToken, BrowserHosts: []string{"links.example/cl"}}, formBuild, ClientLinkOptions{ClientID: testClientID}},
		{"empty browser host", rg.conn, &Client{BaseURL: rg.f.URL(), Token: orgToken, BrowserHosts: []string{""}}, formBuild, ClientLinkOptions{ClientID: testClientID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewClientLinkHandler(tt.conn, tt.api, tt.build, tt.opts)
			require.ErrorIs(t, err, oauthlink.ErrConfig)
			assert.Nil(t, h)
			noCanary(t, err.Error())
		})
	}
}

// Without ClientLinkOptions.ClientID the connector's client id is used.
func TestClientLinkHandlerDefaultsClientID(t *testing.T) {
	rg := newRig(t, ClientLinkOptions{}, nil)
	h, err := NewClientLinkHandler(rg.conn, orgClient(rg.f), formBuild, ClientLinkOptions{})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, post(signupForm(), "user-1"))
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	loc, err := url.Parse(w.Header().Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, testClientID, loc.Query().Get("client_id"))
}

// TestClientLinkHandlerBrowserHosts: a client link on a host other than the
// connector's authorization endpoint's is followed once Client.BrowserHosts
// lists it, and only that host and port.
func TestClientLinkHandlerBrowserHosts(t *testing.T) {
	tests := []struct {
		name   string
		hosts  []string
		href   string
		status int
	}{
		{"listed host", []string{"links.partner.example"}, "https://links.partner.example/cl/1", http.StatusSeeOther},
		{"listed host, any case", []string{"Links.Partner.Example"}, "https://links.PARTNER.example/cl/1", http.StatusSeeOther},
		{"listed host and port", []string{"links.partner.example:8443"}, "https://links.partner.example:8443/cl/1", http.StatusSeeOther},
		{"default port explicit", []string{"links.partner.example"}, "https://links.partner.example:443/cl/1", http.StatusSeeOther},
		{"authorization host still allowed", []string{"links.partner.example"}, "https://my.mollie.com/cl/1", http.StatusSeeOther},
		{"other port of a listed host", []string{"links.partner.example"}, "https://links.partner.example:8443/cl/1", http.StatusBadGateway},
		{"subdomain of a listed host", []string{"partner.example"}, "https://links.partner.example/cl/1", http.StatusBadGateway},
		{"not listed", nil, "https://links.partner.example/cl/1", http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rg := newRig(t, ClientLinkOptions{}, nil)
			api := orgClient(rg.f)
			api.BrowserHosts = tt.hosts
			var got error
			h, err := NewClientLinkHandler(rg.conn, api, formBuild, ClientLinkOptions{ClientID: testClientID,
				OnError: func(w http.ResponseWriter, r *http.Request, err error) {
					got = err
					DefaultClientLinkErrorHandler(w, r, err)
				}})
			require.NoError(t, err)
			rg.f.queue("POST /v2/client-links", answer{201, nil, `{"id":"cl_1","_links":{"clientLink":{"href":"` + tt.href + `"}}}`})
			w := httptest.NewRecorder()
			h.ServeHTTP(w, post(signupForm(), "user-1"))
			require.Equal(t, tt.status, w.Code, w.Body.String())
			if tt.status == http.StatusSeeOther {
				assert.True(t, strings.HasPrefix(w.Header().Get("Location"), tt.href+"?client_id="), w.Header().Get("Location"))
				assert.Len(t, w.Result().Cookies(), 1)
				return
			}
			assert.ErrorIs(t, got, ErrHostNotAllowed)
			assert.Empty(t, w.Header().Get("Location"))
			assert.Empty(t, w.Result().Cookies())
		})
	}
}

func TestHTTPStatusFallsBackToRoot(t *testing.T) {
	assert.Equal(t, http.StatusUnauthorized, HTTPStatus(oauthlink.ErrNoOwner))
	assert.Equal(t, http.StatusBadRequest, HTTPStatus(fmt.Errorf("x: %w", oauthlink.ErrBadRequest)))
	assert.Equal(t, http.StatusInternalServerError, HTTPStatus(errors.New("other")))
	assert.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(fmt.Errorf("wrapped: %w", &ValidationError{"name", "is required"})))
}

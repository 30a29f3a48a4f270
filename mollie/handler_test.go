package mollie

import (
	"bytes"
	"context"
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

	"github.com/oauthlink/oauthlink/internal/testutil"

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
	errs    []error // what the connector's OnError saw: the callback's and the client-link handler's
	events  []oauthlink.EventKind
	created []*ClientLink
}

// syncBuffer collects concurrent log output for the test.
type syncBuffer = testutil.SyncBuffer

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
		OrganizationOwner: OrganizationOwner{Email: f.Get("email"), GivenName: f.Get("given_name"), FamilyName: f.Get("family_name")},
		Name:              f.Get("company"),
		Address:           Address{Country: f.Get("country")},
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
			Identify: Identify(Client{BaseURL: rg.f.URL(), AllowInsecureHTTP: true}),
			OnError: func(w http.ResponseWriter, r *http.Request, err error) {
				rg.mu.Lock()
				rg.errs = append(rg.errs, err)
				rg.mu.Unlock()
				oauthlink.DefaultErrorHandler(w, r, err)
			},
			OnEvent: func(_ context.Context, e oauthlink.Event) {
				rg.mu.Lock()
				rg.events = append(rg.events, e.Kind)
				rg.mu.Unlock()
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
	rg.h, err = NewClientLinkHandler(conn, orgClient(t, rg.f), build, opts)
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

// lastErr is the last error the connector's OnError saw, or nil.
func (rg *rig) lastErr() error {
	rg.mu.Lock()
	defer rg.mu.Unlock()
	if len(rg.errs) == 0 {
		return nil
	}
	return rg.errs[len(rg.errs)-1]
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

func TestNewClientLinkHandlerConfig(t *testing.T) {
	rg := newRig(t, ClientLinkOptions{}, nil)
	good := orgClient(t, rg.f)
	plain := func(base string, hosts ...string) *Client {
		return &Client{BaseURL: base, AllowInsecureHTTP: true, HTTPClient: http.DefaultClient, BrowserHosts: hosts}
	}
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
		{"no HTTPClient", rg.conn, &Client{BaseURL: rg.f.URL(), AllowInsecureHTTP: true}, formBuild, ClientLinkOptions{ClientID: testClientID}},
		{"insecure base", rg.conn, plain("http://api.mollie.com"), formBuild, ClientLinkOptions{ClientID: testClientID}},
		{"browser host with a scheme", rg.conn, plain(rg.f.URL(), "https://links.example"), formBuild, ClientLinkOptions{ClientID: testClientID}},
		{"browser host with a path", rg.conn, plain(rg.f.URL(), "links.example/cl"), formBuild, ClientLinkOptions{ClientID: testClientID}},
		{"empty browser host", rg.conn, plain(rg.f.URL(), ""), formBuild, ClientLinkOptions{ClientID: testClientID}},
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
	h, err := NewClientLinkHandler(rg.conn, orgClient(t, rg.f), formBuild, ClientLinkOptions{})
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
			api := orgClient(t, rg.f)
			api.BrowserHosts = tt.hosts
			h, err := NewClientLinkHandler(rg.conn, api, formBuild, ClientLinkOptions{ClientID: testClientID})
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
			assert.ErrorIs(t, rg.lastErr(), ErrHostNotAllowed)
			assert.Empty(t, w.Header().Get("Location"))
			assert.Empty(t, w.Result().Cookies())
		})
	}
}

// TestValidationErrorStatus: a *ValidationError chooses 422 and names its
// field through an *oauthlink.ParamError, however it is wrapped.
func TestValidationErrorStatus(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &ValidationError{"name", "is required"})
	assert.Equal(t, http.StatusUnprocessableEntity, oauthlink.HTTPStatus(err))
	assert.ErrorIs(t, err, oauthlink.ErrBadRequest)
	var pe *oauthlink.ParamError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "name", pe.Param)
	assert.Equal(t, "mollie: invalid client link request: name is required", err.Error()[len("wrapped: "):])
}

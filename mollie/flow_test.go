package mollie_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthlink/oauthlink/store"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/mollie"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// signupApp is an app with the client-link handler and the callback, in
// front of the fake Mollie, and a cookie-jar browser signed in as shop-1.
type signupApp struct {
	url     string
	fake    *oauthlinktest.Mollie
	store   store.TokenStore
	conn    *oauthlink.Connector
	browser *http.Client
}

func newSignupApp(t *testing.T) *signupApp {
	t.Helper()
	mux := http.NewServeMux()
	app := httptest.NewTLSServer(mux)
	t.Cleanup(app.Close)
	fake := oauthlinktest.NewMollie(oauthlinktest.MollieOptions{TLS: true, RedirectURIs: []string{app.URL + "/connect/mollie/callback"}})
	t.Cleanup(fake.Close)
	a := &signupApp{url: app.URL, fake: fake, store: memstore.New()}
	p := fake.Provider()
	p.DefaultScopes = []string{"onboarding.read", "onboarding.write", "organizations.read"}
	owner := func(r *http.Request) (string, error) {
		c, err := r.Cookie("user")
		if err != nil {
			return "", err
		}
		return c.Value, nil
	}
	var err error
	a.conn, err = oauthlink.New(oauthlink.Config{
		Provider: p, ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
		RedirectURL: app.URL + "/connect/mollie/callback", Store: a.store, Owner: owner,
		CookieSecrets: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, HTTPClient: fake.Client(),
		Hooks: oauthlink.Hooks{Identify: mollie.Identify(mollie.Client{BaseURL: fake.APIURL(), HTTPClient: fake.Client()})},
	})
	require.NoError(t, err)
	api, err := mollie.NewTokenClient(oauthlinktest.DefaultOrganizationToken, mollie.Client{BaseURL: fake.URL(), HTTPClient: fake.Client()})
	require.NoError(t, err)
	build := func(r *http.Request) (mollie.ClientLinkRequest, error) {
		return mollie.ClientLinkRequest{
			OrganizationOwner: mollie.OrganizationOwner{Email: r.PostForm.Get("email"), GivenName: r.PostForm.Get("given_name"), FamilyName: r.PostForm.Get("family_name")},
			Name:              r.PostForm.Get("organization_name"),
			Address:           mollie.Address{Country: r.PostForm.Get("country")},
		}, nil
	}
	h, err := mollie.NewClientLinkHandler(a.conn, api, build, mollie.ClientLinkOptions{})
	require.NoError(t, err)
	mux.Handle("POST /connect/mollie/client-link", h)
	mux.Handle("GET /connect/mollie/callback", a.conn.CallbackHandler())
	mux.HandleFunc("GET /", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "home") })

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	appURL, _ := url.Parse(app.URL)
	jar.SetCookies(appURL, []*http.Cookie{{Name: "user", Value: "shop-1", Path: "/"}})
	a.browser = &http.Client{Jar: jar, Transport: app.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return a
}

// signUp posts the signup form and returns the client link it redirects to.
func (a *signupApp) signUp(t *testing.T) *url.URL {
	t.Helper()
	form := url.Values{"email": {"anna@shop.example"}, "given_name": {"Anna"}, "family_name": {"de Vries"},
		"organization_name": {"Anna's Shop"}, "country": {"NL"}, "return_to": {"/welcome"}}
	resp, err := a.browser.PostForm(a.url+"/connect/mollie/client-link", form)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	link, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return link
}

// follow follows redirects from target until the app sends the browser to
// /welcome, and returns that answer.
func (a *signupApp) follow(t *testing.T, target string) *http.Response {
	t.Helper()
	for {
		resp, err := a.browser.Get(target)
		require.NoError(t, err)
		resp.Body.Close()
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			return resp
		}
		next, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		if next.Path == "/welcome" {
			return resp
		}
		target = next.String()
	}
}

// TestClientLinkFlowEndToEnd: a signup form posted to the client-link
// handler ends, through a cookie-jar browser and the fake Mollie, in a
// stored connection identified with the organization the link created.
func TestClientLinkFlowEndToEnd(t *testing.T) {
	a := newSignupApp(t)
	link := a.signUp(t)
	assert.Equal(t, "/dashboard/client-link/"+a.fake.ClientLinks()[0].ID, link.Path)
	assert.Equal(t, "api", link.Query().Get("utm_source"), "the href's own query is kept")
	assert.Empty(t, link.Query().Get("redirect_uri"))
	assert.Contains(t, link.RawQuery, "scope=onboarding.read%20onboarding.write%20organizations.read")

	final := a.follow(t, link.String())
	assert.Equal(t, http.StatusSeeOther, final.StatusCode)
	assert.Equal(t, "/welcome", final.Header.Get("Location"))

	stored, err := a.store.Load(context.Background(), "mollie", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, a.fake.ClientLinks()[0].AccountID, stored.AccountID, "identified as the organization the link created")
	assert.True(t, strings.HasPrefix(stored.AccountID, "org_"))
	assert.Equal(t, store.StatusActive, stored.Status)
}

// TestMerchantClient: a connected merchant's API calls go through the
// Connector's client: when Mollie answers 401, it refreshes once and
// retries; for an owner without a connection nothing is sent.
func TestMerchantClient(t *testing.T) {
	a := newSignupApp(t)
	a.follow(t, a.signUp(t).String())
	stored, err := a.store.Load(context.Background(), "mollie", "shop-1")
	require.NoError(t, err)

	merchant := &mollie.Client{HTTPClient: a.conn.Client("shop-1"), BaseURL: a.fake.URL()}
	ob, err := merchant.Onboarding(context.Background())
	require.NoError(t, err)
	assert.Equal(t, mollie.OnboardingState("needs-data"), ob.Status)
	assert.Zero(t, a.fake.Refreshes())
	a.fake.Fault(oauthlinktest.EndpointAPI, oauthlinktest.Fault{Status: http.StatusUnauthorized, ContentType: "application/hal+json",
		Body: `{"status":401,"title":"Unauthorized Request","detail":"Missing authentication, or failed to authenticate"}`})
	org, err := merchant.Organization(context.Background())
	require.NoError(t, err)
	assert.Equal(t, stored.AccountID, org.ID)
	assert.Equal(t, 1, a.fake.Refreshes(), "one refresh after the 401")
	refreshed, err := a.store.Load(context.Background(), "mollie", "shop-1")
	require.NoError(t, err)
	assert.NotEqual(t, stored.AccessToken.Reveal(), refreshed.AccessToken.Reveal())

	calls := a.fake.Calls(oauthlinktest.EndpointAPI)
	_, err = (&mollie.Client{HTTPClient: a.conn.Client("nobody"), BaseURL: a.fake.URL()}).Organization(context.Background())
	require.ErrorIs(t, err, mollie.ErrRequest)
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.Equal(t, calls, a.fake.Calls(oauthlinktest.EndpointAPI), "nothing sent")
}

// TestClientLinkHostPinned: the handler sends the browser only to a client
// link on the host of the connector's authorization endpoint. The fake's
// BrowserHost names its links "localhost" while it listens on 127.0.0.1: a
// connector whose AuthURL names the same host (as the demo's does) follows
// them with no extra setting; one whose AuthURL names 127.0.0.1 refuses them,
// answering 502 without a redirect or a flow cookie, unless
// Client.BrowserHosts lists the links' host and port.
func TestClientLinkHostPinned(t *testing.T) {
	tests := []struct {
		name     string
		authHost string // host name in the connector's AuthURL
		listed   bool   // Client.BrowserHosts lists localhost:port
		status   int
	}{
		{"link on the authorization endpoint's host", "localhost", false, http.StatusSeeOther},
		{"link on another host", "127.0.0.1", false, http.StatusBadGateway},
		{"link on another host listed in BrowserHosts", "127.0.0.1", true, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := oauthlinktest.NewMollie(oauthlinktest.MollieOptions{
				TLS: true, RedirectURIs: []string{"https://platform.example/connect/mollie/callback"}, BrowserHost: "localhost",
			})
			defer fake.Close()
			p := fake.Provider()
			au, err := url.Parse(p.AuthURL)
			require.NoError(t, err)
			au.Host = net.JoinHostPort(tt.authHost, au.Port())
			p.AuthURL = au.String()
			var got error
			conn, err := oauthlink.New(oauthlink.Config{
				Provider: p, ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
				RedirectURL: "https://platform.example/connect/mollie/callback", Store: memstore.New(),
				Owner:         func(*http.Request) (string, error) { return "shop-1", nil },
				CookieSecrets: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, HTTPClient: fake.Client(),
				Hooks: oauthlink.Hooks{OnError: func(w http.ResponseWriter, r *http.Request, err error) {
					got = err
					oauthlink.DefaultErrorHandler(w, r, err)
				}},
			})
			require.NoError(t, err)
			api, err := mollie.NewTokenClient(oauthlinktest.DefaultOrganizationToken, mollie.Client{BaseURL: fake.URL(), HTTPClient: fake.Client()})
			require.NoError(t, err)
			if tt.listed {
				api.BrowserHosts = []string{net.JoinHostPort("localhost", au.Port())}
			}
			h, err := mollie.NewClientLinkHandler(conn, api, signupBuild, mollie.ClientLinkOptions{})
			require.NoError(t, err)

			w := httptest.NewRecorder()
			h.ServeHTTP(w, signupRequest())
			require.Equal(t, tt.status, w.Code, w.Body.String())
			require.Len(t, fake.ClientLinks(), 1, "the link was created at the fake either way")
			if tt.status != http.StatusSeeOther {
				assert.ErrorIs(t, got, mollie.ErrResponse)
				assert.ErrorIs(t, got, mollie.ErrHostNotAllowed)
				assert.Empty(t, w.Header().Get("Location"), "no redirect")
				assert.Empty(t, w.Result().Cookies(), "no flow cookie")
				assert.NotContains(t, w.Body.String(), "state=")
				return
			}
			require.NoError(t, got)
			loc, err := url.Parse(w.Header().Get("Location"))
			require.NoError(t, err)
			assert.Equal(t, net.JoinHostPort("localhost", au.Port()), loc.Host)
			assert.NotEmpty(t, loc.Query().Get("state"))
			assert.Len(t, w.Result().Cookies(), 1, "the flow cookie")
		})
	}
}

func signupBuild(r *http.Request) (mollie.ClientLinkRequest, error) {
	return mollie.ClientLinkRequest{
		OrganizationOwner: mollie.OrganizationOwner{Email: r.PostForm.Get("email"), GivenName: "Anna", FamilyName: "de Vries"},
		Name:              "Anna's Shop",
		Address:           mollie.Address{Country: "NL"},
	}, nil
}

func signupRequest() *http.Request {
	form := url.Values{"email": {"anna@shop.example"}}
	r := httptest.NewRequest(http.MethodPost, "https://platform.example/connect/mollie/client-link", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

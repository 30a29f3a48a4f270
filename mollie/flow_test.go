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

// TestClientLinkFlowEndToEnd: a signup form posted to the client-link
// handler ends, through a cookie-jar browser and the fake Mollie, in a
// stored connection identified with the organization the link created.
func TestClientLinkFlowEndToEnd(t *testing.T) {
	mux := http.NewServeMux()
	app := httptest.NewTLSServer(mux)
	defer app.Close()
	fake := oauthlinktest.NewMollie(oauthlinktest.MollieOptions{TLS: true, RedirectURIs: []string{app.URL + "/connect/mollie/callback"}})
	defer fake.Close()

	ms := memstore.New()
	p := fake.Provider()
	p.DefaultScopes = []string{"onboarding.read", "onboarding.write", "organizations.read"}
	owner := func(r *http.Request) (string, error) {
		c, err := r.Cookie("user")
		if err != nil {
			return "", err
		}
		return c.Value, nil
	}
	conn, err := oauthlink.New(oauthlink.Config{
		Provider: p, ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
		RedirectURL: app.URL + "/connect/mollie/callback", Store: ms, Owner: owner,
		CookieSecrets: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, HTTPClient: fake.Client(),
		Hooks: oauthlink.Hooks{Identify: mollie.Identify(fake.APIURL(), fake.Client())},
	})
	require.NoError(t, err)
	api := &mollie.Client{BaseURL: fake.URL(), Token: oauthlinktest.DefaultOrganizationToken, HTTPClient: fake.Client()}
	build := func(r *http.Request) (mollie.ClientLinkRequest, error) {
		return mollie.ClientLinkRequest{
			Owner:   mollie.Owner{Email: r.PostForm.Get("email"), GivenName: r.PostForm.Get("given_name"), FamilyName: r.PostForm.Get("family_name")},
			Name:    r.PostForm.Get("organization_name"),
			Address: mollie.Address{Country: r.PostForm.Get("country")},
		}, nil
	}
	h, err := mollie.NewClientLinkHandler(conn, api, build, mollie.ClientLinkOptions{})
	require.NoError(t, err)
	mux.Handle("POST /connect/mollie/client-link", h)
	mux.Handle("GET /connect/mollie/callback", conn.CallbackHandler())
	mux.HandleFunc("GET /", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "home") })

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	appURL, _ := url.Parse(app.URL)
	jar.SetCookies(appURL, []*http.Cookie{{Name: "user", Value: "shop-1", Path: "/"}})
	browser := &http.Client{Jar: jar, Transport: app.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	form := url.Values{"email": {"anna@shop.example"}, "given_name": {"Anna"}, "family_name": {"de Vries"},
		"organization_name": {"Anna's Shop"}, "country": {"NL"}, "return_to": {"/welcome"}}
	resp, err := browser.PostForm(app.URL+"/connect/mollie/client-link", form)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	link := resp.Header.Get("Location")
	lu, err := url.Parse(link)
	require.NoError(t, err)
	assert.Equal(t, "/dashboard/client-link/"+fake.ClientLinks()[0].ID, lu.Path)
	assert.Equal(t, "api", lu.Query().Get("utm_source"), "the href's own query is kept")
	assert.Empty(t, lu.Query().Get("redirect_uri"))
	assert.Contains(t, lu.RawQuery, "scope=onboarding.read%20onboarding.write%20organizations.read")

	var final *http.Response
	for target := link; ; {
		final, err = browser.Get(target)
		require.NoError(t, err)
		final.Body.Close()
		if final.StatusCode < 300 || final.StatusCode > 399 || strings.HasSuffix(target, "/welcome") {
			break
		}
		next, err := final.Request.URL.Parse(final.Header.Get("Location"))
		require.NoError(t, err)
		if next.Path == "/welcome" {
			break
		}
		target = next.String()
	}
	assert.Equal(t, http.StatusSeeOther, final.StatusCode)
	assert.Equal(t, "/welcome", final.Header.Get("Location"))

	stored, err := ms.Load(context.Background(), "mollie", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, fake.ClientLinks()[0].AccountID, stored.AccountID, "identified as the organization the link created")
	assert.True(t, strings.HasPrefix(stored.AccountID, "org_"))
	assert.Equal(t, store.StatusActive, stored.Status)

	merchant := &mollie.Client{BaseURL: fake.URL(), Token: stored.AccessToken, HTTPClient: fake.Client()}
	ob, err := merchant.Onboarding(context.Background())
	require.NoError(t, err)
	assert.Equal(t, mollie.OnboardingState("needs-data"), ob.Status)
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
			conn, err := oauthlink.New(oauthlink.Config{
				Provider: p, ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
				RedirectURL: "https://platform.example/connect/mollie/callback", Store: memstore.New(),
				Owner:         func(*http.Request) (string, error) { return "shop-1", nil },
				CookieSecrets: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, HTTPClient: fake.Client(),
			})
			require.NoError(t, err)
			api := &mollie.Client{BaseURL: fake.URL(), Token: oauthlinktest.DefaultOrganizationToken, HTTPClient: fake.Client()}
			if tt.listed {
				api.BrowserHosts = []string{net.JoinHostPort("localhost", au.Port())}
			}
			var got error
			h, err := mollie.NewClientLinkHandler(conn, api, signupBuild, mollie.ClientLinkOptions{
				OnError: func(w http.ResponseWriter, r *http.Request, err error) {
					got = err
					mollie.DefaultClientLinkErrorHandler(w, r, err)
				},
			})
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
		Owner:   mollie.Owner{Email: r.PostForm.Get("email"), GivenName: "Anna", FamilyName: "de Vries"},
		Name:    "Anna's Shop",
		Address: mollie.Address{Country: "NL"},
	}, nil
}

func signupRequest() *http.Request {
	form := url.Values{"email": {"anna@shop.example"}}
	r := httptest.NewRequest(http.MethodPost, "https://platform.example/connect/mollie/client-link", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

package mollie_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

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

	store := memstore.New()
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
		RedirectURL: app.URL + "/connect/mollie/callback", Store: store, Owner: owner,
		CookieSecrets: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, HTTPClient: fake.Client(),
		Identify: mollie.Identify(fake.APIURL(), fake.Client()),
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

	stored, err := store.Load(context.Background(), "mollie", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, fake.ClientLinks()[0].AccountID, stored.AccountID, "identified as the organization the link created")
	assert.True(t, strings.HasPrefix(stored.AccountID, "org_"))
	assert.Equal(t, oauthlink.StatusActive, stored.Status)

	merchant := &mollie.Client{BaseURL: fake.URL(), Token: stored.AccessToken, HTTPClient: fake.Client()}
	ob, err := merchant.Onboarding(context.Background())
	require.NoError(t, err)
	assert.Equal(t, mollie.OnboardingState("needs-data"), ob.Status)
}

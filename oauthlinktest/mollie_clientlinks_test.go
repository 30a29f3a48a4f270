package oauthlinktest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const linkBody = `{"owner":{"email":"anna@shop.example","givenName":"Anna","familyName":"de Vries"},"name":"Anna's Shop","address":{"country":"NL"}}`

func postLink(t *testing.T, m *Mollie, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, m.URL()+"/v2/client-links", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := m.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return resp, out
}

func TestMollieClientLinks(t *testing.T) {
	m := NewMollie(MollieOptions{RedirectURIs: []string{"https://app.example/cb"}})
	defer m.Close()

	t.Run("bearer required", func(t *testing.T) {
		for _, tok := range []string{"", "access_wrong"} {
			resp, body := postLink(t, m, tok, linkBody)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			assert.Equal(t, float64(401), body["status"])
		}
	})
	t.Run("422 names the field", func(t *testing.T) {
		cases := map[string]string{
			`{"name":"x","address":{"country":"NL"}}`:                         "owner",
			strings.Replace(linkBody, `"NL"`, `"nl"`, 1):                      "address.country",
			strings.Replace(linkBody, `"name":"Anna's Shop",`, "", 1):         "name",
			strings.Replace(linkBody, `anna@shop.example`, `not-an-email`, 1): "owner.email",
		}
		for body, field := range cases {
			resp, out := postLink(t, m, DefaultOrganizationToken, body)
			assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, body)
			assert.Equal(t, field, out["field"], body)
			assert.Equal(t, "application/hal+json", resp.Header.Get("Content-Type"))
		}
	})
	t.Run("201 and the link page behaves like authorize", func(t *testing.T) {
		resp, out := postLink(t, m, DefaultOrganizationToken, linkBody)
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		id := out["id"].(string)
		assert.True(t, strings.HasPrefix(id, "cl_"))
		href := out["_links"].(map[string]any)["clientLink"].(map[string]any)["href"].(string)
		assert.Contains(t, href, "?", "the href already carries a query")

		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		bad, err := client.Get(href + "&client_id=" + m.ClientID() + "&state=state-1234&scope=onboarding.read&redirect_uri=" + url.QueryEscape("https://evil.example/cb"))
		require.NoError(t, err)
		bad.Body.Close()
		assert.Equal(t, http.StatusBadRequest, bad.StatusCode, "a redirect_uri is refused")

		ok, err := client.Get(href + "&client_id=" + m.ClientID() + "&state=state-1234&scope=onboarding.read%20organizations.read")
		require.NoError(t, err)
		ok.Body.Close()
		require.Equal(t, http.StatusFound, ok.StatusCode)
		loc, _ := url.Parse(ok.Header.Get("Location"))
		assert.Equal(t, "app.example", loc.Host)
		assert.Equal(t, "state-1234", loc.Query().Get("state"))
		assert.NotEmpty(t, loc.Query().Get("code"))
		links := m.ClientLinks()
		require.Len(t, links, 1)
		assert.Equal(t, links[0].AccountID, m.LastAuthorize().AccountID)
		assert.Equal(t, "Anna's Shop", links[0].Name)
	})
	t.Run("unknown link", func(t *testing.T) {
		resp, err := m.Client().Get(m.URL() + "/dashboard/client-link/cl_nope?client_id=" + m.ClientID() + "&state=state-1234&scope=onboarding.read")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		req, _ := http.NewRequest(http.MethodGet, m.URL()+"/v2/client-links/cl_nope", nil)
		req.Header.Set("Authorization", "Bearer "+DefaultOrganizationToken)
		r2, err := m.Client().Do(req)
		require.NoError(t, err)
		r2.Body.Close()
		assert.Equal(t, http.StatusNotFound, r2.StatusCode)
	})
	t.Run("429 by fault", func(t *testing.T) {
		m.Fault(EndpointAPI, Fault{Status: 429, RetryAfter: "3", ContentType: "application/hal+json", Body: `{"status":429,"title":"Too Many Requests","detail":"slow down"}`})
		req, _ := http.NewRequest(http.MethodPost, m.URL()+"/v2/client-links", bytes.NewReader([]byte(linkBody)))
		req.Header.Set("Authorization", "Bearer "+DefaultOrganizationToken)
		resp, err := m.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		assert.Equal(t, "3", resp.Header.Get("Retry-After"))
	})
}

// TestMollieBrowserHost: links meant for a browser name BrowserHost (with
// the fake's port); API links keep the fake's own address.
func TestMollieBrowserHost(t *testing.T) {
	m := NewMollie(MollieOptions{RedirectURIs: []string{"https://app.example/cb"}, BrowserHost: "localhost"})
	defer m.Close()
	own, err := url.Parse(m.URL())
	require.NoError(t, err)
	resp, out := postLink(t, m, DefaultOrganizationToken, linkBody)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	links := out["_links"].(map[string]any)
	page, err := url.Parse(links["clientLink"].(map[string]any)["href"].(string))
	require.NoError(t, err)
	assert.Equal(t, "localhost", page.Hostname())
	assert.Equal(t, own.Port(), page.Port())
	assert.Equal(t, "/dashboard/client-link/"+out["id"].(string), page.Path)
	self, err := url.Parse(links["self"].(map[string]any)["href"].(string))
	require.NoError(t, err)
	assert.Equal(t, own.Host, self.Host, "API links are for the server, not the browser")
}

package main

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/oauthlinktest"
)

// TestOrganizationAPI: GET /api/{provider}/organization relays the
// provider's answer byte for byte, and answers the provider's failures with
// the documented statuses and JSON.
func TestOrganizationAPI(t *testing.T) {
	d := startDemo(t, nil)
	b := newBrowser(t)
	b.login(d, "gil")
	b.connect(d, "qonto")
	b.connect(d, "mollie")

	for _, provider := range []string{"mollie", "qonto"} {
		conn, err := d.store0().Load(t.Context(), provider, "gil")
		require.NoError(t, err)
		api := map[string]string{"mollie": d.fakeMollie.APIURL() + "/v2/organizations/me", "qonto": d.fakeQonto.APIURL() + "/v2/organization"}[provider]
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, api, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+conn.AccessToken.Reveal())
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		direct, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		p := b.getJSON(d.URL+"/api/"+provider+"/organization", &map[string]any{})
		assert.Equal(t, http.StatusOK, p.Status)
		assert.Equal(t, string(direct), p.Body, "the provider's JSON as it came")
		assert.Equal(t, "no-store", p.Header.Get("Cache-Control"))
	}

	tests := []struct {
		name     string
		provider string
		faults   map[oauthlinktest.Endpoint]oauthlinktest.Fault
		status   int
		body     string
	}{
		{"provider error", "qonto", map[oauthlinktest.Endpoint]oauthlinktest.Fault{oauthlinktest.EndpointAPI: {Status: 500, Body: "oops"}},
			502, `{"error":"provider_error","provider":"qonto","provider_status":500}`},
		{"throttled", "mollie", map[oauthlinktest.Endpoint]oauthlinktest.Fault{oauthlinktest.EndpointAPI: {Status: 429, RetryAfter: "3"}},
			502, `{"error":"provider_error","provider":"mollie","provider_status":429}`},
		{"not JSON", "qonto", map[oauthlinktest.Endpoint]oauthlinktest.Fault{oauthlinktest.EndpointAPI: {Status: 200, Body: "<html>login</html>"}},
			502, `{"error":"provider_malformed","provider":"qonto"}`},
		{"401 and a refused refresh", "qonto", map[oauthlinktest.Endpoint]oauthlinktest.Fault{
			oauthlinktest.EndpointAPI:   {Status: 401},
			oauthlinktest.EndpointToken: {Status: 400, ContentType: "application/json", Body: `{"error":"invalid_grant"}`},
		}, 401, `{"error":"reauth_required","provider":"qonto"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for e, f := range tt.faults {
				map[string]interface {
					Fault(oauthlinktest.Endpoint, ...oauthlinktest.Fault)
				}{"mollie": d.fakeMollie, "qonto": d.fakeQonto}[tt.provider].Fault(e, f)
			}
			p := b.getJSON(d.URL+"/api/"+tt.provider+"/organization", &map[string]any{})
			assert.Equal(t, tt.status, p.Status)
			assert.Equal(t, tt.body+"\n", p.Body)
		})
	}
}

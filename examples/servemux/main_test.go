package main

import (
	"crypto/rand"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/oauthlink/oauthlink/examples/internal/exampleapp"
	"github.com/oauthlink/oauthlink/examples/internal/flowtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFlows runs each provider's whole flow on the ServeMux against the
// fakes: start, consent, callback, the dashboard, disconnect, and a
// cross-site POST refused.
func TestFlows(t *testing.T) {
	var fakes *exampleapp.Fakes
	b := flowtest.Serve(t, func(public string) (http.Handler, error) {
		fakes = exampleapp.StartFakes(public)
		t.Cleanup(fakes.Close)
		m, q := fakes.Mollie, fakes.Qonto
		secret := make([]byte, 32)
		rand.Read(secret)
		return newMux(public, secret, []provider{
			{"mollie", m.Provider(), m.ClientID(), m.ClientSecret(), m.URL()},
			{"qonto", q.Provider(), q.ClientID(), q.ClientSecret(), q.URL()},
		})
	})

	for _, tc := range []struct {
		name string
		fake flowtest.Fake
	}{{"mollie", fakes.Mollie}, {"qonto", fakes.Qonto}} {
		t.Run(tc.name, func(t *testing.T) {
			b.Connect(t, tc.name, tc.fake)
			body, err := io.ReadAll(b.Send(t, http.MethodGet, "/").Body)
			require.NoError(t, err)
			assert.Regexp(t, "<td>"+tc.name+"</td><td>active \\(token until", string(body))

			resp := b.Send(t, http.MethodPost, "/connect/"+tc.name+"/disconnect", "Sec-Fetch-Site", "cross-site")
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "cross-site POST refused")
			resp = b.Send(t, http.MethodPost, "/connect/"+tc.name+"/disconnect", "Sec-Fetch-Site", "same-origin")
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
		})
	}
	assert.Equal(t, 1, fakes.Mollie.Exchanges())
	assert.Equal(t, 1, fakes.Qonto.Exchanges())
	assert.Equal(t, 1, fakes.Mollie.Revocations())
	assert.Equal(t, 1, fakes.Qonto.Revocations())
}

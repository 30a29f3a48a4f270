package main

import (
	"crypto/rand"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/oauthlink/oauthlink/examples/internal/exampleapp"
	"github.com/oauthlink/oauthlink/examples/internal/flowtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFlows runs on the ServeMux the flows every example runs (Require's
// redirect, start, consent, callback, the account on the home page, the
// Require-protected API route, disconnect), then checks that a
// cross-site POST is refused.
func TestFlows(t *testing.T) {
	var fakes *exampleapp.Fakes
	b := flowtest.Serve(t, func(public string) (http.Handler, error) {
		fakes = exampleapp.StartFakes(public)
		t.Cleanup(fakes.Close)
		m, q := fakes.Mollie, fakes.Qonto
		secret, tokenKey := make([]byte, 32), make([]byte, 32)
		rand.Read(secret)
		rand.Read(tokenKey)
		return newMux(public, secret, tokenKey, []provider{
			{"mollie", m.Provider(), m.ClientID(), m.ClientSecret(), m.URL(), m.Client()},
			{"qonto", q.Provider(), q.ClientID(), q.ClientSecret(), q.URL(), q.Client()},
		})
	})
	flowtest.Flows(t, b, []flowtest.Provider{{Name: "mollie", Fake: fakes.Mollie}, {Name: "qonto", Fake: fakes.Qonto}})

	b.Connect(t, "qonto", fakes.Qonto)
	resp := b.Send(t, http.MethodPost, "/connect/qonto/disconnect", "Sec-Fetch-Site", "cross-site")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "cross-site POST refused")
	resp = b.Send(t, http.MethodPost, "/connect/qonto/disconnect", "Sec-Fetch-Site", "same-origin")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, 1, fakes.Mollie.Exchanges())
	assert.Equal(t, 2, fakes.Qonto.Exchanges())
	assert.Equal(t, 1, fakes.Mollie.Revocations())
	assert.Equal(t, 2, fakes.Qonto.Revocations())
}

// TestLoadTokenKey: a key must be the base64 of 32 bytes; none makes a
// random one.
func TestLoadTokenKey(t *testing.T) {
	k, err := loadTokenKey("")
	assert.NoError(t, err)
	assert.Len(t, k, 32)
	_, err = loadTokenKey("c2hvcnQ=")
	assert.Error(t, err)
	_, err = loadTokenKey("not base64!")
	assert.Error(t, err)
}

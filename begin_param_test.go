package oauthlink_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
)

// A per-request authorization parameter is sent at most once (RFC 6749
// §3.1): several values for one name are refused, naming it.
func TestBeginRefusesRepeatedParam(t *testing.T) {
	e := newEnv(t)
	link := e.links["qonto"]
	req := httptest.NewRequest(http.MethodGet, "https://app.example/connect/qonto", nil)
	req.AddCookie(&http.Cookie{Name: "user", Value: "shop-1"})
	rec := httptest.NewRecorder()
	_, err := link.Begin(rec, req, oauthlink.BeginOptions{Params: url.Values{"organization_id": {"a", "b"}}})
	var pe *oauthlink.ParamError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "organization_id", pe.Param)
	assert.ErrorIs(t, err, oauthlink.ErrBadRequest)
	assert.Empty(t, rec.Result().Cookies(), "no flow started")
}

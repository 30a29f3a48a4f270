package oauthlink_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
)

// A TokenKey on its own (not inside a Config) never prints its key bytes.
func TestTokenKeyRedacts(t *testing.T) {
	key := bytes.Repeat([]byte{0xAB}, 32)
	k := oauthlink.TokenKey{ID: "k1", Key: key}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		out = append(out, fmt.Sprintf(verb, k), fmt.Sprintf(verb, &k), fmt.Sprintf(verb, []oauthlink.TokenKey{k}))
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("key", "k", k)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("key", "k", k)
	out = append(out, logs.String())
	b, err := json.Marshal(k)
	require.NoError(t, err)
	out = append(out, string(b))
	for _, o := range out {
		assert.NotContains(t, o, hex.EncodeToString(key)[:16])
		assert.NotContains(t, o, "171 171 171", "decimal bytes")
		assert.NotContains(t, o, "0xab, 0xab")
		assert.NotContains(t, o, "q6ur", "base64")
		assert.NotContains(t, o, "\xab\xab\xab")
	}
	assert.Contains(t, fmt.Sprint(k), "k1", "the ID is shown")
}

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

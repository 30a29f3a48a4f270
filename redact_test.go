package oauthlink_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthlink/oauthlink/store"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store/encrypted"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// Canary secrets: each must never appear, in any encoding, in what the
// library prints, logs or marshals.
const (
	canaryClientID     = "app_visible_client_id" // not a secret: shows the output is not empty
	canaryClientSecret = "CANARY-client-secret-4f1e"
	canaryCookieSecret = "CANARY-cookie-secret-0123456789abcdef"
	canaryTokenKey     = "CANARY-token-key-0123456789abcde" // 32 bytes
	canaryStaging      = "CANARY-staging-token-9a7c"
)

// encodings lists s the ways fmt, slog and encoding/json could render its
// bytes: as text, hex (either case, spaced), base64, and as fmt prints a
// []byte with %v/%d and %#v.
func encodings(s string) []string {
	b := []byte(s)
	dec := make([]string, len(b))
	goHex := make([]string, len(b))
	for i, c := range b {
		dec[i] = fmt.Sprint(c)
		goHex[i] = fmt.Sprintf("%#x", c)
	}
	return []string{
		s,
		hex.EncodeToString(b),
		strings.ToUpper(hex.EncodeToString(b)),
		fmt.Sprintf("% x", b),
		base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		strings.Join(dec, " "),
		strings.Join(goHex, ", "),
	}
}

// assertNoSecret fails when out holds any canary in any encoding, or the
// Basic credentials built from them.
func assertNoSecret(t *testing.T, what, out string) {
	t.Helper()
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(canaryClientID) + ":" + url.QueryEscape(canaryClientSecret)))
	forbidden := []string{basic}
	for _, s := range []string{canaryClientSecret, canaryCookieSecret, canaryTokenKey, canaryStaging} {
		forbidden = append(forbidden, encodings(s)...)
	}
	for _, f := range forbidden {
		if strings.Contains(out, f) {
			t.Errorf("%s reveals a secret (%q) in:\n%s", what, f, out)
		}
	}
	if strings.Contains(out, "CANARY") {
		t.Errorf("%s reveals part of a secret in:\n%s", what, out)
	}
}

// canaryConfig is a Config holding every kind of secret a Config holds,
// for a Basic-auth provider (whose Connector precomputes the credentials
// header) with a credential in its headers.
func canaryConfig() oauthlink.Config {
	return oauthlink.Config{
		Provider: oauthlink.Provider{
			Name: "canary", AuthURL: "https://provider.example/auth", TokenURL: "https://provider.example/token",
			APIURL: "https://api.provider.example", AuthStyle: oauthlink.AuthStyleBasic,
			Header: http.Header{"X-Staging-Token": {canaryStaging}},
		},
		ClientID: canaryClientID, ClientSecret: canaryClientSecret, RedirectURL: "https://app.example/cb",
		Store:         canaryStore(),
		Owner:         func(*http.Request) (string, error) { return "shop-1", nil },
		CookieSecrets: [][]byte{[]byte(canaryCookieSecret)},
		Logger:        slog.New(slog.DiscardHandler),
	}
}

// Config, Connector and Provider redact every secret they hold in fmt
// (every verb), log/slog (text and JSON handlers) and encoding/json.
func TestConfigAndConnectorRedactSecrets(t *testing.T) {
	cfg := canaryConfig()
	link, err := oauthlink.New(cfg)
	require.NoError(t, err)

	values := map[string]any{
		"Config":         cfg,
		"*Config":        &cfg,
		"*Connector":     link,
		"Provider":       cfg.Provider,
		"struct{Config}": struct{ C oauthlink.Config }{cfg},
		"[]Config":       []oauthlink.Config{cfg},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			for _, verb := range verbs {
				out := fmt.Sprintf(verb, v)
				assertNoSecret(t, name+" with "+verb, out)
			}
			for _, verb := range []string{"%v", "%+v", "%s"} {
				assert.Contains(t, fmt.Sprintf(verb, v), "X-Staging-Token", "header names stay visible")
			}
			if name != "Provider" {
				assert.Contains(t, fmt.Sprintf("%+v", v), canaryClientID, "the description is not empty")
				assert.Contains(t, fmt.Sprintf("%+v", v), "[redacted]")
			}

			var text, js bytes.Buffer
			slog.New(slog.NewTextHandler(&text, nil)).Info("configured", "value", v)
			slog.New(slog.NewJSONHandler(&js, nil)).Info("configured", "value", v)
			assertNoSecret(t, name+" in slog text", text.String())
			assertNoSecret(t, name+" in slog JSON", js.String())
			assert.Contains(t, text.String(), "provider.example")
			assert.Contains(t, js.String(), "provider.example")

			raw, err := json.Marshal(v)
			require.NoError(t, err, "json.Marshal")
			assertNoSecret(t, name+" in JSON", string(raw))
			assert.True(t, json.Valid(raw))
		})
	}
}

// A Provider's JSON keeps encoding/json's shape, field for field, with the
// header values redacted.
func TestProviderJSONShape(t *testing.T) {
	p := canaryConfig().Provider
	raw, err := json.Marshal(p)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(raw, &got))
	assert.Equal(t, "canary", got["Name"])
	assert.Equal(t, "https://provider.example/token", got["TokenURL"])
	assert.Equal(t, map[string]any{"X-Staging-Token": []any{"[redacted]"}}, got["Header"])
	assert.EqualValues(t, oauthlink.AuthStyleBasic, got["AuthStyle"])
}

// canaryStore encrypts with a canary key, so the Store's description is
// checked not to reveal it either.
func canaryStore() store.TokenStore {
	s, err := encrypted.New(memstore.New(), encrypted.Options{Keys: []encrypted.Key{{ID: "k1", Key: []byte(canaryTokenKey)}}})
	if err != nil {
		panic(err)
	}
	return s
}

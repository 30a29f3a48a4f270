package oauthlink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// refreshCanary is a refresh token no handed-out token may carry.
const refreshCanary = "rt-CANARY-refresh-token"

// storedConnector is a Connector with one fresh connection for shop-1 whose
// refresh token is refreshCanary and whose token response carried an
// id_token and another extra field.
func storedConnector(t *testing.T) (*oauthlink.Connector, *oauthlink.Connection, store.TokenStore) {
	t.Helper()
	st := memstore.New()
	now := time.Now()
	conn := &oauthlink.Connection{
		Provider: "p", Owner: "shop-1", AccessToken: "at-1", RefreshToken: refreshCanary,
		TokenType: "Bearer", Expiry: now.Add(time.Hour).Round(time.Second), Status: store.StatusActive,
		Extra:     `{"id_token":"eyJhbGciOiJub25lIn0.eyJzdWIiOiJzaG9wLTEifQ.","organization":{"id":"org_1"}}`,
		CreatedAt: now, UpdatedAt: now,
	}
	require.NoError(t, st.Save(context.Background(), conn))
	cfg := validConfig()
	cfg.Store = st
	link, err := oauthlink.New(cfg)
	require.NoError(t, err)
	return link, conn, st
}

// assertHandedOut checks a token handed out by the library: the access
// token, type, expiry and extra fields, and no refresh token anywhere in
// it.
func assertHandedOut(t *testing.T, tok *oauth2.Token, conn *oauthlink.Connection) {
	t.Helper()
	require.NotNil(t, tok)
	assert.Equal(t, conn.AccessToken.Reveal(), tok.AccessToken)
	assert.Equal(t, "Bearer", tok.TokenType)
	assert.True(t, conn.Expiry.Equal(tok.Expiry), "expiry %s, want %s", tok.Expiry, conn.Expiry)
	assert.Empty(t, tok.RefreshToken, "the refresh token stays inside oauthlink")
	assert.Equal(t, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJzaG9wLTEifQ.", tok.Extra("id_token"), "id_token kept")
	assert.Equal(t, map[string]any{"id": "org_1"}, tok.Extra("organization"))
	assert.Nil(t, tok.Extra("refresh_token"))
	assert.NotContains(t, fmt.Sprintf("%#v", tok), refreshCanary)
	raw, err := json.Marshal(tok)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), refreshCanary)
}

// Every *oauth2.Token the library hands out (Connection.OAuth2Token,
// Connector.Connection, ConnectionFromContext) carries the access
// token, its expiry and Extra, never the refresh token.
func TestHandedOutTokensCarryNoRefreshToken(t *testing.T) {
	link, conn, st := storedConnector(t)
	t.Run("Connection.OAuth2Token", func(t *testing.T) {
		assertHandedOut(t, conn.OAuth2Token(), conn)
	})
	t.Run("Connector.Connection", func(t *testing.T) {
		got, err := link.Connection(context.Background(), "shop-1")
		require.NoError(t, err)
		assertHandedOut(t, got.OAuth2Token(), conn)
	})
	t.Run("ConnectionFromContext", func(t *testing.T) {
		var tok *oauth2.Token
		var terr error
		h := link.LoadConnection(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var got *oauthlink.Connection
			if got, terr = oauthlink.ConnectionFromContext(r.Context(), "p"); terr == nil {
				tok = got.OAuth2Token()
			}
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		require.NoError(t, terr)
		assertHandedOut(t, tok, conn)
	})
	t.Run("the stored connection keeps its refresh token", func(t *testing.T) {
		stored, err := st.Load(context.Background(), "p", "shop-1")
		require.NoError(t, err)
		assert.Equal(t, refreshCanary, stored.RefreshToken.Reveal())
	})
	t.Run("a connection without extra fields", func(t *testing.T) {
		c := conn.Clone()
		c.Extra = ""
		tok := c.OAuth2Token()
		assert.Equal(t, "at-1", tok.AccessToken)
		assert.Empty(t, tok.RefreshToken)
		assert.Nil(t, tok.Extra("id_token"))
	})
}

// Against the fake Qonto, end to end: the id_token of the exchange reaches
// the handed-out token, and Connection refreshes past expiry (the
// refresh token is used inside the library) while handing out none.
func TestConnectionRefreshesWithoutHandingOutRefreshToken(t *testing.T) {
	e := newEnv(t, withConfig(func(c *oauthlink.Config) {
		if c.Provider.Name == "qonto" {
			c.Scopes = []string{"organization.read", "openid"}
		}
	}))
	conn := e.connected("qonto", "shop-1")
	require.NotEmpty(t, conn.RefreshToken.Reveal())
	token := func() (*oauth2.Token, error) {
		c, err := e.links["qonto"].Connection(context.Background(), "shop-1")
		if err != nil {
			return nil, err
		}
		return c.OAuth2Token(), nil
	}
	tok, err := token()
	require.NoError(t, err)
	assert.Empty(t, tok.RefreshToken)
	idToken, _ := tok.Extra("id_token").(string)
	assert.NotEmpty(t, idToken, "the exchange's id_token is handed out")

	e.clk.Advance(2 * time.Hour)
	tok2, err := token()
	require.NoError(t, err)
	assert.Equal(t, 1, e.qonto.Refreshes())
	assert.NotEqual(t, tok.AccessToken, tok2.AccessToken)
	assert.Empty(t, tok2.RefreshToken)
	assert.NotContains(t, fmt.Sprintf("%#v", tok2), conn.RefreshToken.Reveal())
	stored, err := e.load("qonto", "shop-1")
	require.NoError(t, err)
	assert.NotEmpty(t, stored.RefreshToken.Reveal(), "the library keeps the rotated refresh token")
	assert.NotContains(t, fmt.Sprintf("%#v", tok2), stored.RefreshToken.Reveal())
}

package discovery_test

import (
	"bytes"
	"log/slog"
	"net/http"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// testConfig is a Connector configuration for p whose server-side calls
// go through client.
func testConfig(p oauthlink.Provider, client *http.Client) oauthlink.Config {
	return oauthlink.Config{
		Provider: p, ClientID: "client", ClientSecret: "secret",
		RedirectURL:   "https://app.example/callback",
		Store:         memstore.New(),
		CookieSecrets: [][]byte{bytes.Repeat([]byte{7}, 32)},
		Owner:         func(*http.Request) (string, error) { return "shop-1", nil },
		HTTPClient:    client,
		Logger:        slog.New(slog.DiscardHandler),
	}
}

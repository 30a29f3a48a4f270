package oauthlinkotel_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/mollie"
	oauthlinkotel "github.com/oauthlink/oauthlink/otel"
)

// Wire a Telemetry into a Connector's Config: its transport for the
// provider calls, its OnEvent chained with the app's own hook.
func ExampleNew() {
	provider := mollie.Provider()
	tel, err := oauthlinkotel.New(otel.GetMeterProvider(), otel.GetTracerProvider(),
		oauthlinkotel.Options{Provider: provider})
	if err != nil {
		log.Fatal(err)
	}
	cfg := oauthlink.Config{
		Provider:   provider,
		HTTPClient: &http.Client{Transport: tel.Transport(nil), Timeout: 30 * time.Second},
		Hooks: oauthlink.Hooks{OnEvent: oauthlinkotel.Chain(tel.OnEvent, func(ctx context.Context, e oauthlink.Event) {
			// the app's own handling
		})},
		// ClientID, ClientSecret, RedirectURL, Store, Owner, CookieSecrets...
	}
	_ = cfg
}

// Command chi mounts oauthlink on github.com/go-chi/chi/v5: the start,
// callback and disconnect handlers of each provider in a r.Route block,
// and Require as group middleware in front of a route that calls the
// provider's API. It runs against the fake Mollie and Qonto servers from
// oauthlinktest (click Approve on their consent pages):
//
//	go run ./examples/chi
//
// The providers, their Connectors (oauthlink.New with the Config in
// exampleapp's App.connector: tokens encrypted at rest with store/encrypted,
// the merchant's organization recorded by the presets' Identify) and the
// pages come from examples/internal/exampleapp, shared with the gorilla/mux
// example; examples/servemux mounts the same handlers in one file.
//
// It listens on OAUTHLINK_ADDR (default 127.0.0.1:8080, as the demo and
// the other examples: set OAUTHLINK_ADDR=127.0.0.1:8081 to run it beside
// them). The demo mounts the same handlers under its own documented
// routes (its disconnect is POST /connections/{provider}/disconnect).
package main

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/oauthlink/oauthlink/examples/internal/exampleapp"
)

func main() { exampleapp.Run("chi", newRouter) }

// newRouter mounts each provider's Connector on a chi router.
func newRouter(app *exampleapp.App) http.Handler {
	r := chi.NewRouter()
	r.Use(http.NewCrossOriginProtection().Handler) // POSTs from other sites are refused
	for _, p := range app.Providers {
		r.Route("/connect/"+p.Name, func(r chi.Router) {
			r.Method(http.MethodGet, "/", p.Connector.StartHandler())
			r.Method(http.MethodGet, "/callback", p.Connector.CallbackHandler())
			r.Method(http.MethodPost, "/disconnect", p.Connector.DisconnectHandler())
		})
		r.Group(func(r chi.Router) {
			// Require: 303 to the start handler for pages, 401 JSON for APIs.
			r.Use(p.Connector.RequireConnection("/connect/" + p.Name))
			r.Get("/"+p.Name+"/organization", p.Organization())
		})
	}
	r.Get("/", app.Home("chi"))
	return r
}

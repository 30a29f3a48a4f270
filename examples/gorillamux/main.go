// Command gorillamux mounts oauthlink on github.com/gorilla/mux: the
// start, callback and disconnect handlers of each provider as routes with
// Methods, and Require as the middleware of a subrouter whose route calls
// the provider's API. It runs against the fake Mollie and Qonto servers
// from oauthlinktest (click Approve on their consent pages):
//
//	go run ./examples/gorillamux
//
// The providers, their Connectors (oauthlink.New with the Config in
// exampleapp's App.connector: tokens encrypted at rest with store/encrypted,
// the merchant's organization recorded by the presets' Identify) and the
// pages come from examples/internal/exampleapp, shared with the chi
// example; examples/servemux mounts the same handlers in one file.
//
// It listens on OAUTHLINK_ADDR (default 127.0.0.1:8080, as the demo and
// the other examples: set OAUTHLINK_ADDR=127.0.0.1:8081 to run it beside
// them). The demo mounts the same handlers under its own documented
// routes (its disconnect is POST /connections/{provider}/disconnect).
package main

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/oauthlink/oauthlink/examples/internal/exampleapp"
)

func main() { exampleapp.Run("gorilla/mux", newRouter) }

// newRouter mounts each provider's Connector on a gorilla/mux router.
func newRouter(app *exampleapp.App) http.Handler {
	r := mux.NewRouter()
	r.Use(http.NewCrossOriginProtection().Handler) // POSTs from other sites are refused
	for _, p := range app.Providers {
		r.Handle("/connect/"+p.Name, p.Connector.StartHandler()).Methods(http.MethodGet)
		r.Handle("/connect/"+p.Name+"/callback", p.Connector.CallbackHandler()).Methods(http.MethodGet)
		r.Handle("/connect/"+p.Name+"/disconnect", p.Connector.DisconnectHandler()).Methods(http.MethodPost)
		api := r.PathPrefix("/" + p.Name).Subrouter()
		// Require: 303 to the start handler for pages, 401 JSON for APIs.
		api.Use(p.Connector.RequireConnection("/connect/" + p.Name))
		api.HandleFunc("/organization", p.Organization()).Methods(http.MethodGet)
	}
	r.HandleFunc("/", app.Home("gorilla/mux")).Methods(http.MethodGet)
	return r
}

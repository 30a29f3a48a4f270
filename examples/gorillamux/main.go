// Command gorillamux mounts oauthlink on github.com/gorilla/mux: the
// start, callback and disconnect handlers of each provider as routes with
// Methods, and Require as the middleware of a subrouter whose route calls
// the provider's API. It runs against the fake Mollie and Qonto servers
// from oauthlinktest (click Approve on their consent pages):
//
//	go run ./examples/gorillamux
package main

import (
	"cmp"
	"crypto/rand"
	"fmt"
	"html/template"
	"io"
	"log"
	"net/http"
	"os"

	"github.com/gorilla/mux"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// provider is one provider's descriptor, credentials and the API path that
// returns the connected organization.
type provider struct {
	oauthlink.Provider
	ClientID, ClientSecret, OrgPath string
}

func main() {
	addr := cmp.Or(os.Getenv("OAUTHLINK_ADDR"), "127.0.0.1:8080")
	public := "http://" + addr
	m := oauthlinktest.NewMollie(oauthlinktest.MollieOptions{ConsentPage: true, RedirectURIs: []string{public + "/connect/mollie/callback"}})
	defer m.Close()
	q := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{ConsentPage: true, RedirectURIs: []string{public + "/connect/qonto/callback"}})
	defer q.Close()
	secret, tokenKey := make([]byte, 32), make([]byte, 32) // flow cookies; tokens at rest
	rand.Read(secret)
	rand.Read(tokenKey)
	h, err := newRouter(public, memstore.New(), secret, tokenKey,
		provider{m.Provider(), m.ClientID(), m.ClientSecret(), "/v2/organizations/me"},
		provider{q.Provider(), q.ClientID(), q.ClientSecret(), "/v2/organization"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("gorilla/mux example on", public)
	log.Fatal(http.ListenAndServe(addr, h))
}

// owner stands in for the app's login: a real app returns its signed-in user.
func owner(*http.Request) (string, error) { return "demo-user", nil }

func newRouter(public string, st store.TokenStore, secret, tokenKey []byte, providers ...provider) (http.Handler, error) {
	r := mux.NewRouter()
	r.Use(http.NewCrossOriginProtection().Handler) // POSTs from other sites are refused
	for _, p := range providers {
		link, err := oauthlink.New(oauthlink.Config{
			Provider: p.Provider, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			RedirectURL: public + "/connect/" + p.Name + "/callback",
			Store:       st, CookieSecrets: [][]byte{secret},
			AllowInsecureHTTP: true, // plain http on loopback: development only
			Owner:             owner,
		})
		if err != nil {
			return nil, err
		}
		r.Handle("/connect/"+p.Name, link.StartHandler()).Methods(http.MethodGet)
		r.Handle("/connect/"+p.Name+"/callback", link.CallbackHandler()).Methods(http.MethodGet)
		r.Handle("/connect/"+p.Name+"/disconnect", link.DisconnectHandler()).Methods(http.MethodPost)
		api := r.PathPrefix("/" + p.Name).Subrouter()
		// Require: 303 to the start handler for pages, 401 JSON for APIs.
		api.Use(link.RequireConnection("/connect/" + p.Name))
		api.HandleFunc("/organization", organization(link, p)).Methods(http.MethodGet)
	}
	r.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		conns, err := st.List(r.Context(), "demo-user")
		if err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		home.Execute(w, map[string]any{"Providers": providers, "Conns": conns})
	}).Methods(http.MethodGet)
	return r, nil
}

// organization relays the provider's organization JSON, fetched with the
// connection Require loaded, through Connector.Client (fresh bearer token,
// sent only to the provider's API host).
func organization(link *oauthlink.Connector, p provider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, _ := oauthlink.ConnectionFromContext(r.Context(), p.Name) // Require let us in
		resp, err := link.Client(conn.Owner).Get(p.APIURL + p.OrgPath)
		if err != nil {
			http.Error(w, "provider unreachable", http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, io.LimitReader(resp.Body, 1<<20))
	}
}

var home = template.Must(template.New("home").Parse(`<!doctype html><title>oauthlink on gorilla/mux</title>
<h1>Connections of demo-user</h1><ul>{{range .Conns}}<li>{{.Provider}}: {{.Status}}, account {{.AccountID}}</li>{{end}}</ul>
{{range .Providers}}<p><a href="/connect/{{.Name}}">connect {{.Name}}</a> · <a href="/{{.Name}}/organization">organization</a>
<form method="post" action="/connect/{{.Name}}/disconnect"><button>disconnect {{.Name}}</button></form></p>{{end}}`))

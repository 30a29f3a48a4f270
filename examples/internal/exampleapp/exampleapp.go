// Package exampleapp is the part of the chi and gorilla/mux examples that
// has nothing to do with their router: the fake Mollie and Qonto servers
// they run against, each provider's Connector configuration, the page
// that lists the connections and the route that calls a provider's API.
// The examples themselves show how the Connector's handlers and its
// Require middleware are mounted.
package exampleapp

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"syscall"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/mollie"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/qonto"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// Provider is one provider the app connects to.
type Provider struct {
	Name string
	// Connector runs the provider's connect flow; see App.connector for
	// its configuration.
	Connector *oauthlink.Connector
	// OrgURL is the API URL that returns the connected organization.
	OrgURL string
}

// App is what an example's routes share: its public base URL, the token
// store and the providers.
type App struct {
	// Public is the app's base URL, e.g. "http://127.0.0.1:8080".
	Public    string
	Store     store.TokenStore
	Providers []Provider
	// cookieSecret signs and encrypts the flow cookies; tokenKey encrypts
	// tokens at rest.
	cookieSecret, tokenKey []byte
}

// New returns an app at public, with an in-memory store and fresh random
// keys, that connects to the fakes.
func New(public string, f *Fakes) (*App, error) {
	a := &App{Public: public, Store: memstore.New(), cookieSecret: make([]byte, 32), tokenKey: make([]byte, 32)}
	rand.Read(a.cookieSecret)
	rand.Read(a.tokenKey)
	m, q := f.Mollie, f.Qonto
	for _, p := range []struct {
		desc               oauthlink.Provider
		id, secret, orgURL string
		identify           func(context.Context, *oauthlink.Connection) error
	}{
		{m.Provider(), m.ClientID(), m.ClientSecret(), m.APIURL() + "/v2/organizations/me",
			mollie.Identify(mollie.Client{BaseURL: m.APIURL(), AllowInsecureHTTP: true, HTTPClient: m.Client()})},
		{q.Provider(), q.ClientID(), q.ClientSecret(), q.APIURL() + "/v2/organization",
			qonto.Identify(qonto.Client{BaseURL: q.APIURL(), AllowInsecureHTTP: true, HTTPClient: q.Client()}, q.Provider().Header)},
	} {
		link, err := a.connector(p.desc, p.id, p.secret, p.identify)
		if err != nil {
			return nil, err
		}
		a.Providers = append(a.Providers, Provider{Name: p.desc.Name, Connector: link, OrgURL: p.orgURL})
	}
	return a, nil
}

// owner stands in for the app's login: a real app returns its signed-in
// user.
func owner(*http.Request) (string, error) { return "demo-user", nil }

// connector returns the Connector for a provider; its callback is
// Public/connect/{name}/callback, and identify records the provider's
// account id (Connection.AccountID) when the flow completes.
func (a *App) connector(p oauthlink.Provider, clientID, clientSecret string, identify func(context.Context, *oauthlink.Connection) error) (*oauthlink.Connector, error) {
	// Tokens are encrypted at rest.
	sealed, err := encrypted.New(a.Store, encrypted.Options{Keys: []encrypted.Key{{ID: "k1", Key: a.tokenKey}}})
	if err != nil {
		return nil, err
	}
	return oauthlink.New(oauthlink.Config{
		Provider: p, ClientID: clientID, ClientSecret: clientSecret,
		RedirectURL: a.Public + "/connect/" + p.Name + "/callback",
		Store:       sealed, CookieSecrets: [][]byte{a.cookieSecret},
		AllowInsecureHTTP: true, // plain http on loopback: development only
		Owner:             owner,
		Hooks:             oauthlink.Hooks{Identify: identify},
	})
}

// Organization relays the provider's organization JSON, fetched with the
// connection RequireConnection loaded, through Connector.Client (fresh bearer token,
// sent only to the provider's API host).
func (p Provider) Organization() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, _ := oauthlink.ConnectionFromContext(r.Context(), p.Name) // RequireConnection let us in
		resp, err := p.Connector.Client(conn.Owner).Get(p.OrgURL)
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

// Home lists the demo user's connections, with links to connect, call the
// API and disconnect; router names the example in the page's title.
func (a *App) Home(router string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conns, err := a.Store.List(r.Context(), "demo-user")
		if err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		home.Execute(w, map[string]any{"Router": router, "Providers": a.Providers, "Conns": conns})
	}
}

var home = template.Must(template.New("home").Parse(`<!doctype html><title>oauthlink on {{.Router}}</title>
<h1>Connections of demo-user</h1><ul>{{range .Conns}}<li>{{.Provider}}: {{.Status}}, account {{or .AccountID "unknown"}}</li>{{end}}</ul>
{{range .Providers}}<p><a href="/connect/{{.Name}}">connect {{.Name}}</a> · <a href="/{{.Name}}/organization">organization</a>
<form method="post" action="/connect/{{.Name}}/disconnect"><button>disconnect {{.Name}}</button></form></p>{{end}}`))

// Fakes are the fake providers an example runs against.
type Fakes struct {
	Mollie *oauthlinktest.Mollie
	Qonto  *oauthlinktest.Qonto
}

// StartFakes starts the fake Mollie and Qonto servers, with consent pages
// (click Approve) and the callbacks of an app at public registered.
func StartFakes(public string) *Fakes {
	return &Fakes{
		Mollie: oauthlinktest.NewMollie(oauthlinktest.MollieOptions{ConsentPage: true, RedirectURIs: []string{public + "/connect/mollie/callback"}}),
		Qonto:  oauthlinktest.NewQonto(oauthlinktest.QontoOptions{ConsentPage: true, RedirectURIs: []string{public + "/connect/qonto/callback"}}),
	}
}

// Close shuts both fakes down.
func (f *Fakes) Close() {
	f.Mollie.Close()
	f.Qonto.Close()
}

// Run serves the handler newHandler builds on OAUTHLINK_ADDR (default
// 127.0.0.1:8080), against the fakes, until the server fails; router names
// the example.
func Run(router string, newHandler func(*App) http.Handler) {
	addr := cmp.Or(os.Getenv("OAUTHLINK_ADDR"), "127.0.0.1:8080")
	ln, err := Listen(addr)
	if err != nil {
		log.Fatal(err)
	}
	public := "http://" + addr
	fakes := StartFakes(public)
	defer fakes.Close()
	app, err := New(public, fakes)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(router, "example on", public)
	log.Fatal(http.Serve(ln, newHandler(app)))
}

// Listen listens on addr, and when the port is taken says how to pick
// another: the demo and every example default to 127.0.0.1:8080.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%w\n%s is taken (is the demo or another example running?); "+
			"choose another address with OAUTHLINK_ADDR, e.g. OAUTHLINK_ADDR=127.0.0.1:8081", err, addr)
	}
	return ln, err
}

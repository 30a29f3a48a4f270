// Command servemux is the smallest complete oauthlink app, in one file:
// net/http's ServeMux, an in-memory store with tokens encrypted at rest,
// and both providers. It mounts the same handlers as the chi and
// gorilla/mux examples: for each provider the start handler at
// /connect/{provider}, the callback at /connect/{provider}/callback, the
// disconnect handler at POST /connect/{provider}/disconnect, and
// RequireConnection in front of GET /{provider}/organization, which calls
// the provider's API as the connected merchant. Identify records each
// merchant's organization id, which the home page shows.
//
//	go run ./examples/servemux
//
// Without credentials it runs against the fake Mollie and Qonto servers
// from oauthlinktest (click Approve on their consent pages), so it works
// with zero configuration. Set MOLLIE_CLIENT_ID/MOLLIE_CLIENT_SECRET or
// QONTO_CLIENT_ID/QONTO_CLIENT_SECRET to use the real providers (their
// registered redirect URL must be OAUTHLINK_PUBLIC_URL/connect/{provider}/callback).
//
// It listens on OAUTHLINK_ADDR (default 127.0.0.1:8080, as the demo and
// the other examples: set OAUTHLINK_ADDR=127.0.0.1:8081 to run it beside
// them). OAUTHLINK_TOKEN_KEY (base64 of 32 bytes) is the token key; without
// it a random key is made at start, which is enough for a store that lives
// in memory.
//
// The demo (examples/demo) mounts the same handlers under its own routes
// (its disconnect is POST /connections/{provider}/disconnect), which stay
// as its README documents them because other systems drive it.
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log"
	"log/slog"
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

// provider is one provider's descriptor and credentials; fake is the
// fake's URL when it runs against oauthlinktest, and client the HTTP
// client that reaches it.
type provider struct {
	name   string
	p      oauthlink.Provider
	id     string
	sec    string
	fake   string
	client *http.Client
}

func main() {
	addr := cmp.Or(os.Getenv("OAUTHLINK_ADDR"), "127.0.0.1:8080")
	public := cmp.Or(os.Getenv("OAUTHLINK_PUBLIC_URL"), "http://"+addr)
	secret := make([]byte, 32)
	rand.Read(secret)
	tokenKey, err := loadTokenKey(os.Getenv("OAUTHLINK_TOKEN_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		log.Fatalf("%v\n%s is taken (is the demo or another example running?); choose another address with OAUTHLINK_ADDR, e.g. OAUTHLINK_ADDR=127.0.0.1:8081", err, addr)
	}
	if err != nil {
		log.Fatal(err)
	}
	var providers []provider
	for _, name := range []string{"mollie", "qonto"} {
		pv := provider{name: name, client: http.DefaultClient}
		callback := public + "/connect/" + name + "/callback"
		switch name {
		case "mollie":
			pv.p, pv.id, pv.sec = mollie.Provider(), os.Getenv("MOLLIE_CLIENT_ID"), os.Getenv("MOLLIE_CLIENT_SECRET")
			if pv.id == "" {
				f := oauthlinktest.NewMollie(oauthlinktest.MollieOptions{ConsentPage: true, RedirectURIs: []string{callback}})
				defer f.Close()
				pv.p, pv.id, pv.sec, pv.fake, pv.client = f.Provider(), f.ClientID(), f.ClientSecret(), f.URL(), f.Client()
			}
		case "qonto":
			pv.p, pv.id, pv.sec = qonto.Provider(qonto.Options{}), os.Getenv("QONTO_CLIENT_ID"), os.Getenv("QONTO_CLIENT_SECRET")
			if pv.id == "" {
				f := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{ConsentPage: true, RedirectURIs: []string{callback}})
				defer f.Close()
				pv.p, pv.id, pv.sec, pv.fake, pv.client = f.Provider(), f.ClientID(), f.ClientSecret(), f.URL(), f.Client()
			}
		}
		providers = append(providers, pv)
	}
	h, err := newMux(public, secret, tokenKey, providers)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("oauthlink servemux example on %s\n", public)
	log.Fatal(http.Serve(ln, h))
}

// loadTokenKey decodes OAUTHLINK_TOKEN_KEY, or makes a random key when it
// is empty.
func loadTokenKey(b64 string) ([]byte, error) {
	if b64 == "" {
		key := make([]byte, 32)
		rand.Read(key)
		return key, nil
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) != 32 {
		return nil, errors.New("OAUTHLINK_TOKEN_KEY must be the base64 of 32 bytes")
	}
	return key, nil
}

// newMux mounts every provider's handlers on a ServeMux, behind
// net/http's cross-origin protection, over one encrypted in-memory store.
func newMux(public string, secret, tokenKey []byte, providers []provider) (http.Handler, error) {
	// Tokens are encrypted at rest: wrap whichever store the app uses.
	st, err := encrypted.New(memstore.New(), encrypted.Options{Keys: []encrypted.Key{{ID: "k1", Key: tokenKey}}})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for _, pv := range providers {
		// The fakes serve plain http on loopback; the real APIs are https.
		insecure := pv.fake != ""
		var identify func(context.Context, *oauthlink.Connection) error
		orgURL := pv.p.APIURL
		switch pv.name {
		case "mollie":
			identify = mollie.Identify(mollie.Client{BaseURL: pv.p.APIURL, AllowInsecureHTTP: insecure, HTTPClient: pv.client})
			orgURL += "/v2/organizations/me"
		case "qonto":
			identify = qonto.Identify(qonto.Client{BaseURL: pv.p.APIURL, AllowInsecureHTTP: insecure, HTTPClient: pv.client}, pv.p.Header)
			orgURL += "/v2/organization"
		}
		link, err := oauthlink.New(oauthlink.Config{
			Provider:          pv.p,
			ClientID:          pv.id,
			ClientSecret:      pv.sec,
			RedirectURL:       public + "/connect/" + pv.name + "/callback",
			Store:             st,
			CookieSecrets:     [][]byte{secret},
			AllowInsecureHTTP: public[:5] == "http:" || insecure,
			HTTPClient:        pv.client,
			// A real app returns its logged-in user; this example has one.
			Owner: func(*http.Request) (string, error) { return "demo-user", nil },
			Hooks: oauthlink.Hooks{Identify: identify},
		})
		if err != nil {
			return nil, err
		}
		mux.Handle("GET /connect/"+pv.name, link.StartHandler())
		mux.Handle("GET /connect/"+pv.name+"/callback", link.CallbackHandler())
		mux.Handle("POST /connect/"+pv.name+"/disconnect", link.DisconnectHandler())
		// RequireConnection: 303 to the start handler for pages, 401 JSON
		// for APIs; the handler then calls the API as the merchant.
		mux.Handle("GET /"+pv.name+"/organization", link.RequireConnection("/connect/"+pv.name)(organization(link, pv.name, orgURL)))
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		conns, err := st.List(r.Context(), "demo-user")
		if err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := page.Execute(w, rows(providers, conns)); err != nil {
			slog.Error("render", "error", err)
		}
	})
	return http.NewCrossOriginProtection().Handler(mux), nil
}

// organization relays the provider's organization JSON, fetched through
// the Connector's client (a fresh bearer token, sent only to the API).
func organization(link *oauthlink.Connector, name, orgURL string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _ := oauthlink.ConnectionFromContext(r.Context(), name) // RequireConnection let us in
		resp, err := link.Client(conn.Owner).Get(orgURL)
		if err != nil {
			http.Error(w, "provider unreachable", http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, io.LimitReader(resp.Body, 1<<20))
	})
}

// row is one provider's line on the home page.
type row struct{ Name, Sandbox, Status, Account, Expiry string }

func rows(providers []provider, conns []*store.Connection) []row {
	var out []row
	for _, pv := range providers {
		rw := row{Name: pv.name, Status: "not connected"}
		if pv.fake != "" {
			rw.Sandbox = "sandbox (built-in fake at " + pv.fake + ")"
		}
		for _, c := range conns {
			if c.Provider == pv.name {
				rw.Status, rw.Account, rw.Expiry = string(c.Status), cmp.Or(c.AccountID, "unknown"), c.Expiry.Format("15:04:05")
			}
		}
		out = append(out, rw)
	}
	return out
}

var page = template.Must(template.New("home").Parse(`<!doctype html><title>oauthlink example</title>
<h1>Connections of demo-user</h1><table>
{{range .}}<tr><td>{{.Name}}</td><td>{{.Status}}{{if .Account}}, account {{.Account}}{{end}}{{if .Expiry}} (token until {{.Expiry}}){{end}}</td>
<td><a href="/connect/{{.Name}}">connect</a></td>
<td><a href="/{{.Name}}/organization">organization</a></td>
<td><form method="post" action="/connect/{{.Name}}/disconnect"><button>disconnect</button></form></td>
<td>{{.Sandbox}}</td></tr>{{end}}</table>`))

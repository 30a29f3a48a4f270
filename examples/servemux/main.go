// Command servemux is the smallest complete oauthlink app: net/http's
// ServeMux, an in-memory store, and both providers. Without credentials it
// runs against the fake Mollie and Qonto servers from oauthlinktest (with
// their sandbox consent pages), so `go run ./examples/servemux` works with
// zero configuration. Set MOLLIE_CLIENT_ID/MOLLIE_CLIENT_SECRET or
// QONTO_CLIENT_ID/QONTO_CLIENT_SECRET to use the real providers (their
// registered redirect URL must be PUBLIC_URL/connect/{provider}/callback).
package main

import (
	"cmp"
	"crypto/rand"
	"fmt"
	"html/template"
	"log"
	"log/slog"
	"net/http"
	"os"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/mollie"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/qonto"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// provider is one provider's descriptor and credentials; fake is the
// fake's URL when it runs against oauthlinktest.
type provider struct {
	name string
	p    oauthlink.Provider
	id   string
	sec  string
	fake string
}

func main() {
	addr := cmp.Or(os.Getenv("OAUTHLINK_ADDR"), "127.0.0.1:8080")
	public := cmp.Or(os.Getenv("OAUTHLINK_PUBLIC_URL"), "http://"+addr)
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		log.Fatal(err)
	}
	var providers []provider
	for _, name := range []string{"mollie", "qonto"} {
		pv := provider{name: name}
		callback := public + "/connect/" + name + "/callback"
		switch name {
		case "mollie":
			pv.p, pv.id, pv.sec = mollie.Provider(), os.Getenv("MOLLIE_CLIENT_ID"), os.Getenv("MOLLIE_CLIENT_SECRET")
			if pv.id == "" {
				f := oauthlinktest.NewMollie(oauthlinktest.MollieOptions{ConsentPage: true, RedirectURIs: []string{callback}})
				defer f.Close()
				pv.p, pv.id, pv.sec, pv.fake = f.Provider(), f.ClientID(), f.ClientSecret(), f.URL()
			}
		case "qonto":
			pv.p, pv.id, pv.sec = qonto.Provider(qonto.Options{}), os.Getenv("QONTO_CLIENT_ID"), os.Getenv("QONTO_CLIENT_SECRET")
			if pv.id == "" {
				f := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{ConsentPage: true, RedirectURIs: []string{callback}})
				defer f.Close()
				pv.p, pv.id, pv.sec, pv.fake = f.Provider(), f.ClientID(), f.ClientSecret(), f.URL()
			}
		}
		providers = append(providers, pv)
	}
	h, err := newMux(public, secret, providers)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("oauthlink servemux example on %s\n", public)
	log.Fatal(http.ListenAndServe(addr, h))
}

// newMux mounts every provider's handlers on a ServeMux, behind
// net/http's cross-origin protection.
func newMux(public string, secret []byte, providers []provider) (http.Handler, error) {
	store := memstore.New()
	mux := http.NewServeMux()
	for _, pv := range providers {
		callback := public + "/connect/" + pv.name + "/callback"
		link, err := oauthlink.New(oauthlink.Config{
			Provider:          pv.p,
			ClientID:          pv.id,
			ClientSecret:      pv.sec,
			RedirectURL:       callback,
			Store:             store,
			CookieSecrets:     [][]byte{secret},
			AllowInsecureHTTP: public[:5] == "http:",
			// A real app returns its logged-in user; this example has one.
			Owner: func(*http.Request) (string, error) { return "demo-user", nil },
		})
		if err != nil {
			return nil, err
		}
		mux.Handle("GET /connect/"+pv.name, link.StartHandler())
		mux.Handle("GET /connect/"+pv.name+"/callback", link.CallbackHandler())
		mux.Handle("POST /connect/"+pv.name+"/disconnect", link.DisconnectHandler())
	}

	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		conns, err := store.List(r.Context(), "demo-user")
		if err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		type row struct{ Name, Sandbox, Status, Expiry string }
		var rows []row
		for _, pv := range providers {
			rw := row{Name: pv.name, Status: "not connected"}
			if pv.fake != "" {
				rw.Sandbox = "sandbox (built-in fake at " + pv.fake + ")"
			}
			for _, c := range conns {
				if c.Provider == pv.name {
					rw.Status, rw.Expiry = string(c.Status), c.Expiry.Format("15:04:05")
				}
			}
			rows = append(rows, rw)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := page.Execute(w, rows); err != nil {
			slog.Error("render", "error", err)
		}
	})
	return http.NewCrossOriginProtection().Handler(mux), nil
}

var page = template.Must(template.New("home").Parse(`<!doctype html><title>oauthlink example</title>
<h1>Connections of demo-user</h1><table>
{{range .}}<tr><td>{{.Name}}</td><td>{{.Status}}{{if .Expiry}} (token until {{.Expiry}}){{end}}</td>
<td><a href="/connect/{{.Name}}">connect</a></td>
<td><form method="post" action="/connect/{{.Name}}/disconnect"><button>disconnect</button></form></td>
<td>{{.Sandbox}}</td></tr>{{end}}</table>`))
